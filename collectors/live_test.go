package collectors

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/internal/corpus"
)

// headSamples are stream heads of every kind detectDocument tells apart.
func headSamples(t testing.TB) []string {
	pretty := "{\n  \"Records\": [\n    {\"eventVersion\": \"1.08\", \"eventSource\": \"iam.amazonaws.com\", \"eventName\": \"CreateUser\"}\n  ]\n}\n"
	samples := []string{
		"",
		"\n\n  \t",
		"Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186\n",
		utf8BOM + "Dec 10 06:55:46 LabSZ sshd[24200]: x\n",
		"\xef\xbb",
		"\xef",
		"{\"timestamp\":\"2018-04-17T12:00:00Z\",\"event_type\":\"dns\",\"src_ip\":\"10.0.0.1\"}\n{\"a\":1}\n",
		"{\"timestamp\":\"2018-04-17T12:00:00Z\",\"event_type\":\"dns\"", // a first line without its end
		utf8BOM + " [{\"eventVersion\":\"1.08\",\"eventSource\":\"s3.amazonaws.com\",\"eventName\":\"PutBucketPolicy\"}]",
		pretty,
		"{\"Records\":[" + strings.Repeat(" ", 5000) + "{\"eventName\":\"x\"}]}",
		"{\n" + strings.Repeat("  \"k\": 1,\n", 600) + "  \"_path\": \"conn\"\n}\n",
		"[" + strings.Repeat(" ", maxHead+10) + "]",
		"{" + strings.Repeat("x", maxHead+10) + "\n",
	}
	if dir := corpus.Root(); dir != "" {
		// Corpus files of every kind: lines, JSON lines, JSON documents.
		paths, _ := filepath.Glob(filepath.Join(dir, "*", "*.*"))
		more, _ := filepath.Glob(filepath.Join(dir, "stratus-red-team", "detonation-logs", "*"))
		for _, path := range append(paths, more...) {
			if data, err := os.ReadFile(path); err == nil && len(data) > 0 {
				samples = append(samples, string(data[:min(len(data), 2*maxHead)]))
			}
		}
	}
	return samples
}

// peekAll is what auto looked at before streamHead: the first maxHead
// bytes, all there at once.
func peekAll(s string) []byte {
	head, _ := bufio.NewReaderSize(strings.NewReader(s), maxHead).Peek(maxHead)
	return head
}

func TestStreamHeadDecidesAsTheFirst64KB(t *testing.T) {
	for _, s := range headSamples(t) {
		want := detectDocument(peekAll(s))
		for name, r := range map[string]io.Reader{
			"whole":        strings.NewReader(s),
			"byte by byte": iotest.OneByteReader(strings.NewReader(s)),
			"halves":       iotest.HalfReader(strings.NewReader(s)),
		} {
			if got := detectDocument(streamHead(bufio.NewReaderSize(r, maxHead))); got != want {
				t.Errorf("%s, %.40q: detectDocument(streamHead) = %q, want %q (as on the first 64 KB)", name, s, got, want)
			}
		}
	}
}

func FuzzStreamHead(f *testing.F) {
	for _, s := range headSamples(f) {
		f.Add(s[:min(len(s), 8192)], uint8(0))
	}
	f.Fuzz(func(t *testing.T, s string, how uint8) {
		var r io.Reader = strings.NewReader(s)
		switch how % 3 {
		case 1:
			r = iotest.OneByteReader(r)
		case 2:
			r = iotest.HalfReader(r)
		}
		if got, want := detectDocument(streamHead(bufio.NewReaderSize(r, maxHead))), detectDocument(peekAll(s)); got != want {
			t.Fatalf("detectDocument(streamHead) = %q, want %q", got, want)
		}
	})
}

// livePipe is stdin fed by `tail -f`: lines come one write at a time and
// the pipe stays open.
type livePipe struct {
	r *io.PipeReader
	w *io.PipeWriter
}

func newLivePipe(t *testing.T) *livePipe {
	r, w := io.Pipe()
	t.Cleanup(func() { w.Close() })
	return &livePipe{r: r, w: w}
}

func (p *livePipe) write(t *testing.T, line string) {
	t.Helper()
	done := make(chan error, 1)
	go func() { _, err := io.WriteString(p.w, line); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the reader did not take %q within 10s", line)
	}
}

// await returns the next event from events, failing after 10 s: an event
// of a line written to a pipe that stays open must not wait for more
// input.
func await(t *testing.T, events <-chan event.Event, what string) event.Event {
	t.Helper()
	select {
	case e := <-events:
		return e
	case <-time.After(10 * time.Second):
		t.Fatalf("no event for %s within 10s while the pipe stays open", what)
		return nil
	}
}

const liveLine = "Dec 10 06:55:46 LabSZ sshd[24200]: Failed password for root from 203.0.113.%d port 4 ssh2\n"

func TestLiveInputGivesEachLineAtOnce(t *testing.T) {
	for _, c := range []struct {
		name, format string
		parallel     bool
	}{
		{"Read auto", FormatAuto, false},
		{"Read sshd", "sshd", false},
		{"ReadParallel auto", FormatAuto, true},
		{"ReadParallel sshd", "sshd", true},
		{"ReadParallel jsonlines", "jsonlines", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			pipe := newLivePipe(t)
			p, err := NewParser(c.format, ParserConfig{Reference: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)})
			if err != nil {
				t.Fatal(err)
			}
			events := make(chan event.Event, 100)
			done := make(chan error, 1)
			go func() {
				var err error
				if c.parallel {
					_, err = ReadParallel(context.Background(), "stdin", pipe.r, p, ParallelConfig{Workers: 2, BatchLines: 128}, func(evs []event.Event) error {
						for _, e := range evs {
							events <- e
						}
						return nil
					})
				} else {
					_, err = Read("stdin", pipe.r, p, func(e event.Event) error {
						events <- e
						return nil
					})
				}
				done <- err
			}()
			line := liveLine
			if c.format == "jsonlines" {
				line = `{"@timestamp":"2026-01-01T00:00:00Z","source.ip":"203.0.113.%d"}` + "\n"
			}
			for i := 1; i <= 3; i++ {
				pipe.write(t, strings.Replace(line, "%d", string(rune('0'+i)), 1))
				e := await(t, events, "line "+string(rune('0'+i)))
				if got, want := e.String("source.ip"), "203.0.113."+string(rune('0'+i)); got != want {
					t.Fatalf("event %d: source.ip %q, want %q (flagged: %q)", i, got, want, e.String(event.FieldParseError))
				}
			}
			pipe.w.Close()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if len(events) != 0 {
				t.Fatalf("%d events more than the 3 lines", len(events))
			}
		})
	}
}

func TestDrainedBatchesGiveWhatWholeBatchesGive(t *testing.T) {
	// Short reads cut batches anywhere: the events and the stats stay
	// those of one read of the whole stream.
	data := strings.Repeat(strings.Replace(liveLine, "%d", "7", 1)+"garbage\n\n", 50)
	for _, format := range []string{"sshd", FormatAuto} {
		p, _ := NewParser(format, ParserConfig{})
		var want []event.Event
		wantSt, err := Read("f", strings.NewReader(data), p, func(e event.Event) error {
			want = append(want, e)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for name, r := range map[string]io.Reader{
			"byte by byte":   iotest.OneByteReader(strings.NewReader(data)),
			"halves":         iotest.HalfReader(strings.NewReader(data)),
			"data and error": iotest.DataErrReader(strings.NewReader(data)),
		} {
			p, _ := NewParser(format, ParserConfig{})
			var got []event.Event
			batches := 0
			st, err := ReadParallel(context.Background(), "f", r, p, ParallelConfig{Workers: 2, BatchLines: 16}, func(evs []event.Event) error {
				got = append(got, evs...)
				batches++
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) || st.Lines != wantSt.Lines || st.Events != wantSt.Events {
				t.Fatalf("%s %s: %d events, %d lines; one read: %d events, %d lines", format, name, len(got), st.Lines, len(want), wantSt.Lines)
			}
			for i := range got {
				if got[i].ID() != want[i].ID() {
					t.Fatalf("%s %s: event %d is %s, want %s", format, name, i, got[i].ID(), want[i].ID())
				}
			}
			t.Logf("%s %s: %d batches", format, name, batches)
		}
	}
}
