package syslog

import (
	"bufio"
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-siem/vigil/internal/corpus"
)

// realSyslog returns up to n lines of the Loghub Linux syslog, when the
// corpus is there.
func realSyslog(n int) []string {
	root := corpus.Root()
	if root == "" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(root, "loghub", "Linux_2k.log"))
	if err != nil {
		return nil
	}
	lines := strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n")
	return lines[:min(n, len(lines))]
}

// FuzzFramer feeds arbitrary TCP streams to the framer: it never panics,
// never returns a message over the limit, and its offsets move forward
// within the stream.
func FuzzFramer(f *testing.F) {
	f.Add([]byte(octet(msg5424) + msg3164 + "\n"))
	f.Add([]byte("99999999999 x\n0 \n\n\r\n12"))
	for _, l := range realSyslog(40) {
		f.Add([]byte("<13>" + l + "\n"))
		f.Add([]byte(octet("<13>" + l)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const max = 64
		fr := framer{r: bufio.NewReaderSize(bytes.NewReader(data), 16), max: max}
		last := int64(-1)
		for i := 0; i <= len(data)+1; i++ {
			start := fr.off
			msg, _, err := fr.next()
			if len(msg) > max {
				t.Fatalf("message of %d bytes over the limit %d", len(msg), max)
			}
			if start < last || fr.off > int64(len(data)) {
				t.Fatalf("offsets went from %d to %d (stream of %d)", last, fr.off, len(data))
			}
			last = start
			if err != nil {
				return
			}
		}
		t.Fatalf("framer did not reach the end of a %d-byte stream", len(data))
	})
}

// TestRealSyslogOverTCP sends the Loghub Linux syslog over TCP in both
// framings: every line arrives, intact.
func TestRealSyslogOverTCP(t *testing.T) {
	lines := realSyslog(2000)
	if lines == nil {
		t.Skip("shared/corpus not found")
	}
	var msgs []string
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			msgs = append(msgs, "<13>"+l)
		}
	}
	s := start(t, Config{Listen: []string{"tcp://127.0.0.1:0"}, BatchSize: 100}, nil)
	for _, octetCounted := range []bool{false, true} {
		c, err := netDial(s.addr(t, "tcp"))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		for _, m := range msgs {
			if octetCounted {
				buf.WriteString(octet(m))
			} else {
				buf.WriteString(m + "\n")
			}
		}
		c.Write(buf.Bytes())
		c.Close()
		for i, want := range msgs {
			if r := s.next(t); string(r.Data) != want {
				t.Fatalf("octet=%v message %d = %q, want %q", octetCounted, i, r.Data, want)
			}
		}
	}
}

func netDial(addr string) (net.Conn, error) { return net.Dial("tcp", addr) }
