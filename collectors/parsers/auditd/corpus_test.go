package auditd

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/internal/corpus"
	"github.com/vigil-siem/vigil/internal/ecscheck"
)

// corpusFiles are the OTRF auditd logs and the command each must show.
func corpusFiles(tb testing.TB) map[string][]string {
	tb.Helper()
	matches, _ := filepath.Glob(filepath.Join(corpus.Dir(tb), "otrf-security-datasets", "linux", "*", "host", "*.log"))
	files := map[string][]string{}
	for _, m := range matches {
		switch {
		case strings.Contains(m, "arp_cache"):
			files[m] = []string{"arp -a", "grep -v ^?"}
		case strings.Contains(m, "binary_padding_dd"):
			files[m] = []string{"dd if=/dev/zero bs=1 count=1"}
		}
	}
	if len(files) != 2 {
		tb.Skipf("OTRF linux audit logs: found %v", matches)
	}
	return files
}

var serialRE = regexp.MustCompile(`msg=audit\(([0-9.]+:[0-9]+)\)`)

// TestCorpusDocument joins the OTRF audit logs: one event per audit serial
// (counted here by a regular expression), none flagged, and the attacker's
// commands in process.command_line and process.args.
func TestCorpusDocument(t *testing.T) {
	var all []event.Event
	for path, commands := range corpusFiles(t) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		serials := map[string]bool{}
		for _, m := range serialRE.FindAllSubmatch(data, -1) {
			serials[string(m[1])] = true
		}
		var events []event.Event
		if err := New(Config{}).ParseDocument(path, bytes.NewReader(data), func(e event.Event) error {
			events = append(events, e)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(events) != len(serials) {
			t.Errorf("%s: %d events, want %d (one per audit serial)", filepath.Base(path), len(events), len(serials))
		}
		var lines []string
		for _, e := range events {
			if e["event.kind"] != "event" {
				t.Errorf("%s: flagged: %v", filepath.Base(path), e[event.FieldParseError])
			}
			lines = append(lines, e.String("process.command_line"))
			if e["event.action"] != "executed" || e.String("process.working_directory") != "/home/wardog" || e.String("file.path") == "" {
				t.Errorf("%s: event %v", filepath.Base(path), e)
			}
			if args, _ := e["process.args"].([]any); len(args) == 0 || args[0] != e["process.name"] {
				t.Errorf("%s: process.args %v, process.name %v", filepath.Base(path), e["process.args"], e["process.name"])
			}
		}
		for _, c := range commands {
			found := false
			for _, l := range lines {
				found = found || l == c
			}
			if !found {
				t.Errorf("%s: no event with command line %q (have %q)", filepath.Base(path), c, lines)
			}
		}
		all = append(all, events...)
	}
	ecscheck.Check(t, all, "auditd.")
}

// TestCorpusLines parses the same logs one record per line: one event per
// line, none flagged.
func TestCorpusLines(t *testing.T) {
	var all []event.Event
	for path := range corpusFiles(t) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
		if len(lines) != bytes.Count(data, []byte("msg=audit(")) {
			t.Fatalf("%s: %d lines but %d records", path, len(lines), bytes.Count(data, []byte("msg=audit(")))
		}
		p := New(Config{})
		for i, l := range lines {
			e := p.Parse(parsers.Source{Name: path, Offset: int64(i)}, l)
			if e["event.kind"] != "event" {
				t.Errorf("%s:%d flagged: %v", filepath.Base(path), i+1, e[event.FieldParseError])
			}
			all = append(all, e)
		}
	}
	ecscheck.Check(t, all, "auditd.")
}
