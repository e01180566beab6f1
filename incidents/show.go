package incidents

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/rules"
	"github.com/vigil-siem/vigil/triage"
)

// Show prints one incident for a responder: the verdict, confidence and
// summary, any analyst feedback, the triage notes rendered for a
// terminal, the alerts, the evidence events, and the Kibana (KQL) and
// Elasticsearch queries that find the raw events.
func Show(ctx context.Context, src Source, id string, w io.Writer) error {
	id = strings.TrimSpace(id)
	if id == "" {
		return fmt.Errorf("incidents: show: incident id is empty")
	}
	st, err := open(src)
	if err != nil {
		return err
	}
	defer st.close()
	r, err := st.verdict(ctx, id)
	if err != nil {
		return err
	}
	alerts, err := st.alerts(ctx, r.v.Vigil.Incident.AlertIDs)
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, render(r, alerts))
	return err
}

// render is Show's output.
func render(r record, alerts []rules.Alert) string {
	var b strings.Builder
	inc, t := r.v.Vigil.Incident, r.v.Triage
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("Incident %s\n", inc.ID)
	p("%s\n", strings.Repeat("═", 9+len(inc.ID)))
	p("verdict     %s · confidence %.2f · severity %s · engine %s\n", strings.ToUpper(t.Verdict), t.Confidence, t.Severity, sanitize(t.Engine))
	if fb := feedbackOf(r.raw); fb.Verdict != "" {
		p("feedback    %s by %s at %s\n", strings.ToUpper(fb.Verdict), sanitize(fb.By), fb.At)
		if fb.Note != "" {
			wrap(&b, sanitize(oneLine(fb.Note)), "            ", "            ")
		}
	}
	if len(t.Flags) > 0 {
		p("flags       %s\n", sanitize(strings.Join(t.Flags, ", ")))
	}
	p("entity      %s\n", sanitize(inc.Entity.String()))
	if len(inc.Users)+len(inc.Hosts) > 0 {
		p("involves    users %s · hosts %s\n", sanitize(orNone(inc.Users)), sanitize(orNone(inc.Hosts)))
	}
	p("when        %s → %s\n", stamp(inc.FirstSeen), stamp(inc.LastSeen))
	if len(t.Attack) > 0 {
		p("att&ck      %s\n", sanitize(strings.Join(t.Attack, ", ")))
	}
	p("\nSummary\n───────\n")
	wrap(&b, sanitize(oneLine(t.Summary)), "  ", "  ")
	p("\nNotes\n─────\n")
	b.WriteString(renderMarkdown(t.Notes, "  "))

	sort.SliceStable(alerts, func(i, j int) bool { return alerts[i].Timestamp.Before(alerts[j].Timestamp) })
	if inc.SuppressedCount > 0 {
		p("\nAlerts (%d of %d; %d more held back by suppression)\n─────────────\n", len(alerts), inc.AlertCount, inc.SuppressedCount)
	} else {
		p("\nAlerts (%d of %d)\n─────────────\n", len(alerts), inc.AlertCount)
	}
	if len(alerts) == 0 {
		p("  (the alerts are not in the store)\n")
	}
	for _, a := range alerts {
		d := a.Vigil.Alert
		p("  %s  %s  %-8s  %s\n", d.ID, stamp(a.Timestamp), d.Severity, clip(a.Rule.Name, 30))
		if d.SuppressedCount > 0 {
			p("      rule %s, %s, %d events, %d more alerts suppressed\n", clip(a.Rule.ID, 60), d.Kind, d.EventCount, d.SuppressedCount)
		} else {
			p("      rule %s, %s, %d events\n", clip(a.Rule.ID, 60), d.Kind, d.EventCount)
		}
	}

	evs := evidence(alerts)
	p("\nEvidence events (%d)\n────────────────────\n", len(evs))
	for _, e := range evs {
		action := e.String("event.action")
		if o := e.String("event.outcome"); o != "" {
			action += "/" + o
		}
		msg := e.String("message")
		if msg == "" {
			msg = e.String(event.FieldOriginal)
		}
		p("  %s  %s\n", e.ID(), stamp(timeOf(e)))
		p("      source.ip=%s user.name=%s %s\n", orDash(e.String("source.ip")), orDash(sanitize(e.String("user.name"))), orDash(sanitize(action)))
		if msg != "" {
			p("      %s\n", clip(oneLine(msg), width-6))
		}
	}

	p("\nFind the raw events\n───────────────────\n")
	ids := make([]string, 0, len(evs))
	for _, e := range evs {
		if id := e.ID(); id != "" {
			ids = append(ids, id)
		}
	}
	if len(ids) > 0 {
		quoted := make([]string, len(ids))
		for i, id := range ids {
			quoted[i] = kqlQuote(id)
		}
		p("  Kibana (KQL), by event id:\n    vigil.event_id : (%s)\n", strings.Join(quoted, " or "))
	}
	from, to := inc.FirstSeen.UTC().Add(-time.Hour), inc.LastSeen.UTC().Add(time.Hour)
	p("  Kibana (KQL), everything from the entity around the incident:\n    %s : %s and @timestamp >= %q and @timestamp <= %q\n",
		inc.Entity.Field, kqlQuote(inc.Entity.Value), from.Format(time.RFC3339), to.Format(time.RFC3339))
	p("  Elasticsearch query DSL:\n    %s\n", esQuery(inc.Entity.Field, inc.Entity.Value, ids, from, to))
	return b.String()
}

// evidence returns the events of the alerts, each once, in time order.
func evidence(alerts []rules.Alert) []event.Event {
	seen := map[string]bool{}
	var out []event.Event
	for _, a := range alerts {
		for _, e := range a.Vigil.Alert.Events {
			id := e.ID()
			if id == "" || seen[id] {
				continue
			}
			seen[id] = true
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return timeOf(out[i]).Before(timeOf(out[j])) })
	return out
}

func timeOf(e event.Event) time.Time {
	t, _ := e.Time()
	return t
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

func orNone(ss []string) string {
	if len(ss) == 0 {
		return "-"
	}
	return strings.Join(ss, ", ")
}

func orDash(s string) string {
	if s == "" || s == "/" {
		return "-"
	}
	return s
}

// kqlQuote quotes a KQL value: backslash and double quote escaped.
func kqlQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(sanitize(s)) + `"`
}

// esQuery renders the query DSL that finds the raw events: the evidence
// by id, or the entity's events in the time range.
func esQuery(field, value string, ids []string, from, to time.Time) string {
	q := map[string]any{"query": map[string]any{"bool": map[string]any{
		"should": []any{
			map[string]any{"terms": map[string]any{"vigil.event_id": ids}},
			map[string]any{"bool": map[string]any{"filter": []any{
				map[string]any{"term": map[string]any{field: value}},
				map[string]any{"range": map[string]any{"@timestamp": map[string]any{"gte": from.Format(time.RFC3339), "lte": to.Format(time.RFC3339)}}},
			}}},
		},
		"minimum_should_match": 1,
	}}}
	if len(ids) == 0 {
		q["query"].(map[string]any)["bool"].(map[string]any)["should"] = q["query"].(map[string]any)["bool"].(map[string]any)["should"].([]any)[1:]
	}
	return compactJSON(q)
}

// Load returns the incident of a verdict with its alerts, as triage saw
// it (for `vigil triage explain`).
func Load(ctx context.Context, src Source, id string) (*triage.Incident, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return nil, fmt.Errorf("incidents: incident id is empty")
	}
	st, err := open(src)
	if err != nil {
		return nil, err
	}
	defer st.close()
	r, err := st.verdict(ctx, id)
	if err != nil {
		return nil, err
	}
	alerts, err := st.alerts(ctx, r.v.Vigil.Incident.AlertIDs)
	if err != nil {
		return nil, err
	}
	inc := r.v.Vigil.Incident
	inc.Alerts = alerts
	return &inc, nil
}
