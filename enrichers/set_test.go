package enrichers

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/expr-lang/expr"

	"github.com/vigil-siem/vigil/enrichers/assets"
	"github.com/vigil-siem/vigil/enrichers/geoip"
	"github.com/vigil-siem/vigil/enrichers/identity"
	"github.com/vigil-siem/vigil/enrichers/lookup"
	"github.com/vigil-siem/vigil/enrichers/rdns"
	"github.com/vigil-siem/vigil/enrichers/threatintel"
	"github.com/vigil-siem/vigil/event"
)

// fullConfig turns every enricher on with the packages' test data.
func fullConfig(resolver rdns.Resolver) Config {
	cfg := DefaultConfig()
	cfg.ReloadInterval = -1
	cfg.GeoIP = geoip.Config{CityDatabase: "geoip/testdata/GeoIP2-City-Test.mmdb", ASNDatabase: "geoip/testdata/GeoLite2-ASN-Test.mmdb"}
	cfg.ThreatIntel = threatintel.Config{Feeds: []threatintel.Feed{
		{Path: "threatintel/testdata/bundle.json"}, {Path: "threatintel/testdata/blocklist.txt"},
	}}
	cfg.Assets = assets.Config{Files: []string{"assets/testdata/assets.csv", "assets/testdata/assets.yaml"}}
	cfg.Identity = identity.Config{Files: []string{"identity/testdata/users.csv", "identity/testdata/users.yaml"}}
	if resolver != nil {
		cfg.RDNS = rdns.Config{Enabled: true, Resolver: resolver}
	}
	return cfg
}

type tableResolver map[string]string

func (t tableResolver) LookupAddr(_ context.Context, addr string) ([]string, error) {
	if n, ok := t[addr]; ok {
		return []string{n}, nil
	}
	return nil, errors.New("server misbehaving")
}

func sshEvent() event.Event {
	return event.Event{
		"@timestamp": "2025-12-10T09:53:59.000Z", "event.category": []any{"authentication"},
		"event.outcome": "success", "host.name": "bastion-01.corp.example", "user.name": "deploy",
		"source.ip": "81.2.69.142", "destination.ip": "10.0.0.5", "source.port": int64(52144),
	}
}

func TestEnrichEveryEnricher(t *testing.T) {
	s, err := New(fullConfig(tableResolver{"81.2.69.142": "host.example.co.uk."}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := strings.Join(s.Names(), ","); got != "network,geoip,threatintel,assets,identity,rdns" {
		t.Fatalf("enrichers = %s", got)
	}
	ev := sshEvent()
	ev["source.ip"] = "198.51.100.23" // in the STIX bundle, not in GeoIP
	s.Enrich(context.Background(), ev)
	want := map[string]any{
		"network.direction": "inbound", "vigil.source.ip_class": "reserved", "vigil.destination.ip_class": "private",
		"vigil.host.asset.criticality": "high", "vigil.destination.asset.owner": "it-ops",
		"user.full_name": "Deploy Bot", "vigil.user.privileged": true,
	}
	for k, v := range want {
		if ev[k] != v {
			t.Errorf("%s = %v, want %v", k, ev[k], v)
		}
	}
	if list, _ := ev["threat.enrichments"].([]any); len(list) != 1 {
		t.Errorf("threat.enrichments = %v, want one match", ev["threat.enrichments"])
	}
	if errs, ok := ev[FieldErrors].([]any); !ok || len(errs) != 1 || !strings.HasPrefix(errs[0].(string), "rdns: source.ip 198.51.100.23: server misbehaving") {
		t.Errorf("%s = %v, want the rdns failure only", FieldErrors, ev[FieldErrors])
	}

	ev = sshEvent()
	s.Enrich(context.Background(), ev)
	for k, v := range map[string]any{"source.geo.city_name": "London", "source.geo.country_iso_code": "GB",
		"vigil.source.ip_class": "public", "source.domain": "host.example.co.uk"} {
		if ev[k] != v {
			t.Errorf("%s = %v, want %v", k, ev[k], v)
		}
	}
	if _, flagged := ev[FieldErrors]; flagged {
		t.Errorf("clean event flagged: %v", ev[FieldErrors])
	}
	st := s.Stats()
	if st["geoip"].Lookups == 0 || st["threatintel"].Entries == 0 || st["assets"].CacheSize == 0 {
		t.Errorf("stats = %+v", st)
	}
}

type panicky struct{}

func (panicky) Name() string                              { return "panicky" }
func (panicky) Enrich(context.Context, event.Event) error { panic("index out of range") }
func (panicky) Stats() lookup.Stats                       { return lookup.Stats{} }
func (panicky) Close() error                              { return nil }

func TestFailingEnricherFlagsAndContinues(t *testing.T) {
	s := newFullSet(t)
	s.list = append([]enricher{panicky{}}, s.list...)
	s.planned = false // the list changed: run it one by one
	ev := sshEvent()
	ev["source.ip"] = "not-an-address"
	ev[FieldErrors] = []any{"earlier: kept"}
	s.Enrich(context.Background(), ev)
	errs, _ := ev[FieldErrors].([]any)
	want := []string{"earlier: kept", "panicky: internal error: index out of range", `network: source.ip "not-an-address" is not an IP address`}
	if fmt.Sprint(errs) != fmt.Sprint(want) {
		t.Fatalf("%s = %q, want %q", FieldErrors, errs, want)
	}
	if ev["vigil.host.asset.criticality"] != "high" || ev["user.full_name"] != "Deploy Bot" {
		t.Error("the enrichers after a failing one must still run")
	}
}

func TestStartupErrors(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "city.mmdb")
	if err := os.WriteFile(corrupt, []byte("not a database"), 0o600); err != nil {
		t.Fatal(err)
	}
	feedDir := filepath.Join(dir, "feed.txt")
	if err := os.Mkdir(feedDir, 0o700); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"corrupt mmdb", func(c *Config) { c.GeoIP.CityDatabase = corrupt },
			"detect.enrich.geoip.city_database: " + corrupt + " is not a MaxMind DB file"},
		{"unreadable feed", func(c *Config) { c.ThreatIntel.Feeds = []threatintel.Feed{{Path: feedDir}} },
			"detect.enrich.threatintel: feed feed.txt: read " + feedDir + ": is a directory"},
		{"bad home network", func(c *Config) { c.Network.HomeNetworks = []string{"lan"} },
			`detect.enrich.network.home_networks: "lan" is not a CIDR`},
		{"missing inventory", func(c *Config) { c.Assets.Files = []string{filepath.Join(dir, "none.csv")} },
			"detect.enrich.assets: open " + filepath.Join(dir, "none.csv")},
	}
	for _, tt := range tests {
		cfg := fullConfig(nil)
		tt.edit(&cfg)
		_, err := New(cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestPollerPicksUpReplacedFeed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "list.txt")
	if err := os.WriteFile(path, []byte("192.0.2.1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := Config{ReloadInterval: lookup.Duration(5 * time.Millisecond), ThreatIntel: threatintel.Config{Feeds: []threatintel.Feed{{Path: path}}}}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	inIntel := s.RuleFunctions()["in_intel"]
	if v, _ := inIntel("192.0.2.9"); v != false {
		t.Fatal("192.0.2.9 listed before the feed changed")
	}
	if err := os.WriteFile(path+".new", []byte("192.0.2.1\n192.0.2.9\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if v, _ := inIntel("192.0.2.9"); v == true {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replaced feed not picked up; stats %+v", s.Stats()["threatintel"])
		}
		time.Sleep(5 * time.Millisecond)
	}
	if st := s.Stats()["threatintel"]; st.Reloads == 0 {
		t.Errorf("stats = %+v, want a reload counted", st)
	}
}

// newFullSet is New(fullConfig(nil)), closed when the test ends.
func newFullSet(t *testing.T) *Set {
	t.Helper()
	s, err := New(fullConfig(nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestRuleFunctionsInExpressions(t *testing.T) {
	s := newFullSet(t)
	var opts []expr.Option
	for name, fn := range s.RuleFunctions() {
		opts = append(opts, expr.Function(name, fn))
	}
	env := map[string]any{"src": "198.51.100.23", "dst": "10.0.0.5", "host": "BASTION-01", "user": "deploy", "nothing": nil, "other": "web-01"}
	tests := []struct {
		expr string
		want any
	}{
		{`in_intel(src)`, true},
		{`in_intel("203.0.113.77")`, true},
		{`in_intel(dst)`, false},
		{`in_intel(nothing)`, false},
		{`asset(host).criticality`, "high"},
		{`"jump-host" in asset(host).tags`, true},
		{`asset(nothing).criticality`, nil},
		{`asset("10.0.1.10").owner`, "web-team"},
		{`host_criticality(host) == "high"`, true},
		{`host_criticality("laptop-1")`, ""},
		{`is_private(dst)`, true},
		{`is_private(src)`, false},
		{`is_private("fe80::1")`, true},
		{`is_private("nonsense")`, false},
		{`user_info(user).privileged`, true},
		{`user_info("alice").department`, "Engineering"},
		{`"sudo" in user_info(user).groups`, true},
		{`user_info("mallory").privileged ?? false`, false},
	}
	for _, tt := range tests {
		p, err := expr.Compile(tt.expr, append(opts, expr.Env(env))...)
		if err != nil {
			t.Fatalf("%s: %v", tt.expr, err)
		}
		got, err := expr.Run(p, env)
		if err != nil {
			t.Fatalf("%s: %v", tt.expr, err)
		}
		if got != tt.want {
			t.Errorf("%s = %#v, want %#v", tt.expr, got, tt.want)
		}
	}
	if _, err := s.RuleFunctions()["asset"](); err == nil {
		t.Error("asset() without an argument must be an error")
	}
	// Disabled enrichers answer as if they knew nothing.
	empty, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := empty.RuleFunctions()["in_intel"]("198.51.100.23"); v != false {
		t.Error("in_intel without feeds must be false")
	}
	if v, _ := empty.RuleFunctions()["is_private"]("10.0.0.1"); v != true {
		t.Error("is_private must work without the network enricher")
	}
}

// benchEvents returns n events with distinct public source addresses
// spread over the test databases' networks.
func benchEvents(n int) []event.Event {
	bases := []string{"81.2.69.142", "89.160.20.112", "216.160.83.56", "2.125.160.216", "175.16.199.0", "1.128.0.0", "2001:218::", "67.43.156.0"}
	out := make([]event.Event, n)
	for i := range out {
		a := netip.MustParseAddr(bases[i%len(bases)])
		for range i / len(bases) {
			a = a.Next()
		}
		ev := sshEvent()
		ev["source.ip"] = a.String()
		out[i] = ev
	}
	return out
}

// BenchmarkEnrich: every enricher on but rdns (a resolver would be
// measured, not Vigil) on an SSH login event with a public source, a
// private destination, a known host and a known user. Each iteration
// enriches a fresh copy of the event made as event.Unmarshal makes events
// off Kafka (room for 32 fields); the copy is not in the time.
// warm: the caches hold the answers. cold: every cache (the Set's and the
// enrichers') holds one entry and every event has another source address,
// so every lookup of it misses. default: the enrichers vigil scan runs
// without a configuration (network alone), warm.
func BenchmarkEnrich(b *testing.B) {
	for _, mode := range []string{"warm", "cold", "warm-each", "default"} {
		b.Run(mode, func(b *testing.B) {
			cfg := fullConfig(nil)
			if mode == "default" {
				cfg = DefaultConfig()
				cfg.ReloadInterval = -1
			}
			n := 1
			if mode == "cold" {
				n = 4096
				cfg.Network.CacheSize, cfg.GeoIP.CacheSize, cfg.ThreatIntel.CacheSize = 1, 1, 1
				cfg.Assets.CacheSize, cfg.Identity.CacheSize, cfg.CacheSize = 1, 1, 1
			}
			s, err := New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			s.planned = mode != "warm-each"
			events := benchEvents(n)
			ctx := context.Background()
			s.Enrich(ctx, decoded(events[0]))
			// Copies are made in batches with the timer stopped, so the
			// time is enrichment alone (with the map growth it causes).
			const batch = 1024
			fresh := make([]event.Event, batch)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if i%batch == 0 {
					b.StopTimer()
					for j := range fresh {
						fresh[j] = decoded(events[(i+j)%n])
					}
					b.StartTimer()
				}
				s.Enrich(ctx, fresh[i%batch])
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/event")
		})
	}
}

// decoded copies ev into a map sized as event.Unmarshal sizes it.
func decoded(ev event.Event) event.Event {
	c := make(event.Event, 32)
	for k, v := range ev {
		c[k] = v
	}
	return c
}

var sink event.Event

// BenchmarkCopy is the cost of the event copy inside BenchmarkEnrich.
func BenchmarkCopy(b *testing.B) {
	ev := sshEvent()
	b.ReportAllocs()
	for range b.N {
		sink = decoded(ev)
	}
}

// TestConcurrentEnrichAndReload runs detect workers against a feed being
// replaced; run with -race.
func TestConcurrentEnrichAndReload(t *testing.T) {
	path := writeFile(t, "list.txt", "192.0.2.1\n")
	s := newSetWithFeed(t, path)
	done := make(chan struct{})
	for w := range 2 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 500 {
				ev := sshEvent()
				ev["source.ip"] = fmt.Sprintf("192.0.2.%d", (i+w)%4)
				s.Enrich(context.Background(), ev)
				if _, flagged := ev[FieldErrors]; flagged {
					t.Errorf("flagged: %v", ev[FieldErrors])
					return
				}
			}
		}()
	}
	for i := range 20 {
		body := fmt.Sprintf("192.0.2.%d\n", i%4)
		if err := os.WriteFile(path+".new", []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".new", path); err != nil {
			t.Fatal(err)
		}
		if err := s.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	<-done
	<-done
	if st := s.Stats()["threatintel"]; st.Reloads == 0 {
		t.Errorf("no reloads counted: %+v", st)
	}
}

// newSetWithFeed is the full set of enrichers with one more threat-intel
// feed read from path, closed when the test ends.
func newSetWithFeed(t *testing.T, path string) *Set {
	t.Helper()
	cfg := fullConfig(nil)
	cfg.ThreatIntel.Feeds = append(cfg.ThreatIntel.Feeds, threatintel.Feed{Path: path})
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
