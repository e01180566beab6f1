package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-siem/vigil/event"
)

// enrichConfig writes a configuration whose detect.enrich uses the
// enrichers' test data, and returns its path.
func enrichConfig(t *testing.T, feed string) string {
	t.Helper()
	data, err := filepath.Abs("../../enrichers")
	if err != nil {
		t.Fatal(err)
	}
	yaml := strings.NewReplacer("DATA", data, "FEED", feed).Replace(`detect:
  enrich:
    reload_interval: -1s
    network: {enabled: true}
    geoip: {city_database: DATA/geoip/testdata/GeoIP2-City-Test.mmdb, asn_database: DATA/geoip/testdata/GeoLite2-ASN-Test.mmdb}
    threatintel: {feeds: [{path: FEED}]}
    assets: {files: [DATA/assets/testdata/assets.csv]}
    identity: {files: [DATA/identity/testdata/users.csv]}
`)
	path := filepath.Join(t.TempDir(), "vigil.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// runEnrich runs `vigil enrich` in process on the given log text.
func runEnrich(t *testing.T, configPath, log string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := newEnrichCmd(&globals{configPath: configPath})
	var out, errw bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errw)
	cmd.SetIn(strings.NewReader(log))
	cmd.SetArgs(args)
	err = cmd.Execute()
	return out.String(), errw.String(), err
}

func TestEnrichCommand(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "")
	data, _ := filepath.Abs("../../enrichers")
	cfg := enrichConfig(t, filepath.Join(data, "threatintel/testdata/bundle.json"))
	log := strings.Join([]string{
		"Dec 10 09:53:59 bastion-01 sshd[1234]: Accepted publickey for deploy from 81.2.69.142 port 52144 ssh2",
		"Dec 10 09:54:00 bastion-01 sshd[1235]: Failed password for root from 198.51.100.23 port 52145 ssh2",
		"Dec 10 09:54:01 laptop-9 sshd[1236]: Failed password for mallory from 10.9.9.9 port 52146 ssh2",
		"not a log line at all",
	}, "\n") + "\n"
	stdout, stderr, err := runEnrich(t, cfg, log, "--format", "auto", "-")
	if err != nil {
		t.Fatalf("vigil enrich: %v\n%s", err, stderr)
	}
	var events []event.Event
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		e, err := event.Unmarshal([]byte(line))
		if err != nil {
			t.Fatalf("stdout line %q: %v", line, err)
		}
		events = append(events, e)
	}
	if len(events) != 4 {
		t.Fatalf("%d events on stdout, want 4 (the bad line flagged, not dropped):\n%s", len(events), stdout)
	}
	tests := []struct {
		event int
		field string
		want  any
	}{
		{0, "source.geo.city_name", "London"},
		{0, "vigil.source.ip_class", "public"},
		{0, "vigil.host.asset.criticality", "high"},
		{0, "vigil.user.privileged", true},
		{0, "user.full_name", "Deploy Bot"},
		{1, "vigil.user.department", "IT"},
		{2, "vigil.source.ip_class", "private"},
		{2, "vigil.host.asset.criticality", nil},
		{2, "vigil.user.privileged", nil},
	}
	for _, tt := range tests {
		if got := events[tt.event].Get(tt.field); got != tt.want {
			t.Errorf("event %d: %s = %v, want %v", tt.event, tt.field, got, tt.want)
		}
	}
	// event.Unmarshal nests nothing for threat.enrichments: it stays one list field.
	if got := events[1].Get("threat.enrichments"); got == nil || !strings.Contains(event.Stringify(got), "198.51.100.23") {
		t.Errorf("the STIX-listed source got threat.enrichments %v", got)
	}
	if events[0].Get("threat.enrichments") != nil {
		t.Errorf("an unlisted source got threat.enrichments %v", events[0].Get("threat.enrichments"))
	}
	for _, want := range []string{
		"enrichers: network, geoip, threatintel, assets, identity",
		"4 events, 3 enriched, 0 flagged",
		"threat.enrichments", "source.geo.city_name",
		"geoip", "cache",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("summary lacks %q:\n%s", want, stderr)
		}
	}
}

func TestEnrichCommandBadFeed(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "")
	feed := filepath.Join(t.TempDir(), "feed.json")
	if err := os.WriteFile(feed, []byte(`{"type": "bundle", "objects": [`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := runEnrich(t, enrichConfig(t, feed), "")
	if err == nil || !strings.Contains(err.Error(), "detect.enrich.threatintel") || !strings.Contains(err.Error(), "feed.json") {
		t.Fatalf("error %v, want one naming detect.enrich.threatintel and the feed", err)
	}
}

// TestEnrichCommandFlagsFailures: an event an enricher fails on is printed,
// flagged, and counted by enricher in the summary.
func TestEnrichCommandFlagsFailures(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "")
	data, _ := filepath.Abs("../../enrichers")
	cfg := enrichConfig(t, filepath.Join(data, "threatintel/testdata/blocklist.txt"))
	log := `{"@timestamp":"2025-12-10T09:53:59Z","source":{"ip":"not-an-ip"},"message":"x"}` + "\n" +
		`{"@timestamp":"2025-12-10T09:54:00Z","source":{"ip":"192.0.2.10"},"message":"y"}` + "\n"
	stdout, stderr, err := runEnrich(t, cfg, log, "--format", "jsonlines")
	if err != nil {
		t.Fatalf("vigil enrich: %v\n%s", err, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d events on stdout, want 2", len(lines))
	}
	bad, err := event.Unmarshal([]byte(lines[0]))
	if err != nil {
		t.Fatal(err)
	}
	if errs := event.Stringify(bad.Get("vigil.enrichment_errors")); !strings.Contains(errs, `network: source.ip \"not-an-ip\" is not an IP address`) {
		t.Errorf("vigil.enrichment_errors = %s", errs)
	}
	for _, want := range []string{"2 events, 1 enriched, 1 flagged", "failures (events):\n         1  network\n"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("summary lacks %q:\n%s", want, stderr)
		}
	}
}
