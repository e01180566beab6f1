package wire_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/collectors"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/internal/corpus"
	"github.com/vigil-siem/vigil/wire"
)

// FuzzDecode: no record value makes Decode panic, and whatever it
// accepts is an event that encodes again, to the same event.
func FuzzDecode(f *testing.F) {
	producer := avroCodec(f)
	for _, ev := range wire.Tricky() {
		if b, err := producer.Encode(topic, ev); err == nil {
			f.Add(b)
		}
		if b, err := event.Marshal(ev); err == nil {
			f.Add(b)
		}
	}
	for _, ev := range seedEvents(f) {
		b, err := producer.Encode(topic, ev)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		j, _ := event.Marshal(ev)
		f.Add(j)
	}
	f.Add([]byte{0, 0, 0, 0, 1, 2, 2, 'k', 10, 0x80, 0x80, 0x80, 0x80, 0x01}) // claims 2^27 items
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := producer.Decode(topic, b)
		if err != nil {
			return
		}
		if len(b) > 0 && b[0] != 0 {
			return // JSON: event.Unmarshal has its own fuzz target
		}
		again, err := producer.Encode(topic, ev)
		if err != nil {
			t.Fatalf("decoded event does not encode: %v\n%#v", err, ev)
		}
		ev2, err := producer.Decode(topic, again)
		if err != nil {
			t.Fatalf("re-encoded event does not decode: %v", err)
		}
		j1, err1 := event.Marshal(ev)
		j2, err2 := event.Marshal(ev2)
		if err1 != nil || err2 != nil || !bytes.Equal(j1, j2) {
			t.Fatalf("round trip changed the event (%v, %v)\n%s\n%s", err1, err2, j1, j2)
		}
	})
}

// seedEvents parses real logs: the repository's scenario, and some of
// the corpus when it is present.
func seedEvents(tb testing.TB) []event.Event {
	var out []event.Event
	read := func(path, format string, max int) {
		f, err := os.Open(path)
		if err != nil {
			return
		}
		defer f.Close()
		p, err := collectors.NewParser(format, collectors.ParserConfig{Reference: time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC), Location: time.UTC})
		if err != nil {
			tb.Fatal(err)
		}
		n := 0
		collectors.Read(path, f, p, func(ev event.Event) error {
			if n++; n > max {
				return errEnough
			}
			out = append(out, ev)
			return nil
		})
	}
	read(filepath.Join(repoRoot(tb), "testdata", "scenarios", "ssh-bruteforce", "auth.log"), "sshd", 20)
	if root := corpus.Root(); root != "" {
		for format, globs := range corpusInputs {
			matches, _ := filepath.Glob(filepath.Join(root, filepath.FromSlash(globs[0])))
			if len(matches) > 0 {
				read(matches[0], format, 5)
			}
		}
	}
	return out
}
