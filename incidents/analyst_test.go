package incidents_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	vigil "github.com/vigil-siem/vigil"
	"github.com/vigil-siem/vigil/collectors"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/incidents"
	"github.com/vigil-siem/vigil/indexer"
	"github.com/vigil-siem/vigil/indexer/estest"
	"github.com/vigil-siem/vigil/triage"
)

// bothSources is the demo in files and in Elasticsearch.
func bothSources(t *testing.T, docs []indexer.Doc) map[string]incidents.Source {
	t.Helper()
	esSrc, _ := esSource(t, docs)
	return map[string]incidents.Source{"files": fileSource(t, docs), "elasticsearch": esSrc}
}

func suspicious(t *testing.T, vs []triage.Verdict) triage.Verdict {
	t.Helper()
	for _, v := range vs {
		if v.Triage.Verdict == triage.Suspicious {
			return v
		}
	}
	t.Fatal("the scenario has no suspicious incident")
	return triage.Verdict{}
}

func list(t *testing.T, src incidents.Source, f incidents.Filter) string {
	t.Helper()
	var b strings.Builder
	if err := incidents.List(context.Background(), src, f, &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// An incident an analyst marked false_positive is listed as a false
// positive (--verdict matches the analyst's verdict), no longer as what
// triage said; --triage-verdict still finds it by triage's verdict.
func TestListVerdictIsTheAnalystsAfterFeedback(t *testing.T) {
	res, docs := demo(t)
	sus, mal := suspicious(t, res.Verdicts), malicious(t, res)
	for name, src := range bothSources(t, docs) {
		t.Run(name, func(t *testing.T) {
			if err := incidents.Feedback(context.Background(), src, sus.ID(), triage.FalsePositive, "our red team's scanner", &strings.Builder{}); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				f       incidents.Filter
				listed  bool // the corrected incident
				control bool // the malicious one, without feedback
			}{
				{incidents.Filter{Verdict: triage.FalsePositive}, true, false},
				{incidents.Filter{Verdict: triage.Suspicious}, false, false},
				{incidents.Filter{Verdict: triage.Malicious}, false, true},
				{incidents.Filter{TriageVerdict: triage.Suspicious}, true, false},
				{incidents.Filter{TriageVerdict: triage.FalsePositive}, false, false},
				{incidents.Filter{TriageVerdict: triage.Suspicious, Verdict: triage.FalsePositive}, true, false},
			} {
				out := list(t, src, c.f)
				if got := strings.Contains(out, sus.ID()); got != c.listed {
					t.Errorf("%+v: corrected incident listed %v, want %v:\n%s", c.f, got, c.listed, out)
				}
				if got := strings.Contains(out, mal.ID()); got != c.control {
					t.Errorf("%+v: malicious incident listed %v, want %v:\n%s", c.f, got, c.control, out)
				}
			}
		})
	}
}

// With no verdicts where the source points, the error says where it
// looked, from which setting, and how to point it elsewhere.
func TestMissingVerdictsSayWhereAndHow(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vigil-out")
	src := incidents.Source{Dir: dir, DirFrom: "the default index.output_dir"}
	for what, err := range map[string]error{
		"list": incidents.List(context.Background(), src, incidents.Filter{}, &strings.Builder{}),
		"show": incidents.Show(context.Background(), src, "1a05bdc0", &strings.Builder{}),
		"load": func() error { _, err := incidents.Load(context.Background(), src, "1a05bdc0"); return err }(),
	} {
		if !errors.Is(err, incidents.ErrNoVerdicts) {
			t.Errorf("%s: err = %v, want ErrNoVerdicts", what, err)
			continue
		}
		for _, want := range []string{filepath.Join(dir, "verdicts.ndjson"), "the default index.output_dir",
			"--dir DIR", "VIGIL_INDEX_OUTPUT_DIR", "-c vigil.yaml", "index.elasticsearch"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %q lacks %q", what, err, want)
			}
		}
	}
}

// Ids are taken as responders copy them: in upper case, shortened to a
// unique prefix, or an alert's id instead of its incident's.
func TestIncidentIDsAsRespondersTypeThem(t *testing.T) {
	res, docs := demo(t)
	mal := malicious(t, res)
	alert := mal.Vigil.Incident.AlertIDs[len(mal.Vigil.Incident.AlertIDs)-1]
	for name, src := range bothSources(t, docs) {
		t.Run(name, func(t *testing.T) {
			for _, c := range []struct{ id, wantErr, wantOut string }{
				{mal.ID(), "", ""},
				{strings.ToUpper(mal.ID()), "", ""},
				{" " + mal.ID()[:8] + "\n", "", ""},
				{strings.ToUpper(mal.ID()[:6]), "", ""},
				{alert, "", alert + " is an alert id: showing its incident"},
				{alert[:10], "", alert + " is an alert id"},
				{mal.ID()[:5], "at least 6 hex digits", ""},
				{"incident-1", "not an incident id", ""},
				{"abcdef", "no verdict has this incident id", ""},
			} {
				var b strings.Builder
				err := incidents.Show(context.Background(), src, c.id, &b)
				if c.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), c.wantErr) {
						t.Errorf("show %q: err = %v, want %q", c.id, err, c.wantErr)
					}
					continue
				}
				if err != nil {
					t.Errorf("show %q: %v", c.id, err)
					continue
				}
				if !strings.Contains(b.String(), "Incident "+mal.ID()) || !strings.Contains(b.String(), c.wantOut) {
					t.Errorf("show %q: not the incident %s, or no %q:\n%.300s", c.id, mal.ID(), c.wantOut, b.String())
				}
			}
			inc, err := incidents.Load(context.Background(), src, strings.ToUpper(mal.ID()[:7]))
			if err != nil || inc.ID != mal.ID() {
				t.Errorf("Load by prefix: %v, %v", inc, err)
			}
			var b strings.Builder
			if err := incidents.Feedback(context.Background(), src, alert, triage.Malicious, "wget of x.sh confirmed", &b); err != nil ||
				!strings.Contains(b.String(), "incident "+mal.ID()+": triage said malicious") {
				t.Errorf("feedback by alert id: %v: %s", err, b.String())
			}
		})
	}
}

// A prefix that several incidents share lists them instead of picking
// one; an alert whose incident has no verdict yet is named an alert.
func TestAmbiguousPrefixAndUnjudgedAlert(t *testing.T) {
	res, docs := demo(t)
	mal, sus := malicious(t, res), suspicious(t, res.Verdicts)
	src := fileSource(t, docs)
	// A second incident whose id shares 8 digits with the malicious one.
	path := filepath.Join(src.Dir, indexer.VerdictsFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var twin []byte
	for _, l := range bytes.Split(data, []byte("\n")) {
		if bytes.Contains(l, []byte(`"id":"`+sus.ID()+`"`)) {
			twin = bytes.ReplaceAll(l, []byte(sus.ID()), []byte(mal.ID()[:8]+strings.Repeat("0", 24)))
		}
	}
	if err := os.WriteFile(path, append(data, append(twin, '\n')...), 0o644); err != nil {
		t.Fatal(err)
	}
	err = incidents.Show(context.Background(), src, mal.ID()[:8], &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), "matches 2 incidents") ||
		!strings.Contains(err.Error(), mal.ID()) || !strings.Contains(err.Error(), mal.ID()[:8]+strings.Repeat("0", 24)) {
		t.Errorf("ambiguous prefix: %v", err)
	}
	if err := incidents.Show(context.Background(), src, mal.ID()[:9], &strings.Builder{}); err != nil {
		t.Errorf("a longer prefix is unique: %v", err)
	}

	// The suspicious incident's alerts are indexed, its verdict is not.
	var kept []indexer.Doc
	for _, d := range docs {
		if d.ID != sus.ID() {
			kept = append(kept, d)
		}
	}
	err = incidents.Show(context.Background(), fileSource(t, kept), sus.Vigil.Incident.AlertIDs[0], &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), "is an alert id") || !strings.Contains(err.Error(), "no verdict") {
		t.Errorf("alert without a verdict: %v", err)
	}
}

// --since takes a date: the demo's incidents are from 2025-12-10, and a
// duration counted back from today finds none of them.
func TestListSinceADate(t *testing.T) {
	res, docs := demo(t)
	mal, sus := malicious(t, res), suspicious(t, res.Verdicts)
	for name, src := range bothSources(t, docs) {
		src.Now = func() time.Time { return time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC) } // a year later
		t.Run(name, func(t *testing.T) {
			for _, c := range []struct {
				since    string
				mal, sus bool
			}{
				{"2025-12-10", true, true},
				{"2025-12-10T09:00", true, false},
				{"2025-12-10T10:00:00+01:00", true, false}, // 09:00 UTC
				{"2025-12-11", false, false},
				{"24h", false, false},
				{"365d", true, true},
			} {
				since, from, err := incidents.ParseSince(c.since)
				if err != nil {
					t.Fatalf("ParseSince(%q): %v", c.since, err)
				}
				out := list(t, src, incidents.Filter{Since: since, From: from})
				if strings.Contains(out, mal.ID()) != c.mal || strings.Contains(out, sus.ID()) != c.sus {
					t.Errorf("--since %s: listed malicious %v (want %v), suspicious %v (want %v):\n%s",
						c.since, strings.Contains(out, mal.ID()), c.mal, strings.Contains(out, sus.ID()), c.sus, out)
				}
				if !c.mal && !c.sus && !strings.Contains(out, "last seen at or after") {
					t.Errorf("--since %s: an empty list does not say from when on it looked: %s", c.since, out)
				}
			}
		})
	}
	for _, bad := range []string{"yesterday", "-1h", "2025-13-01"} {
		if _, _, err := incidents.ParseSince(bad); err == nil {
			t.Errorf("ParseSince(%q) accepted", bad)
		}
	}
}

// List is most severe first, then most recent, from Elasticsearch as from
// files, also when the limit cuts: an older critical incident is kept
// before a newer medium one.
func TestListIsMostSevereFirst(t *testing.T) {
	res, docs := demo(t)
	mal, sus := malicious(t, res), suspicious(t, res.Verdicts)
	// Make the medium incident the most recent one.
	for i, d := range docs {
		if d.ID != sus.ID() {
			continue
		}
		var v triage.Verdict
		if err := json.Unmarshal(d.Body, &v); err != nil {
			t.Fatal(err)
		}
		v.Vigil.Incident.LastSeen = mal.Vigil.Incident.LastSeen.Add(time.Hour)
		body, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		docs[i].Body = body
	}
	for name, src := range bothSources(t, docs) {
		t.Run(name, func(t *testing.T) {
			out := list(t, src, incidents.Filter{})
			if i, j := strings.Index(out, mal.ID()), strings.Index(out, sus.ID()); i < 0 || j < 0 || i > j {
				t.Errorf("critical not before medium:\n%s", out)
			}
			out = list(t, src, incidents.Filter{Limit: 1})
			if !strings.Contains(out, mal.ID()) || strings.Contains(out, sus.ID()) {
				t.Errorf("--limit 1 keeps the newest, not the most severe:\n%s", out)
			}
		})
	}
}

// --entity takes field=value for a related user or host, not only for the
// incident's own entity.
func TestListEntityFieldValue(t *testing.T) {
	res, docs := demo(t)
	mal, sus := malicious(t, res), suspicious(t, res.Verdicts)
	for name, src := range bothSources(t, docs) {
		t.Run(name, func(t *testing.T) {
			for _, c := range []struct {
				entity   string
				mal, sus bool
			}{
				{"deploy", true, false},
				{"user.name=deploy", true, false},
				{"related.user=deploy", true, false},
				{"host.name=web-01", true, false},
				{"host.name=bastion-01", false, true},
				{"source.ip=198.51.100.23", true, false},
				{"source.ip=203.0.113.45", false, true},
				{"user.name=root", false, true},
				{"host.name=deploy", false, false}, // a user is not a host
				{"user.name=nobody", false, false},
			} {
				out := list(t, src, incidents.Filter{Entity: c.entity})
				if strings.Contains(out, mal.ID()) != c.mal || strings.Contains(out, sus.ID()) != c.sus {
					t.Errorf("--entity %s: listed malicious %v (want %v), suspicious %v (want %v):\n%s",
						c.entity, strings.Contains(out, mal.ID()), c.mal, strings.Contains(out, sus.ID()), c.sus, out)
				}
			}
		})
	}
}

// Feedback needs a note, and records who gave it without $USER.
func TestFeedbackNoteAndAnalyst(t *testing.T) {
	res, docs := demo(t)
	sus := suspicious(t, res.Verdicts)
	src := fileSource(t, docs)
	for _, note := range []string{"", "  \n"} {
		err := incidents.Feedback(context.Background(), src, sus.ID(), triage.FalsePositive, note, &strings.Builder{})
		if err == nil || !strings.Contains(err.Error(), "note is required") {
			t.Errorf("note %q: err = %v", note, err)
		}
	}
	t.Setenv("USER", "")
	src.Analyst = ""
	u, err := user.Current()
	if err != nil || u.Username == "" {
		t.Skipf("no operating-system user: %v", err)
	}
	var b strings.Builder
	if err := incidents.Feedback(context.Background(), src, sus.ID(), triage.FalsePositive, "scanner", &b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "by "+u.Username+" at") {
		t.Errorf("without $USER, feedback is not by the OS user %s: %s", u.Username, b.String())
	}
}

// The queries show prints find the incident's raw events in a SIEM whose
// logs a shipper indexed (here as Filebeat's log input does: the line in
// message, ECS fields, no vigil.* field), and not the other incident's.
func TestShowQueryFindsTheRawEventsAShipperIndexed(t *testing.T) {
	res, docs := demo(t)
	mal, sus := malicious(t, res), suspicious(t, res.Verdicts)
	srv := estest.NewServer()
	t.Cleanup(srv.Close)
	do := func(method, path, body string) []byte {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL()+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out bytes.Buffer
		out.ReadFrom(resp.Body)
		if resp.StatusCode/100 != 2 {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, out.String())
		}
		return out.Bytes()
	}
	const index = "logs-system.auth-default"
	do(http.MethodPut, "/"+index, `{"mappings":{"properties":{"@timestamp":{"type":"date"},"message":{"type":"match_only_text"},`+
		`"source":{"properties":{"ip":{"type":"ip"}}},"user":{"properties":{"name":{"type":"keyword"}}},"host":{"properties":{"name":{"type":"keyword"}}}}}}`)

	// Every line of the scenario, as a shipper indexes it.
	sc, err := fs.Sub(vigil.Scenarios(), "ssh-bruteforce")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := fs.ReadFile(sc, "auth.log")
	if err != nil {
		t.Fatal(err)
	}
	p, err := collectors.NewParser("sshd", collectors.ParserConfig{Reference: time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC), Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	var bulk strings.Builder
	if _, err := collectors.Read("auth.log", bytes.NewReader(raw), p, func(e event.Event) error {
		doc := map[string]any{"@timestamp": e.String("@timestamp"), "message": e.String(event.FieldOriginal)}
		for _, f := range []string{"source.ip", "user.name", "host.name"} {
			if v := e.String(f); v != "" {
				obj, leaf, _ := strings.Cut(f, ".")
				doc[obj] = map[string]any{leaf: v}
			}
		}
		line, _ := json.Marshal(doc)
		bulk.WriteString(`{"index":{"_index":"` + index + `"}}` + "\n" + string(line) + "\n")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	do(http.MethodPost, "/_bulk?refresh=true", bulk.String())

	for name, src := range bothSources(t, docs) {
		t.Run(name, func(t *testing.T) {
			var b strings.Builder
			if err := incidents.Show(context.Background(), src, mal.ID(), &b); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			i := strings.Index(out, "Elasticsearch query DSL")
			if i < 0 || !strings.Contains(out[i:], "logs-*,filebeat-*/_search") {
				t.Fatalf("no query DSL for logs-*,filebeat-*:\n%s", out)
			}
			dsl := strings.TrimSpace(strings.SplitN(out[i:], "\n", 3)[1])
			var found struct {
				Hits struct {
					Hits []struct {
						Source struct{ Message string } `json:"_source"`
					}
				}
			}
			if err := json.Unmarshal(do(http.MethodPost, "/logs-*,filebeat-*/_search", dsl), &found); err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, h := range found.Hits.Hits {
				got[h.Source.Message] = true
				if strings.Contains(h.Source.Message, sus.Vigil.Incident.Entity.Value) {
					t.Errorf("the query finds the other incident's event %q", h.Source.Message)
				}
			}
			for _, a := range res.Alerts {
				if !contains(mal.Vigil.Incident.AlertIDs, a.Vigil.Alert.ID) {
					continue
				}
				for _, e := range a.Vigil.Alert.Events {
					if line := e.String(event.FieldOriginal); !got[line] {
						t.Errorf("evidence %s not found: %q", e.ID(), line)
					}
				}
			}
			if strings.Contains(out, "vigil.event_id :") {
				t.Errorf("show still offers a query on vigil.event_id, which no shipper writes")
			}
		})
	}
}

// The incident ids the docs print are the demo's.
func TestDocsPrintTheDemosIDs(t *testing.T) {
	res, _ := demo(t)
	known := map[string]bool{}
	for _, v := range res.Verdicts {
		known[v.ID()] = true
	}
	for _, a := range res.Alerts {
		known[a.Vigil.Alert.ID] = true
		for _, e := range a.Vigil.Alert.Events {
			known[e.ID()] = true
		}
	}
	hexID := regexp.MustCompile(`\b[0-9a-f]{32}\b`)
	for _, doc := range []string{"README.md", filepath.Join("..", "README.md")} {
		data, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, id := range hexID.FindAllString(string(data), -1) {
			n++
			if !known[id] {
				t.Errorf("%s prints %s, which is no id of the demo", doc, id)
			}
		}
		if n == 0 {
			t.Errorf("%s prints no id", doc)
		}
	}
}

// A --since that cannot be read, or a day count too large for a
// duration, is an error: the filter is never silently dropped.
func TestParseSinceRejectsWhatItCannotHonour(t *testing.T) {
	for _, s := range []string{"200000d", "-3d", "-24h", "yesterday", "2025-13-01"} {
		if _, _, err := incidents.ParseSince(s); err == nil {
			t.Errorf("ParseSince(%q) accepted", s)
		}
	}
	if since, _, err := incidents.ParseSince("36500d"); err != nil || since <= 0 {
		t.Errorf("ParseSince(36500d) = %v, %v", since, err)
	}
}
