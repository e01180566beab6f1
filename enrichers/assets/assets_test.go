package assets

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-siem/vigil/event"
)

func TestInventory(t *testing.T) {
	e, err := New(Config{Files: []string{"testdata/assets.csv", "testdata/assets.yaml"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		ev   event.Event
		want map[string]any // nil: absent
	}{
		{"host by FQDN", event.Event{"host.name": "bastion-01.corp.example"}, map[string]any{
			"vigil.host.asset.criticality": "high", "vigil.host.asset.owner": "it-ops", "vigil.host.asset.environment": "production"}},
		{"host by short name, other case", event.Event{"host.name": "BASTION-01"}, map[string]any{"vigil.host.asset.criticality": "high"}},
		{"later file overrides", event.Event{"host.name": "web-01"}, map[string]any{"vigil.host.asset.criticality": "high"}},
		{"host by host.ip", event.Event{"host.name": "unknown", "host.ip": []any{"10.0.0.2"}}, map[string]any{"vigil.host.asset.criticality": "critical"}},
		{"source and destination", event.Event{"source.ip": "192.0.2.5", "destination.ip": "fd00::2"}, map[string]any{
			"vigil.source.asset.owner": "it-ops", "vigil.destination.asset.owner": "identity-team", "vigil.host.asset.criticality": nil}},
		{"unknown host", event.Event{"host.name": "laptop-9", "source.ip": "10.7.7.7"}, map[string]any{
			"vigil.host.asset.criticality": nil, "vigil.source.asset.criticality": nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := e.Enrich(context.Background(), tt.ev); err != nil {
				t.Fatal(err)
			}
			for k, want := range tt.want {
				got, has := tt.ev[k]
				if want == nil && has || want != nil && got != want {
					t.Errorf("%s = %v, want %v", k, got, want)
				}
			}
		})
	}
	ev := event.Event{"host.name": "bastion-01.corp.example"}
	_ = e.Enrich(context.Background(), ev)
	if tags, _ := ev["vigil.host.asset.tags"].([]any); !slices.Equal(tags, []any{"ssh", "jump-host"}) {
		t.Errorf("tags = %v", ev["vigil.host.asset.tags"])
	}
	if m := e.Resolve("dc-01.corp.example").Map(); m["criticality"] != "critical" || len(m["tags"].([]any)) != 1 {
		t.Errorf("Map = %v", m)
	}
	if m := e.Resolve("nope").Map(); len(m) != 0 {
		t.Errorf("Map of unknown host = %v, want empty", m)
	}
}

func TestBadInventory(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tt := range []struct{ path, want string }{
		{write("a.csv", "name,ip\nweb,10.0.0.300\n"), "a.csv:2: ip \"10.0.0.300\" is not an IP address"},
		{write("b.yaml", "name: x\n"), "b.yaml: want a YAML list"},
		{write("c.csv", "criticality\nhigh\n"), "c.csv:2: an asset needs a name or an ip"},
		{write("d.txt", "x"), "unknown file type"},
		{filepath.Join(dir, "missing.csv"), "missing.csv"},
	} {
		if _, err := New(Config{Files: []string{tt.path}}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.path, err, tt.want)
		}
	}
}

func TestReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inv.csv")
	write := func(body string) {
		if err := os.WriteFile(path+".tmp", []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			t.Fatal(err)
		}
	}
	write("name,criticality\nweb,low\n")
	e, err := New(Config{Files: []string{path}})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.Host("web").Criticality; got != "low" {
		t.Fatalf("before: %q", got)
	}
	write("name,criticality\nweb,critical\n")
	if ok, err := e.Reload(); !ok || err != nil {
		t.Fatalf("Reload = %v, %v", ok, err)
	}
	if got := e.Host("web").Criticality; got != "critical" {
		t.Fatalf("after: %q, want critical", got)
	}
}
