package incidents

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vigil-siem/vigil/rules"
	"github.com/vigil-siem/vigil/triage"
)

// Filter selects the incidents List prints. Zero values select everything.
type Filter struct {
	// Since keeps incidents whose last alert is at most this old.
	Since time.Duration
	// Verdict (malicious, suspicious, ...) and Severity (low ... critical).
	Verdict, Severity string
	// Entity matches the incident's entity value ("198.51.100.23") or
	// field=value ("source.ip=198.51.100.23"), or a related user, host or IP.
	Entity string
	// Limit caps the rows (default 100).
	Limit int

	now time.Time
}

func (f Filter) limit() int {
	if f.Limit <= 0 {
		return 100
	}
	return f.Limit
}

// validate checks the filter values against the allowed ones.
func (f Filter) validate() error {
	if f.Verdict != "" && !contains(triage.Verdicts, f.Verdict) {
		return fmt.Errorf("incidents: unknown verdict %q (want one of %s)", f.Verdict, strings.Join(triage.Verdicts, ", "))
	}
	if f.Severity != "" && !contains(triage.Severities, f.Severity) {
		return fmt.Errorf("incidents: unknown severity %q (want one of %s)", f.Severity, strings.Join(triage.Severities, ", "))
	}
	if f.Since < 0 {
		return fmt.Errorf("incidents: --since must be positive, got %s", f.Since)
	}
	return nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// match applies the filter to one verdict (the file store reads all; the
// Elasticsearch store has applied most of it already).
func (f Filter) match(v triage.Verdict) bool {
	inc, t := v.Vigil.Incident, v.Triage
	if f.Verdict != "" && t.Verdict != f.Verdict {
		return false
	}
	if f.Severity != "" && t.Severity != f.Severity {
		return false
	}
	if f.Since > 0 && inc.LastSeen.Before(f.now.Add(-f.Since)) {
		return false
	}
	if f.Entity != "" {
		e := f.Entity
		if inc.Entity.Value == e || inc.Entity.String() == e ||
			contains(inc.Users, e) || contains(inc.Hosts, e) || contains(inc.IPs, e) {
			return true
		}
		return false
	}
	return true
}

// List prints the incidents matching f as a table, most severe first,
// then most recent.
func List(ctx context.Context, src Source, f Filter, w io.Writer) error {
	if err := f.validate(); err != nil {
		return err
	}
	f.now = src.now()
	st, err := open(src)
	if err != nil {
		return err
	}
	defer st.close()
	recs, err := st.verdicts(ctx, f)
	if err != nil {
		return err
	}
	var vs []record
	for _, r := range recs {
		if f.match(r.v) {
			vs = append(vs, r)
		}
	}
	sort.SliceStable(vs, func(i, j int) bool {
		a, b := vs[i].v, vs[j].v
		ri, rj := rules.SeverityRank(a.Triage.Severity), rules.SeverityRank(b.Triage.Severity)
		if ri != rj {
			return ri > rj
		}
		if !a.Vigil.Incident.LastSeen.Equal(b.Vigil.Incident.LastSeen) {
			return a.Vigil.Incident.LastSeen.After(b.Vigil.Incident.LastSeen)
		}
		return a.ID() < b.ID()
	})
	if len(vs) > f.limit() {
		vs = vs[:f.limit()]
	}
	if len(vs) == 0 {
		_, err := fmt.Fprintln(w, "no incidents match")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INCIDENT\tLAST SEEN\tSEVERITY\tVERDICT\tCONF\tENTITY\tALERTS\tSUMMARY")
	for _, r := range vs {
		inc, t := r.v.Vigil.Incident, r.v.Triage
		verdict := t.Verdict
		if fb := feedbackOf(r.raw); fb.Verdict != "" {
			verdict += "→" + fb.Verdict
		}
		alerts := strconv.Itoa(inc.AlertCount)
		if inc.SuppressedCount > 0 {
			alerts += "+" + strconv.Itoa(inc.SuppressedCount) // suppressed alerts
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.2f\t%s\t%s\t%s\n", inc.ID, inc.LastSeen.UTC().Format("2006-01-02 15:04"),
			t.Severity, verdict, t.Confidence, clip(inc.Entity.String(), 40), alerts, clip(oneLine(t.Summary), 60))
	}
	return tw.Flush()
}

// feedback is triage.feedback on a stored verdict.
type feedback struct {
	Verdict, Note, At, By string
}

func feedbackOf(raw map[string]any) feedback {
	t, _ := raw["triage"].(map[string]any)
	fb, _ := t["feedback"].(map[string]any)
	str := func(k string) string { s, _ := fb[k].(string); return s }
	return feedback{Verdict: str("verdict"), Note: str("note"), At: str("at"), By: str("by")}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// clip shortens s to n runes with an ellipsis; log content is
// attacker-controlled, so control characters are replaced too.
func clip(s string, n int) string {
	r := []rune(sanitize(s))
	if len(r) <= n {
		return string(r)
	}
	return string(r[:n-1]) + "…"
}

// sanitize replaces control characters (terminal escapes from log lines)
// with U+FFFD.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '\uFFFD'
		}
		return r
	}, s)
}
