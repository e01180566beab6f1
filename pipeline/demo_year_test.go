package pipeline

import (
	"os"
	"testing"
	"testing/fstest"
	"time"

	"github.com/vigil-siem/vigil/collectors"
	"github.com/vigil-siem/vigil/indexer/scenario"
)

// The demo's copies of the scenario logs carry the scenario's reference
// time, so the collector dates their year-less lines December 2025 on any
// day the demo runs (from 2026-12-08 on, the time of the copy would have
// put them in December 2026).
func TestDemoLogsKeepTheScenarioYear(t *testing.T) {
	logs := fstest.MapFS{"auth.log": {Data: []byte("Dec 10 09:52:10 web-01 sshd[1]: Failed password for deploy from 198.51.100.23 port 4 ssh2\n")}}
	paths, err := copyLogs(logs, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	if !st.ModTime().Equal(scenario.DefaultReference) {
		t.Fatalf("copy's modification time %v, want %v", st.ModTime(), scenario.DefaultReference)
	}
	// As the collect stage reads it: the file's time is the reference.
	p, err := collectors.NewParser("sshd", collectors.ParserConfig{Reference: st.ModTime(), Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(paths[0])
	if ev := p.Parse(collectors.Source{Name: "scenario/auth.log"}, data); ev.String("@timestamp") != "2025-12-10T09:52:10.000Z" {
		t.Errorf("@timestamp %q, want 2025-12-10T09:52:10.000Z", ev.String("@timestamp"))
	}
}
