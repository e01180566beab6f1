package journald

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/collectors/input"
)

// fakeJournalctl writes a shell script that behaves like journalctl -o
// json on a fixed journal: it records its arguments, prints the entries
// after --after-cursor (all without it) and, with --follow, stays until
// killed. It needs /bin/sh, not systemd.
func fakeJournalctl(t *testing.T, entries []string) (cmd, argsLog string) {
	t.Helper()
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh to run the fake journalctl")
	}
	dir := t.TempDir()
	journal := filepath.Join(dir, "journal.json")
	if err := os.WriteFile(journal, []byte(strings.Join(entries, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	argsLog = filepath.Join(dir, "args.log")
	script := fmt.Sprintf(`#!/bin/sh
echo "$*" >> %q
after=""; follow=0
for a in "$@"; do
  case "$a" in
    --after-cursor=*) after="${a#--after-cursor=}";;
    --follow) follow=1;;
  esac
done
started=0; [ -z "$after" ] && started=1
while IFS= read -r line; do
  [ $started = 1 ] && printf '%%s\n' "$line"
  case "$line" in *"\"__CURSOR\":\"$after\""*) started=1;; esac
done < %q
[ $follow = 1 ] && exec sleep 600
exit 0
`, argsLog, journal)
	cmd = filepath.Join(dir, "journalctl")
	if err := os.WriteFile(cmd, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	return cmd, argsLog
}

func journalEntries(n int) []string {
	var out []string
	for i := 1; i <= n; i++ {
		out = append(out, fmt.Sprintf(`{"__CURSOR":"s=abc;i=%d","__REALTIME_TIMESTAMP":"17000000000%05d","_HOSTNAME":"web-01","SYSLOG_IDENTIFIER":"sshd","MESSAGE":"entry %d"}`, i, i, i))
	}
	return out
}

func runAll(t *testing.T, cfg Config, failOnBatch int) ([]input.Record, error) {
	t.Helper()
	in, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var got []input.Record
	calls := 0
	err = in.Run(context.Background(), func(_ context.Context, b []input.Record) error {
		calls++
		if calls == failOnBatch {
			return errors.New("kafka down")
		}
		got = append(got, b...)
		return nil
	})
	return got, err
}

func TestEntriesAndCursorResume(t *testing.T) {
	cmd, argsLog := fakeJournalctl(t, journalEntries(5))
	reg := filepath.Join(t.TempDir(), "journald.json")
	cfg := Config{Command: []string{cmd}, RegistryPath: reg, BatchLines: 2, Args: []string{"_SYSTEMD_UNIT=sshd.service"}}

	// First run: the second batch is not acknowledged, so the cursor stays
	// at entry 2.
	got, err := runAll(t, cfg, 2)
	if err == nil || !strings.Contains(err.Error(), "kafka down") {
		t.Fatalf("Run = %v, want the handler's error", err)
	}
	if len(got) != 2 || got[0].Meta["cursor"] != "s=abc;i=1" || got[0].Source.Name != "journald" || got[0].Source.Offset != 1700000000000001 {
		t.Fatalf("first run delivered %+v", got)
	}
	// Second run resumes after entry 2 and delivers 3..5.
	got, err = runAll(t, cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, r := range got {
		msgs = append(msgs, r.Meta["cursor"])
	}
	if strings.Join(msgs, ",") != "s=abc;i=3,s=abc;i=4,s=abc;i=5" {
		t.Errorf("second run delivered %v, want entries 3-5", msgs)
	}
	// Third run: nothing new.
	if got, err = runAll(t, cfg, 0); err != nil || len(got) != 0 {
		t.Errorf("third run: %d records, %v", len(got), err)
	}
	args, _ := os.ReadFile(argsLog)
	lines := strings.Split(strings.TrimSpace(string(args)), "\n")
	if len(lines) != 3 || strings.Contains(lines[0], "--after-cursor") ||
		!strings.Contains(lines[1], "--after-cursor=s=abc;i=2") || !strings.Contains(lines[2], "--after-cursor=s=abc;i=5") ||
		!strings.Contains(lines[0], "--output=json") || !strings.HasSuffix(lines[0], "_SYSTEMD_UNIT=sshd.service") {
		t.Errorf("journalctl was run with:\n%s", args)
	}
}

func TestGarbageLinesPassWithoutCursor(t *testing.T) {
	entries := journalEntries(2)
	entries = append(entries[:1], append([]string{"not json at all"}, entries[1:]...)...)
	cmd, _ := fakeJournalctl(t, entries)
	got, err := runAll(t, Config{Command: []string{cmd}, RegistryPath: filepath.Join(t.TempDir(), "r.json")}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || string(got[1].Data) != "not json at all" || got[1].Meta != nil || got[2].Meta["cursor"] != "s=abc;i=2" {
		t.Errorf("got %+v", got)
	}
}

func TestFollowDeliversAndStopsOnCancel(t *testing.T) {
	cmd, argsLog := fakeJournalctl(t, journalEntries(3))
	in, err := New(Config{Command: []string{cmd}, Follow: true, FlushInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	recs := make(chan input.Record, 10)
	done := make(chan error, 1)
	go func() {
		done <- in.Run(ctx, func(_ context.Context, b []input.Record) error {
			for _, r := range b {
				recs <- r
			}
			return nil
		})
	}()
	for i := 1; i <= 3; i++ {
		select {
		case r := <-recs:
			if r.Meta["cursor"] != fmt.Sprintf("s=abc;i=%d", i) {
				t.Errorf("entry %d: %v", i, r.Meta)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no entry delivered")
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
	args, _ := os.ReadFile(argsLog)
	if !strings.Contains(string(args), "--follow") || !strings.Contains(string(args), "--lines=0") {
		t.Errorf("args %q, want --follow and --lines=0 (start at the tail)", args)
	}
}

func TestMissingJournalctlIsAClearError(t *testing.T) {
	in, err := New(Config{Command: []string{"/nonexistent/journalctl"}})
	if err != nil {
		t.Fatal(err)
	}
	err = in.Run(context.Background(), func(context.Context, []input.Record) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/journalctl not found") {
		t.Errorf("Run = %v, want an error naming journalctl", err)
	}
}

func TestFailingJournalctlReportsItsError(t *testing.T) {
	dir := t.TempDir()
	cmd := filepath.Join(dir, "journalctl")
	os.WriteFile(cmd, []byte("#!/bin/sh\necho 'Failed to open journal: permission denied' >&2\nexit 1\n"), 0o700)
	in, _ := New(Config{Command: []string{cmd}})
	err := in.Run(context.Background(), func(context.Context, []input.Record) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("Run = %v, want journalctl's message", err)
	}
}

func TestNewRejectsBadSeek(t *testing.T) {
	if _, err := New(Config{Seek: "middle"}); err == nil || !strings.Contains(err.Error(), "seek") {
		t.Errorf("New = %v", err)
	}
}
