package collectors

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/vigil-siem/vigil/collectors/parsers/access"
	"github.com/vigil-siem/vigil/collectors/parsers/apacheerror"
	"github.com/vigil-siem/vigil/collectors/parsers/auditd"
	"github.com/vigil-siem/vigil/collectors/parsers/cloudtrail"
	"github.com/vigil-siem/vigil/collectors/parsers/jsonlines"
	"github.com/vigil-siem/vigil/collectors/parsers/k8saudit"
	"github.com/vigil-siem/vigil/collectors/parsers/sshd"
	"github.com/vigil-siem/vigil/collectors/parsers/suricata"
	"github.com/vigil-siem/vigil/collectors/parsers/syslog"
	"github.com/vigil-siem/vigil/collectors/parsers/windows"
	"github.com/vigil-siem/vigil/collectors/parsers/zeek"
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
		"windows": func(c ParserConfig) (Parser, error) {
			return windows.New(windows.Config{Location: c.Location}), nil
		},
		"cloudtrail": func(ParserConfig) (Parser, error) { return cloudtrail.New(cloudtrail.Config{}), nil },
		"suricata":   func(ParserConfig) (Parser, error) { return suricata.New(suricata.Config{}), nil },
		"zeek":       func(ParserConfig) (Parser, error) { return zeek.New(zeek.Config{}), nil },
		"syslog": func(c ParserConfig) (Parser, error) {
			return syslog.New(syslog.Config{Reference: c.Reference, Location: c.Location}), nil
		},
		"access": func(ParserConfig) (Parser, error) { return access.New(access.Config{}), nil },
		"apacheerror": func(c ParserConfig) (Parser, error) {
			return apacheerror.New(apacheerror.Config{Location: c.Location}), nil
		},
		"auditd":    func(ParserConfig) (Parser, error) { return auditd.New(auditd.Config{}), nil },
		"k8saudit":  func(ParserConfig) (Parser, error) { return k8saudit.New(k8saudit.Config{}), nil },
		"jsonlines": func(ParserConfig) (Parser, error) { return jsonlines.New(jsonlines.Config{}), nil },
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
