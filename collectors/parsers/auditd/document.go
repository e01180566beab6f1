package auditd

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
)

// maxOpen is how many audit events may be open at once: the kernel
// interleaves the records of concurrent events only a little, so an event
// still open after this many newer ones began is complete.
const maxOpen = 16

// maxLine bounds one record line; a longer line is emitted flagged, cut.
const maxLine = 1 << 20

// pending is an audit event whose records are still being read.
type pending struct {
	stamp  string
	offset int64
	recs   []record
	raw    []string
}

// ParseDocument reads a whole audit log and emits one event per audit
// event: the records sharing msg=audit(time:serial) joined, as the
// package documentation describes. An event is emitted at its EOE record,
// when maxOpen newer events have begun, or at the end of the stream. A
// line that is not an audit record is emitted flagged on its own. It
// returns emit's error or a read error.
func (p *Parser) ParseDocument(name string, r io.Reader, emit func(event.Event) error) error {
	br := bufio.NewReaderSize(r, 64*1024)
	var open []*pending
	var off int64
	flush := func(i int) error {
		ev := open[i]
		open = append(open[:i], open[i+1:]...)
		raw := strings.Join(ev.raw, "\n")
		e := parsers.Start(parsers.Source{Name: name, Offset: ev.offset}, []byte(raw), raw)
		fill(e, ev.recs)
		return emit(e)
	}
	for {
		line, err := readLine(br)
		if len(line) > 0 {
			start := off
			off += int64(len(line))
			s := strings.TrimRight(string(line), "\r\n")
			if strings.TrimSpace(s) != "" {
				if err := p.add(name, start, line, s, &open, flush, emit); err != nil {
					return err
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("auditd: read %s at byte %d: %w", name, off, err)
		}
	}
	for len(open) > 0 {
		if err := flush(0); err != nil {
			return err
		}
	}
	return nil
}

// add files one record line into its open event.
func (p *Parser) add(name string, start int64, line []byte, s string, open *[]*pending, flush func(int) error, emit func(event.Event) error) error {
	r, reason := parseRecord(s)
	if reason != "" {
		e := parsers.Start(parsers.Source{Name: name, Offset: start}, bytes.TrimRight(line, "\r\n"), s)
		return emit(parsers.Flag(e, "not an audit record: "+reason))
	}
	var ev *pending
	for _, o := range *open {
		if o.stamp == r.stamp {
			ev = o
			break
		}
	}
	if ev == nil {
		if len(*open) >= maxOpen {
			if err := flush(0); err != nil {
				return err
			}
		}
		ev = &pending{stamp: r.stamp, offset: start}
		*open = append(*open, ev)
	}
	if r.typ == "EOE" {
		// The end-of-event marker carries nothing; it closes the event.
		ev.raw = append(ev.raw, s)
		if len(ev.recs) == 0 {
			ev.recs = append(ev.recs, r)
		}
		for i, o := range *open {
			if o == ev {
				return flush(i)
			}
		}
	}
	ev.recs = append(ev.recs, r)
	ev.raw = append(ev.raw, s)
	return nil
}

// readLine returns the next line with its ending; a line longer than
// maxLine is returned in pieces, each parsed (and flagged) on its own.
func readLine(br *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		buf = append(buf, chunk...)
		if err == bufio.ErrBufferFull && len(buf) < maxLine {
			continue
		}
		if err == bufio.ErrBufferFull {
			return buf, nil
		}
		return buf, err
	}
}
