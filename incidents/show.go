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
// Elasticsearch queries that find the raw events. id is an incident id
// in any case, a unique prefix of one (6 hex digits or more), or an
// alert id (or prefix), which shows the alert's incident.
func Show(ctx context.Context, src Source, id string, w io.Writer) error {
	st, err := open(src)
	if err != nil {
		return err
	}
	defer st.close()
	r, alert, err := resolve(ctx, st, id)
	if err != nil {
		return err
	}
	alerts, err := st.alerts(ctx, r.v.Vigil.Incident.AlertIDs)
	if err != nil {
		return err
	}
	if alert != "" {
		fmt.Fprintf(w, "(%s is an alert id: showing its incident)\n\n", alert)
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

	b.WriteString(rawEventQueries(inc, evs))
	return b.String()
}

// logsIndex is where the raw events are searched: Vigil indexes alerts
// and verdicts, never the raw events, which a SIEM holds as indexed by
// its shippers (Elastic Agent writes logs-*, Filebeat filebeat-*).
const logsIndex = "logs-*,filebeat-*"

// maxMessages bounds the evidence messages the queries match.
const maxMessages = 20

// rawEventQueries renders the queries that find the incident's raw
// events in the SIEM's log indices. They use what a log indexed by any
// ECS shipper carries: the entity field over the incident's time range
// (±1h), and the evidence lines as phrases of message, which holds the
// line (Filebeat's log input) or its message part (the system module),
// Vigil's message being that part. vigil.event_id is Vigil's own and in
// no shipper's documents, and ECS does not index event.original.
func rawEventQueries(inc triage.Incident, evs []event.Event) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("\nFind the raw events\n───────────────────\n")
	wrap(&b, "In the indices your shippers write the logs to, by ECS field names (Elastic Agent: logs-*, "+
		"Filebeat: filebeat-*): Vigil indexes alerts and verdicts, not the raw events. Times are UTC.", "  ", "  ")
	from, to := inc.FirstSeen.UTC().Add(-time.Hour), inc.LastSeen.UTC().Add(time.Hour)
	during := fmt.Sprintf("@timestamp >= %q and @timestamp <= %q", from.Format(time.RFC3339), to.Format(time.RFC3339))
	p("  Kibana (KQL), everything from the entity around the incident (±1h):\n    %s : %s and %s\n",
		sanitize(inc.Entity.Field), kqlQuote(inc.Entity.Value), during)

	var msgs, hosts []string
	seen := map[string]bool{}
	for _, e := range evs {
		if m := oneLine(e.String("message")); m != "" && !seen[m] && len(msgs) < maxMessages {
			seen[m] = true
			msgs = append(msgs, m)
		}
		if h := e.String("host.name"); h != "" && !contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	if len(msgs) > 0 {
		quoted := make([]string, len(msgs))
		for i, m := range msgs {
			quoted[i] = kqlQuote(m)
		}
		scope := during
		if len(hosts) > 0 {
			qh := make([]string, len(hosts))
			for i, h := range hosts {
				qh[i] = kqlQuote(h)
			}
			scope = "host.name : (" + strings.Join(qh, " or ") + ") and " + scope
		}
		p("  Kibana (KQL), the evidence lines by their message:\n    %s and message : (%s)\n", scope, strings.Join(quoted, " or "))
	}
	p("  Elasticsearch query DSL, both (POST %s/_search):\n    %s\n", logsIndex, esQuery(inc.Entity.Field, inc.Entity.Value, msgs, from, to))
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

// esQuery renders the query DSL that finds the raw events: the entity's
// events or the evidence messages, in the time range.
func esQuery(field, value string, msgs []string, from, to time.Time) string {
	should := []any{map[string]any{"term": map[string]any{field: value}}}
	for _, m := range msgs {
		should = append(should, map[string]any{"match_phrase": map[string]any{"message": m}})
	}
	q := map[string]any{
		"size": 500,
		"sort": []any{map[string]any{"@timestamp": "asc"}}, // a timeline
		"query": map[string]any{"bool": map[string]any{
			"filter": []any{
				map[string]any{"range": map[string]any{"@timestamp": map[string]any{"gte": from.Format(time.RFC3339), "lte": to.Format(time.RFC3339)}}},
			},
			"should":               should,
			"minimum_should_match": 1,
		}},
	}
	return compactJSON(q)
}

// Load returns the incident of a verdict with its alerts, as triage saw
// it (for `vigil triage explain`); id is taken as Show takes it.
func Load(ctx context.Context, src Source, id string) (*triage.Incident, error) {
	st, err := open(src)
	if err != nil {
		return nil, err
	}
	defer st.close()
	r, _, err := resolve(ctx, st, id)
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
