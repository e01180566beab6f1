package threatintel

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-siem/vigil/event"
)

func allFeeds() Config {
	return Config{Feeds: []Feed{
		{Path: "testdata/bundle.json", Provider: "Example CERT"},
		{Path: "testdata/blocklist.txt"},
		{Name: "custom", Path: "testdata/custom.csv", Format: "csv", CSV: CSV{
			Header: true, Delimiter: ";", Value: "indicator", Type: "kind", Description: "comment", ValidUntil: "expires",
		}},
		{Path: "testdata/threatfox.csv"},
		{Path: "testdata/urlhaus.csv", Format: "abusech"},
	}}
}

// matched returns "field=indicator value" for each threat.enrichments entry.
func matched(t *testing.T, ev event.Event) []string {
	t.Helper()
	var out []string
	list, _ := ev[FieldEnrichments].([]any)
	for _, m := range list {
		entry := m.(map[string]any)
		ind := entry["indicator"].(map[string]any)
		mt := entry["matched"].(map[string]any)
		if mt["atomic"] != ev[mt["field"].(string)] {
			t.Errorf("matched.atomic %v is not the value of %v", mt["atomic"], mt["field"])
		}
		v := ind["ip"]
		switch {
		case ind["url"] != nil:
			u := ind["url"].(map[string]any)
			if u["domain"] != nil {
				v = u["domain"]
			} else {
				v = u["full"]
			}
		case ind["file"] != nil:
			for _, h := range ind["file"].(map[string]any)["hash"].(map[string]any) {
				v = h
			}
		}
		out = append(out, mt["field"].(string)+"="+v.(string))
	}
	slices.Sort(out)
	return out
}

func TestFeedsMatchTheRightEvents(t *testing.T) {
	e, err := New(allFeeds())
	if err != nil {
		t.Fatal(err)
	}
	sha256 := "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	tests := []struct {
		name string
		ev   event.Event
		want []string
	}{
		{"STIX address", event.Event{"source.ip": "198.51.100.23"}, []string{"source.ip=198.51.100.23"}},
		{"STIX CIDR first address", event.Event{"destination.ip": "203.0.113.0"}, []string{"destination.ip=203.0.113.0/25"}},
		{"STIX CIDR last address", event.Event{"source.ip": "203.0.113.127"}, []string{"source.ip=203.0.113.0/25"}},
		{"just past the CIDR", event.Event{"source.ip": "203.0.113.128"}, nil},
		{"IPv6 CIDR", event.Event{"source.ip": "2001:db8:bad:1::5"}, []string{"source.ip=2001:db8:bad::/48"}},
		{"IPv6 outside", event.Event{"source.ip": "2001:db8:bae::5"}, nil},
		{"IPv4-mapped IPv6 address", event.Event{"source.ip": "::ffff:198.51.100.23"}, []string{"source.ip=198.51.100.23"}},
		{"domain in another case", event.Event{"destination.domain": "LOGIN-portal.example.net"}, []string{"destination.domain=login-portal.example.net"}},
		{"domain with trailing dot", event.Event{"dns.question.name": "login-portal.example.net."}, []string{"dns.question.name=login-portal.example.net"}},
		{"subdomain is not the domain", event.Event{"url.domain": "www.login-portal.example.net"}, nil},
		{"URL with host in another case", event.Event{"url.full": "HTTP://FILES.example.org/payload/X.sh"}, []string{"url.full=http://files.example.org/payload/X.sh"}},
		{"URL path is case sensitive", event.Event{"url.full": "http://files.example.org/payload/x.sh"}, nil},
		{"SHA-256 upper case in the feed", event.Event{"file.hash.sha256": sha256}, []string{"file.hash.sha256=" + sha256}},
		{"MD5", event.Event{"process.hash.md5": "D41D8CD98F00B204E9800998ECF8427E"}, []string{"process.hash.md5=d41d8cd98f00b204e9800998ecf8427e"}},
		{"SHA-1", event.Event{"file.hash.sha1": "da39a3ee5e6b4b0d3255bfef95601890afd80709"}, []string{"file.hash.sha1=da39a3ee5e6b4b0d3255bfef95601890afd80709"}},
		{"an MD5 value in a SHA-1 field", event.Event{"file.hash.sha1": "d41d8cd98f00b204e9800998ecf8427e"}, nil},
		{"expired STIX indicator", event.Event{"source.ip": "192.0.2.66"}, nil},
		{"AND pattern not loaded", event.Event{"source.ip": "192.0.2.77"}, nil},
		{"revoked indicator", event.Event{"source.ip": "192.0.2.88"}, nil},
		{"list address", event.Event{"source.ip": "192.0.2.10"}, []string{"source.ip=192.0.2.10"}},
		{"list CIDR last address", event.Event{"source.ip": "192.0.2.191"}, []string{"source.ip=192.0.2.128/26"}},
		{"list CIDR past the end", event.Event{"source.ip": "192.0.2.192"}, nil},
		{"list CIDR before", event.Event{"source.ip": "192.0.2.127"}, nil},
		{"list IPv6 address written short", event.Event{"source.ip": "2001:0db8:0000::dead"}, []string{"source.ip=2001:db8::dead"}},
		{"list domain", event.Event{"url.domain": "malware-drop.example.COM"}, []string{"url.domain=malware-drop.example.com"}},
		{"CSV address", event.Event{"destination.ip": "192.0.2.200"}, []string{"destination.ip=192.0.2.200"}},
		{"CSV expired", event.Event{"destination.ip": "192.0.2.201"}, nil},
		{"CSV hash", event.Event{"file.hash.md5": "0123456789ABCDEF0123456789ABCDEF"}, []string{"file.hash.md5=0123456789abcdef0123456789abcdef"}},
		{"ThreatFox ip:port", event.Event{"destination.ip": "198.51.100.77"}, []string{"destination.ip=198.51.100.77"}},
		{"ThreatFox domain", event.Event{"destination.domain": "update-check.example.net"}, []string{"destination.domain=update-check.example.net"}},
		{"URLhaus URL", event.Event{"url.original": "https://cdn.example.org/Loader.EXE"}, []string{"url.original=https://cdn.example.org/Loader.EXE"}},
		{"two fields match", event.Event{"source.ip": "198.51.100.23", "url.full": "http://198.51.100.23/x.sh"},
			[]string{"source.ip=198.51.100.23", "url.full=http://198.51.100.23/x.sh"}},
		{"clean event", event.Event{"source.ip": "8.8.8.8", "destination.domain": "example.com", "file.hash.md5": "ffffffffffffffffffffffffffffffff"}, nil},
		{"garbage values", event.Event{"source.ip": "not an ip", "file.hash.sha256": "zz", "url.full": "://"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Twice: the second answer comes from the cache.
			for range 2 {
				ev := event.Event{}
				for k, v := range tt.ev {
					ev[k] = v
				}
				if err := e.Enrich(context.Background(), ev); err != nil {
					t.Fatal(err)
				}
				if got := matched(t, ev); !slices.Equal(got, tt.want) {
					t.Fatalf("matches = %v, want %v", got, tt.want)
				}
			}
		})
	}
	if st := e.Stats(); st.CacheHits == 0 || st.Entries < 15 {
		t.Errorf("stats = %+v, want cache hits and every indicator loaded", st)
	}
	if e.Skipped() != 4 { // AND pattern, revoked, sigma pattern, envelope_from
		t.Errorf("skipped = %d, want 4", e.Skipped())
	}
}

func TestIndicatorDetails(t *testing.T) {
	e, err := New(allFeeds())
	if err != nil {
		t.Fatal(err)
	}
	ev := event.Event{"source.ip": "198.51.100.23"}
	if err := e.Enrich(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	ind := ev[FieldEnrichments].([]any)[0].(map[string]any)["indicator"].(map[string]any)
	want := map[string]any{"type": "ipv4-addr", "provider": "Example CERT", "name": "SSH scanner",
		"description": "Brute-forces SSH", "confidence": "High", "reference": "https://intel.example/ind/1",
		"first_seen": "2025-11-01T00:00:00Z"}
	for k, v := range want {
		if ind[k] != v {
			t.Errorf("indicator.%s = %v, want %v", k, ind[k], v)
		}
	}
}

func TestInIntel(t *testing.T) {
	e, err := New(allFeeds())
	if err != nil {
		t.Fatal(err)
	}
	for v, want := range map[string]bool{
		"198.51.100.23": true, "203.0.113.5": true, "203.0.113.200": false, "Login-Portal.example.net": true,
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855": true, "192.0.2.66": false,
		"http://198.51.100.23/x.sh": true, "": false, "203.0.113.0/25": false, "hello": false,
	} {
		if got := e.Match(v) != nil; got != want {
			t.Errorf("Match(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestBadFeedIsStartupError(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	unreadable := filepath.Join(dir, "unreadable.txt")
	tests := []struct {
		feed Feed
		want string
	}{
		{Feed{Path: filepath.Join(dir, "missing.txt")}, "feed missing.txt: open "},
		{Feed{Path: write("bad.txt", "192.0.2.1\n\nnot a thing at all\n")}, "bad.txt): line 3: \"not\" is not an address"},
		{Feed{Path: write("bad.json", `{"type":"bundle","objects":[`)}, "bad.json): not a STIX bundle"},
		{Feed{Path: write("notbundle.json", `{"type":"indicator"}`)}, "not a STIX bundle: type is \"indicator\""},
		{Feed{Path: write("plain.csv", "a,b\n1,2\n")}, "no '# column,column' header"},
		{Feed{Path: write("c.csv", "x\n"), Format: "csv", CSV: CSV{Value: "ioc"}}, "name columns only with header: true"},
		{Feed{Path: write("d.csv", "ioc\n192.0.2.1\n"), Format: "csv", CSV: CSV{Header: true, Value: "indicator"}}, "column \"indicator\" is not in the header"},
		{Feed{Path: write("e.csv", "192.0.2.1,tomorrow\n"), Format: "csv", CSV: CSV{Value: "1", ValidUntil: "2"}}, "line 1: valid until: \"tomorrow\" is not a date"},
		{Feed{Path: write("f.txt", "1.2.3.4\n"), Format: "xml"}, "format \"xml\" is not list"},
		{Feed{Path: write("g.txt", "zzz\n"), Type: "md5"}, "line 1: \"zzz\" is not a valid MD5 hash"},
		{Feed{Path: unreadable}, "unreadable.txt"},
	}
	if err := os.Mkdir(unreadable, 0o700); err != nil { // a directory cannot be read as a file
		t.Fatal(err)
	}
	for _, tt := range tests {
		_, err := New(Config{Feeds: []Feed{tt.feed}})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("feed %s: error = %v, want it to contain %q", tt.feed.Path, err, tt.want)
		}
	}
}

func TestReplacedFeedIsReloaded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "list.txt")
	replace := func(body string) {
		tmp := path + ".new"
		if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	replace("192.0.2.1\n")
	e, err := New(Config{Feeds: []Feed{{Path: path}}})
	if err != nil {
		t.Fatal(err)
	}
	hit := func(ip string) bool {
		ev := event.Event{"source.ip": ip}
		_ = e.Enrich(context.Background(), ev)
		return ev[FieldEnrichments] != nil
	}
	if !hit("192.0.2.1") || hit("192.0.2.2") {
		t.Fatal("before reload: want 192.0.2.1 only")
	}
	replace("192.0.2.2\n")
	if changed, err := e.Reload(); !changed || err != nil {
		t.Fatalf("Reload = %v, %v", changed, err)
	}
	if hit("192.0.2.1") || !hit("192.0.2.2") {
		t.Fatal("after reload: want 192.0.2.2 only (cached answers must be dropped)")
	}
	replace("garbage line\n")
	if _, err := e.Reload(); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("Reload of a bad feed: %v, want a line 1 error", err)
	}
	if !hit("192.0.2.2") {
		t.Fatal("a bad replacement must keep the previous indicators")
	}
}

func FuzzParsePattern(f *testing.F) {
	for _, s := range []string{
		"[ipv4-addr:value = '198.51.100.23']",
		"[ipv4-addr:value ISSUBSET '203.0.113.0/25']",
		"[domain-name:value = 'a.example'] OR [url:value = 'http://x/\\'y']",
		"[file:hashes.'SHA-256' = 'e3b0' OR file:hashes.MD5 = 'd41d']",
		"[ipv4-addr:value = '1.2.3.4' AND domain-name:value = 'x']",
		"[", "", "[]", "[a:b = 'c'] FOLLOWEDBY [d:e = 'f']",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		obs, ok := parsePattern(p)
		if ok && len(obs) == 0 {
			t.Fatalf("%q: accepted with no observables", p)
		}
	})
}

func FuzzFeeds(f *testing.F) {
	for _, name := range []string{"bundle.json", "blocklist.txt", "threatfox.csv", "urlhaus.csv", "custom.csv"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		feed := Feed{Name: "fuzz"}
		for _, parse := range []func([]byte, Feed) ([]*Indicator, int, error){parseSTIX, parseList, parseAbuseCH} {
			ins, _, err := parse(data, feed)
			if err != nil {
				continue
			}
			for _, in := range ins {
				if in.Value == "" || in.Kind == 0 {
					t.Fatalf("indicator with no value or kind: %+v", in)
				}
			}
		}
	})
}
