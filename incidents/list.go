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
	// From keeps incidents whose last alert is at or after this time; it
	// takes precedence over Since (ParseSince gives one or the other).
	// Recorded logs such as the demo's are dated when they were written,
	// and a duration counted back from now finds none of them.
	From time.Time
	// Verdict matches the effective verdict: the analyst's
	// (triage.feedback.verdict) when the incident has feedback, else the
	// one triage gave. An incident corrected from suspicious to
	// false_positive is a false positive to whoever reads the list.
	Verdict string
	// TriageVerdict matches the verdict triage gave (triage.verdict),
	// whatever feedback says: to review what the engine got wrong.
	TriageVerdict string
	// Severity (low ... critical).
	Severity string
	// Entity matches the incident's entity value ("198.51.100.23") or a
	// related user, host or IP; as field=value ("user.name=deploy") the
	// incident's entity with that field and value, or a related value of
	// the kind the field names (user.name, host.name, source.ip,
	// destination.ip, related.user, related.hosts, related.ip).
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

// cutoff is the oldest last-seen time f keeps; zero keeps everything.
func (f Filter) cutoff() time.Time {
	switch {
	case !f.From.IsZero():
		return f.From
	case f.Since > 0:
		return f.now.Add(-f.Since)
	}
	return time.Time{}
}

// ParseSince reads the value of --since: a duration counted back from
// now ("24h", "90m", or days: "7d"), or a time from which on: a date
// ("2025-12-10", UTC midnight), a date and time in UTC
// ("2025-12-10T09:00") or RFC 3339 ("2025-12-10T09:00:00+01:00").
func ParseSince(s string) (since time.Duration, from time.Time, err error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		// At most 100 years: a larger count would overflow a Duration
		// and turn the filter off.
		if n, err := strconv.Atoi(days); err == nil && n >= 0 && n <= 36500 {
			return time.Duration(n) * 24 * time.Hour, time.Time{}, nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return 0, time.Time{}, fmt.Errorf("incidents: --since %s: a duration back from now must be positive", s)
		}
		return d, time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return 0, t.UTC(), nil
		}
	}
	return 0, time.Time{}, fmt.Errorf("incidents: --since %q: want a duration back from now (24h, 7d) or a time from which on (2025-12-10, 2025-12-10T09:00, RFC 3339)", s)
}

// validate checks the filter values against the allowed ones.
func (f Filter) validate() error {
	for _, v := range []struct{ flag, value string }{{"verdict", f.Verdict}, {"triage-verdict", f.TriageVerdict}} {
		if v.value != "" && !contains(triage.Verdicts, v.value) {
			return fmt.Errorf("incidents: unknown verdict %q for --%s (want one of %s)", v.value, v.flag, strings.Join(triage.Verdicts, ", "))
		}
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

// effectiveVerdict is the analyst's verdict when there is feedback, else
// triage's.
func effectiveVerdict(r record) string {
	if fb := feedbackOf(r.raw); fb.Verdict != "" {
		return fb.Verdict
	}
	return r.v.Triage.Verdict
}

// relatedField says which related list of an incident holds the values
// of an entity field: "users", "hosts", "ips", or "" for none. The lists
// are filled from user.name, host.name, source.ip and destination.ip
// (triage's grouping), so an IP field matches a related IP either way.
func relatedField(field string) string {
	switch field {
	case "user.name", "related.user":
		return "users"
	case "host.name", "related.hosts":
		return "hosts"
	case "source.ip", "destination.ip", "related.ip":
		return "ips"
	}
	return ""
}

// match applies the filter to one verdict (the file store reads all; the
// Elasticsearch store has applied it already, and this checks its answer).
func (f Filter) match(r record) bool {
	inc, t := r.v.Vigil.Incident, r.v.Triage
	if f.Verdict != "" && effectiveVerdict(r) != f.Verdict {
		return false
	}
	if f.TriageVerdict != "" && t.Verdict != f.TriageVerdict {
		return false
	}
	if f.Severity != "" && t.Severity != f.Severity {
		return false
	}
	if c := f.cutoff(); !c.IsZero() && inc.LastSeen.Before(c) {
		return false
	}
	if f.Entity == "" {
		return true
	}
	related := map[string][]string{"users": inc.Users, "hosts": inc.Hosts, "ips": inc.IPs}
	if field, value, ok := strings.Cut(f.Entity, "="); ok {
		field, value = strings.TrimSpace(field), strings.TrimSpace(value)
		return inc.Entity.Field == field && inc.Entity.Value == value || contains(related[relatedField(field)], value)
	}
	e := f.Entity
	return inc.Entity.Value == e || contains(inc.Users, e) || contains(inc.Hosts, e) || contains(inc.IPs, e)
}

// esFilters is match as Elasticsearch filters (on the verdict template's
// keyword fields).
func (f Filter) esFilters() []any {
	filters := []any{}
	if f.Verdict != "" {
		filters = append(filters, map[string]any{"bool": map[string]any{
			"should": []any{
				term("triage.feedback.verdict", f.Verdict),
				map[string]any{"bool": map[string]any{
					"filter":   []any{term("triage.verdict", f.Verdict)},
					"must_not": []any{map[string]any{"exists": map[string]any{"field": "triage.feedback.verdict"}}},
				}},
			},
			"minimum_should_match": 1,
		}})
	}
	if f.TriageVerdict != "" {
		filters = append(filters, term("triage.verdict", f.TriageVerdict))
	}
	if c := f.cutoff(); !c.IsZero() {
		filters = append(filters, map[string]any{"range": map[string]any{"vigil.incident.last_seen": map[string]any{
			"gte": c.Format(time.RFC3339Nano)}}})
	}
	if f.Entity != "" {
		lists := map[string]string{"users": "vigil.incident.users", "hosts": "vigil.incident.hosts", "ips": "vigil.incident.ips"}
		var should []any
		if field, value, ok := strings.Cut(f.Entity, "="); ok {
			field, value = strings.TrimSpace(field), strings.TrimSpace(value)
			should = append(should, map[string]any{"bool": map[string]any{"filter": []any{
				term("vigil.incident.entity.field", field), term("vigil.incident.entity.value", value)}}})
			if l := lists[relatedField(field)]; l != "" {
				should = append(should, term(l, value))
			}
		} else {
			should = append(should, term("vigil.incident.entity.value", f.Entity))
			for _, l := range []string{"users", "hosts", "ips"} {
				should = append(should, term(lists[l], f.Entity))
			}
		}
		filters = append(filters, map[string]any{"bool": map[string]any{"should": should, "minimum_should_match": 1}})
	}
	return filters
}

// List prints the incidents matching f as a table, most severe first,
// then most recent (last seen), at most f.Limit rows. The VERDICT column
// shows a verdict an analyst corrected as triage→feedback.
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
		if f.match(r) {
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
		msg := "no incidents match"
		if c := f.cutoff(); !c.IsZero() {
			// Logs replayed from a file (the demo's are from 2025-12-10)
			// are dated when they were written, not when read: say from
			// when on the list looked, so a --since counted from now is
			// recognised as the reason.
			msg += fmt.Sprintf(" (last seen at or after %s; --since also takes a date, e.g. --since 2025-12-10)", c.UTC().Format("2006-01-02 15:04 UTC"))
		}
		_, err := fmt.Fprintln(w, msg)
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
