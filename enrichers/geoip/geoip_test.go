package geoip

import (
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/vigil-siem/vigil/event"
)

const (
	cityDB = "testdata/GeoIP2-City-Test.mmdb"
	asnDB  = "testdata/GeoLite2-ASN-Test.mmdb"
	oracle = "testdata/GeoIP2-City-Test.json"
)

type oracleNames map[string]string

type oracleRecord struct {
	City struct {
		Names oracleNames `json:"names"`
	} `json:"city"`
	Continent struct {
		Code  string      `json:"code"`
		Names oracleNames `json:"names"`
	} `json:"continent"`
	Country struct {
		ISOCode string      `json:"iso_code"`
		Names   oracleNames `json:"names"`
	} `json:"country"`
	Location *struct {
		Latitude  *float64 `json:"latitude"`
		Longitude *float64 `json:"longitude"`
		TimeZone  string   `json:"time_zone"`
	} `json:"location"`
	Postal struct {
		Code string `json:"code"`
	} `json:"postal"`
	Subdivisions []struct {
		ISOCode string      `json:"iso_code"`
		Names   oracleNames `json:"names"`
	} `json:"subdivisions"`
}

type oracleNet struct {
	prefix netip.Prefix
	rec    oracleRecord
}

// loadOracle reads MaxMind's source data for the test database. Networks
// written as ::a.b.c.d/n (IPv4 in the IPv6 tree) become IPv4 prefixes,
// which is how events carry them.
func loadOracle(t *testing.T) []oracleNet {
	t.Helper()
	raw, err := os.ReadFile(oracle)
	if err != nil {
		t.Fatal(err)
	}
	var list []map[string]oracleRecord
	if err := json.Unmarshal(raw, &list); err != nil {
		t.Fatal(err)
	}
	var out []oracleNet
	for _, m := range list {
		for k, rec := range m {
			p := netip.MustParsePrefix(k)
			if p.Addr().Is6() && p.Bits() >= 96 && strings.HasPrefix(k, "::") && strings.Contains(k, ".") {
				a := p.Addr().As16()
				p = netip.PrefixFrom(netip.AddrFrom4([4]byte(a[12:])), p.Bits()-96)
			}
			out = append(out, oracleNet{prefix: p, rec: rec})
		}
	}
	return out
}

// expectedFor is the record of the most specific oracle network holding
// a (the last one listed when two are equal, as the database builder
// inserts them in order).
func expectedFor(nets []oracleNet, a netip.Addr) (oracleRecord, bool) {
	best := -1
	for i, n := range nets {
		if n.prefix.Contains(a) && (best < 0 || n.prefix.Bits() >= nets[best].prefix.Bits()) {
			best = i
		}
	}
	if best < 0 {
		return oracleRecord{}, false
	}
	return nets[best].rec, true
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 1 << (7 - i%8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func TestLookupsAgreeWithOracle(t *testing.T) {
	e, err := New(Config{CityDatabase: cityDB})
	if err != nil {
		t.Fatal(err)
	}
	nets := loadOracle(t)
	if len(nets) < 200 {
		t.Fatalf("oracle has %d networks, want the full file", len(nets))
	}
	var v4, v6 int
	for _, n := range nets {
		for _, a := range []netip.Addr{n.prefix.Masked().Addr(), lastAddr(n.prefix)} {
			want, _ := expectedFor(nets, a)
			ev := event.Event{"source.ip": a.String()}
			if err := e.Enrich(context.Background(), ev); err != nil {
				t.Fatalf("%s: %v", a, err)
			}
			if a.Is4() {
				v4++
			} else {
				v6++
			}
			check := func(field, want string) {
				t.Helper()
				if got := ev.String(field); got != want {
					t.Errorf("%s (%s): %s = %q, want %q", a, n.prefix, field, got, want)
				}
			}
			check("source.geo.country_iso_code", want.Country.ISOCode)
			check("source.geo.country_name", want.Country.Names["en"])
			check("source.geo.continent_code", want.Continent.Code)
			check("source.geo.continent_name", want.Continent.Names["en"])
			check("source.geo.city_name", want.City.Names["en"])
			check("source.geo.postal_code", want.Postal.Code)
			region, regionName := "", ""
			if k := len(want.Subdivisions); k > 0 {
				region = want.Country.ISOCode + "-" + want.Subdivisions[k-1].ISOCode
				regionName = want.Subdivisions[k-1].Names["en"]
			}
			check("source.geo.region_iso_code", region)
			check("source.geo.region_name", regionName)
			tz := ""
			if want.Location != nil {
				tz = want.Location.TimeZone
			}
			check("source.geo.timezone", tz)
			loc, _ := ev["source.geo.location"].(map[string]any)
			if want.Location != nil && want.Location.Latitude != nil {
				if loc == nil || loc["lat"] != *want.Location.Latitude || loc["lon"] != *want.Location.Longitude {
					t.Errorf("%s: location = %v, want lat %v lon %v", a, loc, *want.Location.Latitude, *want.Location.Longitude)
				}
			} else if loc != nil {
				t.Errorf("%s: location = %v, want none", a, loc)
			}
		}
	}
	if v4 == 0 || v6 == 0 {
		t.Fatalf("checked %d IPv4 and %d IPv6 addresses, want both", v4, v6)
	}
}

func TestEnrich(t *testing.T) {
	e, err := New(Config{CityDatabase: cityDB, ASNDatabase: asnDB})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		ev   event.Event
		want map[string]any // nil value: field must be absent
	}{
		{"London source, ASN-less", event.Event{"source.ip": "81.2.69.142"}, map[string]any{
			"source.geo.city_name": "London", "source.geo.country_iso_code": "GB",
			"source.geo.region_iso_code": "GB-ENG", "source.as.number": nil,
		}},
		{"both sides", event.Event{"source.ip": "1.128.0.1", "destination.ip": "89.160.20.113"}, map[string]any{
			"source.as.number": int64(1221), "source.as.organization.name": "Telstra Pty Ltd",
			"destination.geo.country_iso_code": "SE", "destination.geo.city_name": "Linköping",
		}},
		{"IPv6", event.Event{"destination.ip": "2001:218::1"}, map[string]any{
			"destination.geo.country_iso_code": "JP", "destination.geo.timezone": "Asia/Tokyo",
		}},
		{"private address not looked up", event.Event{"source.ip": "10.1.2.3"}, map[string]any{
			"source.geo.country_iso_code": nil, "source.as.number": nil,
		}},
		{"unknown public address", event.Event{"source.ip": "8.8.8.8"}, map[string]any{
			"source.geo.country_iso_code": nil,
		}},
		{"not an address", event.Event{"source.ip": "not-an-ip"}, map[string]any{
			"source.geo.country_iso_code": nil,
		}},
		{"collector's own geo kept", event.Event{"source.ip": "81.2.69.142", "source.geo.country_iso_code": "XX"}, map[string]any{
			"source.geo.country_iso_code": "XX", "source.geo.city_name": "London",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := e.Enrich(context.Background(), tt.ev); err != nil {
				t.Fatal(err)
			}
			for k, want := range tt.want {
				got, has := tt.ev[k]
				if want == nil {
					if has {
						t.Errorf("%s = %v, want absent", k, got)
					}
					continue
				}
				if got != want {
					t.Errorf("%s = %#v, want %#v", k, got, want)
				}
			}
		})
	}
	st := e.Stats()
	if st.CacheMisses == 0 || st.Lookups == 0 || st.CacheSize == 0 {
		t.Errorf("stats = %+v, want lookups, misses and a non-empty cache", st)
	}
}

func TestBadDatabaseIsStartupError(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.mmdb")
	if err := os.WriteFile(corrupt, []byte("this is not a MaxMind database"), 0o600); err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.mmdb")
	raw, _ := os.ReadFile(cityDB)
	if err := os.WriteFile(truncated, raw[:len(raw)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{CityDatabase: corrupt}, "geoip.city_database: " + corrupt + " is not a MaxMind DB file"},
		{Config{ASNDatabase: truncated}, "geoip.asn_database: " + truncated + " is not a MaxMind DB file"},
		{Config{CityDatabase: filepath.Join(dir, "missing.mmdb")}, "geoip.city_database: open "},
		{Config{}, "set city_database or asn_database"},
	}
	for _, tt := range tests {
		_, err := New(tt.cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) error = %v, want it to contain %q", tt.cfg, err, tt.want)
		}
	}
}

// writeDB writes a City database mapping one network to a country.
func writeDB(t *testing.T, path, cidr, country string) {
	t.Helper()
	w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoIP2-City", RecordSize: 24})
	if err != nil {
		t.Fatal(err)
	}
	_, n, _ := net.ParseCIDR(cidr)
	if err := w.Insert(n, mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String(country)}}); err != nil {
		t.Fatal(err)
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestReplacedDatabaseIsReloaded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "city.mmdb")
	writeDB(t, path, "81.2.69.0/24", "GB")
	e, err := New(Config{CityDatabase: path})
	if err != nil {
		t.Fatal(err)
	}
	country := func() string {
		ev := event.Event{"source.ip": "81.2.69.142"}
		if err := e.Enrich(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		return ev.String("source.geo.country_iso_code")
	}
	if got := country(); got != "GB" {
		t.Fatalf("before reload: %q, want GB", got)
	}
	if changed, err := e.Reload(); changed || err != nil {
		t.Fatalf("Reload of an unchanged file = %v, %v", changed, err)
	}
	writeDB(t, path, "81.2.69.0/24", "DE")
	if changed, err := e.Reload(); !changed || err != nil {
		t.Fatalf("Reload after replace = %v, %v", changed, err)
	}
	if got := country(); got != "DE" {
		t.Fatalf("after reload: %q, want DE (the cache must be emptied)", got)
	}
	// A broken replacement keeps the good database in use.
	if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if changed, err := e.Reload(); changed || err == nil {
		t.Fatalf("Reload of a corrupt file = %v, %v; want an error", changed, err)
	}
	if got := country(); got != "DE" {
		t.Fatalf("after bad reload: %q, want DE", got)
	}
	if st := e.Stats(); st.Reloads != 1 || st.ReloadErrors != 1 || st.LastReloadError == "" {
		t.Errorf("stats = %+v, want 1 reload and 1 reload error", st)
	}
}

func FuzzEnrich(f *testing.F) {
	for _, s := range []string{"81.2.69.142", "2001:218::1", "::ffff:81.2.69.142", "fe80::1%eth0", "10.0.0.1", "", "1.2.3", "::214.0.0.1"} {
		f.Add(s, s)
	}
	e, err := New(Config{CityDatabase: cityDB, ASNDatabase: asnDB, CacheSize: 64})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, src, dst string) {
		ev := event.Event{"source.ip": src, "destination.ip": dst}
		if err := e.Enrich(context.Background(), ev); err != nil {
			t.Fatalf("a valid database must answer every address: %v", err)
		}
	})
}
