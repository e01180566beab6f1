package threatintel

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-siem/vigil/enrichers/lookup"
)

// Config is detect.enrich.threatintel. The enricher is on when a feed is set.
type Config struct {
	Feeds []Feed `yaml:"feeds"`
	// CacheSize bounds the match cache (entries; default 10000).
	CacheSize int `yaml:"cache_size"`
	// CacheTTL is how long a match answer is kept (default 10m).
	CacheTTL lookup.Duration `yaml:"cache_ttl"`
	// Now is the clock indicators expire by; nil is time.Now.
	Now func() time.Time `yaml:"-" json:"-"`
}

// Feed is one indicator file.
type Feed struct {
	// Name identifies the feed in errors and stats (default: the file name).
	Name string `yaml:"name"`
	Path string `yaml:"path"`
	// Format is list, csv, abusech or stix. Default: stix for .json,
	// abusech for .csv, list otherwise.
	Format string `yaml:"format"`
	// Type of every value in a list or a CSV without a type column: ip,
	// domain, url, md5, sha1, sha256. Empty: recognised value by value.
	Type string `yaml:"type"`
	// Provider is written to threat.enrichments.indicator.provider
	// (default: the feed's name).
	Provider string `yaml:"provider"`
	// Confidence for indicators that carry none (Low, Medium, High).
	Confidence string `yaml:"confidence"`
	// CSV describes a csv feed.
	CSV CSV `yaml:"csv"`
}

// CSV maps the columns of a csv feed. A column is a header name (when
// header is true) or a 1-based number.
type CSV struct {
	Header      bool   `yaml:"header"`
	Delimiter   string `yaml:"delimiter"` // default ","
	Value       string `yaml:"value"`     // required
	Type        string `yaml:"type"`      // values as for Feed.Type
	Description string `yaml:"description"`
	Reference   string `yaml:"reference"`
	Confidence  string `yaml:"confidence"`
	FirstSeen   string `yaml:"first_seen"`
	ValidUntil  string `yaml:"valid_until"`
}

func (f Feed) name() string {
	if f.Name != "" {
		return f.Name
	}
	return filepath.Base(f.Path)
}

func (f Feed) format() string {
	if f.Format != "" {
		return strings.ToLower(f.Format)
	}
	switch strings.ToLower(filepath.Ext(f.Path)) {
	case ".json":
		return "stix"
	case ".csv":
		return "abusech"
	}
	return "list"
}

var typeNames = map[string]Kind{
	"ip": KindIP, "ipv4-addr": KindIP, "ipv6-addr": KindIP, "ip-dst": KindIP, "ip-src": KindIP, "ip:port": KindIP,
	"domain": KindDomain, "domain-name": KindDomain, "hostname": KindDomain,
	"url": KindURL,
	"md5": KindMD5, "md5_hash": KindMD5,
	"sha1": KindSHA1, "sha1_hash": KindSHA1, "sha-1": KindSHA1,
	"sha256": KindSHA256, "sha256_hash": KindSHA256, "sha-256": KindSHA256,
}

// errUnsupported marks a value of a type Vigil does not match on (an
// e-mail address in a ThreatFox export): it is skipped, not an error.
var errUnsupported = errors.New("unsupported indicator type")

// load reads a feed file. Lines or objects of types Vigil cannot match are
// counted in skipped; a malformed value is an error naming file and line.
func load(f Feed) ([]*Indicator, int, error) {
	data, err := os.ReadFile(f.Path)
	if err != nil {
		return nil, 0, fmt.Errorf("feed %s: %w", f.name(), err)
	}
	var out []*Indicator
	var skipped int
	switch f.format() {
	case "stix":
		out, skipped, err = parseSTIX(data, f)
	case "list":
		out, skipped, err = parseList(data, f)
	case "csv":
		out, skipped, err = parseCSV(data, f)
	case "abusech":
		out, skipped, err = parseAbuseCH(data, f)
	default:
		return nil, 0, fmt.Errorf("feed %s: format %q is not list, csv, abusech or stix", f.name(), f.Format)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("feed %s (%s): %w", f.name(), f.Path, err)
	}
	return out, skipped, nil
}

// newIndicator builds an indicator of a kind (0: recognise the value).
func newIndicator(k Kind, v string, f Feed) (*Indicator, error) {
	v = strings.TrimSpace(v)
	in := &Indicator{Kind: k, Feed: f.name(), Provider: f.Provider, Confidence: f.Confidence}
	if k == 0 {
		gk, p, ok := guessKind(v)
		if !ok {
			return nil, fmt.Errorf("%q is not an address, CIDR, domain, URL or hash", clip(v))
		}
		in.Kind, in.Prefix = gk, p
	}
	if in.Kind == KindIP {
		if !in.Prefix.IsValid() {
			p, ok := parseIPOrCIDR(stripPort(v))
			if !ok {
				return nil, fmt.Errorf("%q is not an IP address or CIDR", clip(v))
			}
			in.Prefix = p
		}
		in.Value = in.Prefix.String()
		if in.Prefix.IsSingleIP() {
			in.Value = in.Prefix.Addr().String()
		}
		return in, nil
	}
	in.Value = normalize(in.Kind, v)
	if in.Value == "" {
		return nil, fmt.Errorf("%q is not a valid %s", clip(v), kindName(in.Kind))
	}
	return in, nil
}

// stripPort removes the port of ThreatFox's ip:port values.
func stripPort(v string) string {
	if strings.Count(v, ":") == 1 {
		host, _, _ := strings.Cut(v, ":")
		return host
	}
	if strings.HasPrefix(v, "[") {
		if end := strings.Index(v, "]"); end > 0 {
			return v[1:end]
		}
	}
	return v
}

func kindName(k Kind) string {
	return [...]string{"", "IP address", "domain", "URL", "MD5 hash", "SHA-1 hash", "SHA-256 hash"}[k]
}

func kindOf(name string) (Kind, error) {
	if name == "" {
		return 0, nil
	}
	k, ok := typeNames[strings.ToLower(strings.TrimSpace(name))]
	if !ok {
		return 0, errUnsupported
	}
	return k, nil
}

func parseList(data []byte, f Feed) ([]*Indicator, int, error) {
	k, err := kindOf(f.Type)
	if err != nil {
		return nil, 0, fmt.Errorf("type %q is not ip, domain, url, md5, sha1 or sha256", f.Type)
	}
	var out []*Indicator
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		// A value may be followed by a comment: "198.51.100.7 # scanner".
		if i := strings.IndexAny(line, " \t"); i > 0 {
			line = line[:i]
		}
		in, err := newIndicator(k, line, f)
		if err != nil {
			return nil, 0, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, in)
	}
	if err := sc.Err(); err != nil {
		return nil, 0, err
	}
	return out, 0, nil
}

// columns are resolved column positions (-1: absent).
type columns struct {
	value, typ, desc, ref, conf, first, until int
}

func resolve(spec string, header []string) (int, error) {
	if spec == "" {
		return -1, nil
	}
	if n, err := strconv.Atoi(spec); err == nil {
		if n < 1 {
			return -1, fmt.Errorf("column %d: columns are numbered from 1", n)
		}
		return n - 1, nil
	}
	for i, h := range header {
		if strings.EqualFold(strings.TrimSpace(h), spec) {
			return i, nil
		}
	}
	if header == nil {
		return -1, fmt.Errorf("column %q: name columns only with header: true, else number them", spec)
	}
	return -1, fmt.Errorf("column %q is not in the header %v", spec, header)
}

func newCSVReader(r io.Reader, delim string) *csv.Reader {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	if delim != "" {
		cr.Comma = []rune(delim)[0]
	}
	return cr
}

func parseCSV(data []byte, f Feed) ([]*Indicator, int, error) {
	if f.CSV.Value == "" {
		return nil, 0, errors.New("csv.value: say which column holds the indicator")
	}
	cr := newCSVReader(bytes.NewReader(data), f.CSV.Delimiter)
	var header []string
	if f.CSV.Header {
		h, err := cr.Read()
		if err != nil {
			return nil, 0, fmt.Errorf("header: %w", err)
		}
		header = append([]string(nil), h...)
	}
	var c columns
	var err error
	for _, r := range []struct {
		dst  *int
		spec string
	}{
		{&c.value, f.CSV.Value}, {&c.typ, f.CSV.Type}, {&c.desc, f.CSV.Description},
		{&c.ref, f.CSV.Reference}, {&c.conf, f.CSV.Confidence}, {&c.first, f.CSV.FirstSeen}, {&c.until, f.CSV.ValidUntil},
	} {
		if *r.dst, err = resolve(r.spec, header); err != nil {
			return nil, 0, fmt.Errorf("csv: %w", err)
		}
	}
	return readRows(cr, f, func(rec []string) ([]cell, error) {
		return []cell{{kind: typeCell(rec, c.typ, f.Type), value: at(rec, c.value)}}, nil
	}, c)
}

// cell is one indicator value of a row and its type name.
type cell struct {
	kind  string
	value string
}

func typeCell(rec []string, col int, def string) string {
	if t := at(rec, col); t != "" {
		return t
	}
	return def
}

func at(rec []string, i int) string {
	if i < 0 || i >= len(rec) {
		return ""
	}
	return strings.TrimSpace(rec[i])
}

// readRows turns rows into indicators: cells gives a row's values, the
// columns its details.
func readRows(cr *csv.Reader, f Feed, cells func([]string) ([]cell, error), c columns) ([]*Indicator, int, error) {
	var out []*Indicator
	skipped := 0
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, skipped, nil
		}
		if err != nil {
			return nil, 0, err
		}
		line, _ := cr.FieldPos(0)
		cs, err := cells(rec)
		if err != nil {
			return nil, 0, fmt.Errorf("line %d: %w", line, err)
		}
		first, err := parseDate(at(rec, c.first))
		if err != nil {
			return nil, 0, fmt.Errorf("line %d: first seen: %w", line, err)
		}
		until, err := parseDate(at(rec, c.until))
		if err != nil {
			return nil, 0, fmt.Errorf("line %d: valid until: %w", line, err)
		}
		for _, cl := range cs {
			if cl.value == "" {
				continue
			}
			k, err := kindOf(cl.kind)
			if err != nil {
				skipped++
				continue
			}
			in, err := newIndicator(k, cl.value, f)
			if err != nil {
				return nil, 0, fmt.Errorf("line %d: %w", line, err)
			}
			in.Description = at(rec, c.desc)
			in.Reference = at(rec, c.ref)
			if conf := at(rec, c.conf); conf != "" {
				in.Confidence = conf
			}
			in.FirstSeen, in.ValidUntil = first, until
			out = append(out, in)
		}
	}
}

// parseDate reads the dates feeds write: RFC 3339, "2006-01-02 15:04:05"
// (UTC, abuse.ch) or a bare date.
func parseDate(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02 15:04:05 MST", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date (RFC 3339 or 2006-01-02 15:04:05)", clip(s))
}

// abuse.ch column names and the kind of value they hold.
var abuseValueColumns = map[string]Kind{
	"url": KindURL, "dst_ip": KindIP, "dstip": KindIP, "ip_address": KindIP,
	"md5_hash": KindMD5, "sha1_hash": KindSHA1, "sha256_hash": KindSHA256, "sha1": KindSHA1,
}

var abuseDetailColumns = map[string]string{
	"malware_printable": "desc", "malware": "desc", "threat": "desc", "signature": "desc", "listingreason": "desc",
	"reference": "ref", "urlhaus_link": "ref",
	"confidence_level": "conf",
	"first_seen_utc":   "first", "dateadded": "first", "firstseen": "first", "listingdate": "first",
}

// parseAbuseCH reads the CSV exports of abuse.ch (URLhaus, ThreatFox,
// Feodo Tracker, MalwareBazaar, SSLBL): '#' comment lines, the last of
// which before the data names the columns, then quoted rows.
func parseAbuseCH(data []byte, f Feed) ([]*Indicator, int, error) {
	var header []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if !strings.HasPrefix(line, "#") {
			break
		}
		body := strings.TrimSpace(strings.TrimPrefix(line, "#"))
		if strings.Count(body, ",") >= 1 {
			rec, err := csv.NewReader(strings.NewReader(body)).Read()
			if err == nil {
				header = rec
			}
		}
	}
	if header == nil {
		return nil, 0, errors.New("no '# column,column' header line (is this an abuse.ch CSV export? else use format: csv)")
	}
	c := columns{value: -1, typ: -1, desc: -1, ref: -1, conf: -1, first: -1, until: -1}
	var values []int
	var kinds []Kind
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		if k, ok := abuseValueColumns[h]; ok {
			values, kinds = append(values, i), append(kinds, k)
		}
		switch h {
		case "ioc_value":
			c.value = i
		case "ioc_type":
			c.typ = i
		}
		switch abuseDetailColumns[h] {
		case "desc":
			if c.desc < 0 {
				c.desc = i
			}
		case "ref":
			c.ref = i
		case "conf":
			c.conf = i
		case "first":
			c.first = i
		}
	}
	if c.value < 0 && len(values) == 0 {
		return nil, 0, fmt.Errorf("header %v has no indicator column (ioc_value, url, dst_ip, sha256_hash, md5_hash, sha1_hash)", header)
	}
	cr := newCSVReader(bytes.NewReader(data), "")
	return readRows(cr, f, func(rec []string) ([]cell, error) {
		if c.value >= 0 {
			return []cell{{kind: typeCell(rec, c.typ, f.Type), value: at(rec, c.value)}}, nil
		}
		cs := make([]cell, 0, len(values))
		for j, col := range values {
			cs = append(cs, cell{kind: kindKey(kinds[j]), value: at(rec, col)})
		}
		return cs, nil
	}, c)
}

func kindKey(k Kind) string {
	return [...]string{"", "ip", "domain", "url", "md5", "sha1", "sha256"}[k]
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
