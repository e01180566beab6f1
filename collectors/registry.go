package collectors

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/vigil-siem/vigil/collectors/parsers/sshd"
)

// ParserConfig is what a parser may need to know about its stream; a parser
// ignores what it has no use for.
type ParserConfig struct {
	// Reference places timestamps that carry no year (BSD syslog): default
	// now; a file input passes the file's modification time.
	Reference time.Time
	// Location is the zone of timestamps without an offset; default UTC.
	Location *time.Location
}

// formats is the list of every log format this binary can parse: format
// name (as written in the configuration) to constructor. One parser is
// made per stream, since parsers may keep per-stream state.
func formats() map[string]func(ParserConfig) (Parser, error) {
	return map[string]func(ParserConfig) (Parser, error){
		FormatAuto: func(c ParserConfig) (Parser, error) { return newAuto(c), nil },
		"sshd": func(c ParserConfig) (Parser, error) {
			return sshd.New(sshd.Config{Reference: c.Reference, Location: c.Location}), nil
		},
	}
}

// Formats returns the names of the known formats, sorted.
func Formats() []string {
	m := formats()
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// NewParser returns a parser for one stream of the named format.
func NewParser(format string, cfg ParserConfig) (Parser, error) {
	mk, ok := formats()[format]
	if !ok {
		return nil, fmt.Errorf("collectors: unknown log format %q (known formats: %s)",
			format, strings.Join(Formats(), ", "))
	}
	p, err := mk(cfg)
	if err != nil {
		return nil, fmt.Errorf("collectors: format %s: %w", format, err)
	}
	return p, nil
}
