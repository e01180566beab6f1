package http

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/vigil-siem/vigil/internal/corpus"
)

// FuzzSplit feeds arbitrary bodies to the line splitter: it never panics,
// every record points at its own bytes in the body, and no line is both
// accepted and rejected.
func FuzzSplit(f *testing.F) {
	f.Add([]byte("{\"a\":1}\nraw line\r\n{broken\n\n"))
	if root := corpus.Root(); root != "" {
		for _, name := range []string{"suricata-eve/surevego_eve.json", "suricata-eve/surevego_eve_broken.json", "loghub/OpenSSH_2k.log"} {
			fh, err := os.Open(filepath.Join(root, name))
			if err != nil {
				continue
			}
			sc := bufio.NewScanner(fh)
			sc.Buffer(nil, 1<<20)
			var body []byte
			for i := 0; i < 20 && sc.Scan(); i++ {
				body = append(append(body, sc.Bytes()...), '\n')
			}
			fh.Close()
			f.Add(body)
		}
	}
	in := &Input{cfg: Config{MaxLineBytes: 256}}
	f.Fuzz(func(t *testing.T, body []byte) {
		recs, rejected := in.split(body, "127.0.0.1:1")
		for _, r := range recs {
			if !bytes.HasPrefix(body[r.Source.Offset:], r.Data) {
				t.Fatalf("record %q does not sit at offset %d", r.Data, r.Source.Offset)
			}
			if len(bytes.TrimSpace(r.Data)) == 0 || len(r.Data) > 256 {
				t.Fatalf("record %q should not have been accepted", r.Data)
			}
		}
		for i := 1; i < len(rejected); i++ {
			if rejected[i].Line <= rejected[i-1].Line {
				t.Fatalf("rejections out of order: %+v", rejected)
			}
		}
	})
}
