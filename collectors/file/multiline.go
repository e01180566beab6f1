package file

import (
	"fmt"
	"regexp"
	"time"
)

// Defaults for the zero values of Multiline.
const (
	DefaultMultilineMaxLines = 500
	DefaultMultilineTimeout  = 5 * time.Second
)

// Multiline joins several lines into one record, as Filebeat's multiline
// settings do (e.g. a Java stack trace: pattern `^[[:space:]]`, match
// after). With an empty Pattern every line is its own record.
type Multiline struct {
	// Pattern is a regular expression (Go RE2 syntax) tested on each line.
	Pattern string `yaml:"pattern"`
	// Negate inverts the test: lines that do NOT match are the ones joined.
	Negate bool `yaml:"negate"`
	// Match is "after" (a joined line belongs to the record before it) or
	// "before" (it belongs to the record after it). Default after.
	Match string `yaml:"match"`
	// MaxLines caps a record (default 500); the next line starts a new
	// record, so nothing is dropped.
	MaxLines int `yaml:"max_lines"`
	// Timeout delivers a record still waiting for lines after this long
	// (default 5s).
	Timeout time.Duration `yaml:"timeout"`
}

func (m Multiline) compile(maxBytes int) (*joiner, error) {
	if m.Pattern == "" {
		return nil, nil
	}
	re, err := regexp.Compile(m.Pattern)
	if err != nil {
		return nil, fmt.Errorf("multiline.pattern: %w", err)
	}
	j := &joiner{re: re, negate: m.Negate, maxLines: m.MaxLines, maxBytes: maxBytes, timeout: m.Timeout}
	switch m.Match {
	case "", "after":
	case "before":
		j.before = true
	default:
		return nil, fmt.Errorf("multiline.match: %q is not after or before", m.Match)
	}
	if m.MaxLines < 0 || m.Timeout < 0 {
		return nil, fmt.Errorf("multiline: max_lines and timeout must not be negative")
	}
	if j.maxLines == 0 {
		j.maxLines = DefaultMultilineMaxLines
	}
	if j.timeout == 0 {
		j.timeout = DefaultMultilineTimeout
	}
	return j, nil
}

// joiner holds the lines of the record being joined.
type joiner struct {
	re       *regexp.Regexp
	negate   bool
	before   bool
	maxLines int
	maxBytes int
	timeout  time.Duration

	buf       []byte
	lines     int
	start     int64 // offset of the first line
	end       int64 // offset past the last line
	truncated bool
	last      time.Time // when the last line was added
}

// add takes one line (data is not kept) and emits the records it completes.
func (j *joiner) add(data []byte, start, end int64, truncated bool, emit func(data []byte, start, end int64, truncated bool)) {
	joins := j.re.Match(data) != j.negate
	if j.before {
		j.append(data, start, end, truncated)
		if !joins || j.lines >= j.maxLines {
			j.flush(emit)
		}
		return
	}
	if !joins || j.lines == 0 {
		j.flush(emit)
	}
	j.append(data, start, end, truncated)
	if j.lines >= j.maxLines {
		j.flush(emit)
	}
}

func (j *joiner) append(data []byte, start, end int64, truncated bool) {
	if j.lines == 0 {
		j.start = start
		j.buf = make([]byte, 0, len(data))
	} else {
		data = append([]byte{'\n'}, data...)
	}
	if room := j.maxBytes - len(j.buf); len(data) > room {
		data = data[:max(room, 0)]
		truncated = true
	}
	j.buf = append(j.buf, data...)
	j.truncated = j.truncated || truncated
	j.end = end
	j.lines++
	j.last = time.Now()
}

// flush emits the pending record, if any.
func (j *joiner) flush(emit func(data []byte, start, end int64, truncated bool)) {
	if j.lines == 0 {
		return
	}
	emit(j.buf, j.start, j.end, j.truncated)
	j.buf, j.lines, j.truncated = nil, 0, false
}

// pending says whether lines wait for their record to complete.
func (j *joiner) pending() bool { return j != nil && j.lines > 0 }

func (j *joiner) reset() {
	if j != nil {
		j.buf, j.lines, j.truncated = nil, 0, false
	}
}
