package indexer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SetupOptions configures Setup.
type SetupOptions struct {
	// Retention deletes an index this long after it was created (ILM
	// delete phase); 0 keeps indices forever.
	Retention time.Duration
	// Events also installs a template for raw events (EventsIndex).
	Events bool
	// EventsIndex is the raw events index (default "vigil-events").
	EventsIndex string
	// Policy names the ILM policy (default "vigil").
	Policy string
	// Shards and Replicas of new indices (defaults 1 and 1).
	Shards, Replicas int
}

// DefaultEventsIndex is the raw events index when SetupOptions leaves it empty.
const DefaultEventsIndex = "vigil-events"

// SetupItem is the outcome for one object Setup manages.
type SetupItem struct {
	Kind   string // "ilm policy", "component template", "index template"
	Name   string
	Result string // "created", "updated" or "unchanged"
}

// Report lists what Setup did, in the order it did it.
type Report struct {
	Items []SetupItem
}

// Changed counts the objects Setup created or updated.
func (r Report) Changed() int {
	n := 0
	for _, it := range r.Items {
		if it.Result != "unchanged" {
			n++
		}
	}
	return n
}

// object is one PUT Setup makes: path under the cluster, GET path, and
// the body; current extracts the stored definition from the GET answer.
type object struct {
	kind, name, path string
	body             map[string]any
	current          func(answer map[string]any) any
}

// Setup installs the ILM policy, the component templates and the index
// templates for alerts and verdicts (and raw events with opts.Events),
// with mappings for every ECS field Vigil emits and for vigil.* and
// triage.*. It is idempotent: each object is read first and written only
// when missing or different, and the report says which. w (may be nil)
// receives one line per object.
func Setup(ctx context.Context, cfg ESConfig, opts SetupOptions, w io.Writer) (Report, error) {
	s, err := NewESSink(cfg)
	if err != nil {
		return Report{}, err
	}
	defer s.Close()
	return s.Setup(ctx, opts, w)
}

// Setup is the package-level Setup on an existing sink's client.
func (s *ESSink) Setup(ctx context.Context, opts SetupOptions, w io.Writer) (Report, error) {
	objs, err := s.setupObjects(opts)
	if err != nil {
		return Report{}, err
	}
	var rep Report
	for _, o := range objs {
		res, err := s.ensure(ctx, o)
		if err != nil {
			return rep, err
		}
		it := SetupItem{Kind: o.kind, Name: o.name, Result: res}
		rep.Items = append(rep.Items, it)
		if w != nil {
			fmt.Fprintf(w, "%-18s %-28s %s\n", it.Kind, it.Name, it.Result)
		}
	}
	return rep, nil
}

// setupObjects builds every object Setup manages, in dependency order.
func (s *ESSink) setupObjects(opts SetupOptions) ([]object, error) {
	ecs, err := ecsProperties()
	if err != nil {
		return nil, err
	}
	policy := orDefault(opts.Policy, "vigil")
	shards, replicas := max(opts.Shards, 1), max(opts.Replicas, 0)
	if opts.Replicas == 0 {
		replicas = 1
	}
	meta := map[string]any{"managed_by": "vigil", "description": "installed by vigil es setup; changes are overwritten"}

	phases := map[string]any{
		"hot": map[string]any{"min_age": "0ms", "actions": map[string]any{"set_priority": map[string]any{"priority": 100}}},
	}
	if opts.Retention > 0 {
		phases["delete"] = map[string]any{"min_age": timeValue(opts.Retention), "actions": map[string]any{"delete": map[string]any{}}}
	}
	policyBody := map[string]any{"policy": map[string]any{"phases": phases, "_meta": meta}}

	component := func(name string, tmpl map[string]any) object {
		body := map[string]any{"template": tmpl, "_meta": meta}
		return object{kind: "component template", name: name, path: "/_component_template/" + name, body: body,
			current: func(a map[string]any) any { return firstNamed(a, "component_templates", "component_template") }}
	}
	mappings := func(props map[string]any) map[string]any {
		// Fields not listed stay in _source only: log content can never
		// add mappings or conflict with them.
		return map[string]any{"mappings": map[string]any{"dynamic": "false", "properties": props}}
	}
	objs := []object{
		{kind: "ilm policy", name: policy, path: "/_ilm/policy/" + policy, body: policyBody,
			current: func(a map[string]any) any {
				p, _ := a[policy].(map[string]any)
				if p == nil {
					return nil
				}
				return map[string]any{"policy": p["policy"]}
			}},
		component("vigil@settings", map[string]any{"settings": map[string]any{"index": map[string]any{
			"lifecycle":          map[string]any{"name": policy},
			"number_of_shards":   strconv.Itoa(shards),
			"number_of_replicas": strconv.Itoa(replicas),
			"refresh_interval":   "1s",
			"mapping":            map[string]any{"total_fields": map[string]any{"limit": "2000"}},
		}}}),
		component("vigil-ecs@mappings", mappings(ecs)),
		component("vigil-alerts@mappings", mappings(alertMappings())),
		component("vigil-verdicts@mappings", mappings(verdictMappings())),
	}
	if opts.Events {
		objs = append(objs, component("vigil-events@mappings", mappings(eventMappings())))
	}
	index := func(name, base, comp string, prio int) object {
		body := map[string]any{
			"index_patterns": []any{base, base + "-*"},
			"composed_of":    []any{"vigil@settings", "vigil-ecs@mappings", comp},
			"priority":       prio,
			"_meta":          meta,
		}
		return object{kind: "index template", name: name, path: "/_index_template/" + name, body: body,
			current: func(a map[string]any) any { return firstNamed(a, "index_templates", "index_template") }}
	}
	objs = append(objs,
		index("vigil-alerts", s.indices[KindAlert], "vigil-alerts@mappings", 200),
		index("vigil-verdicts", s.indices[KindVerdict], "vigil-verdicts@mappings", 201))
	if opts.Events {
		objs = append(objs, index("vigil-events", orDefault(opts.EventsIndex, DefaultEventsIndex), "vigil-events@mappings", 202))
	}
	// The feedback register is one small index that lives as long as the
	// incidents it speaks of: no lifecycle policy, no monthly indices.
	objs = append(objs, object{kind: "index template", name: "vigil-feedback", path: "/_index_template/vigil-feedback",
		body: map[string]any{
			"index_patterns": []any{s.feedbackIndex},
			"template": map[string]any{
				"settings": map[string]any{"index": map[string]any{
					"number_of_shards": "1", "number_of_replicas": strconv.Itoa(replicas),
				}},
				"mappings": mappings(feedbackMappings())["mappings"],
			},
			"priority": 203,
			"_meta":    meta,
		},
		current: func(a map[string]any) any { return firstNamed(a, "index_templates", "index_template") }})
	return objs, nil
}

// timeValue renders a duration as an Elasticsearch time value.
func timeValue(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

// firstNamed digs the definition out of a GET template answer.
func firstNamed(a map[string]any, list, field string) any {
	l, _ := a[list].([]any)
	if len(l) == 0 {
		return nil
	}
	e, _ := l[0].(map[string]any)
	return e[field]
}

// ensure reads o, writes it when missing or different, and says which.
func (s *ESSink) ensure(ctx context.Context, o object) (string, error) {
	status, answer, err := s.do(ctx, http.MethodGet, o.path, nil)
	if err != nil {
		return "", err
	}
	result := "created"
	switch {
	case status == http.StatusOK:
		cur := o.current(answer)
		want, _ := normalize(o.body)
		if cur != nil && contains(cur, want) {
			return "unchanged", nil
		}
		result = "updated"
	case status != http.StatusNotFound:
		return "", fmt.Errorf("indexer: elasticsearch %s: GET %s answered %d: %s", s.where, o.path, status, errorText(answer))
	}
	body, err := json.Marshal(o.body)
	if err != nil {
		return "", fmt.Errorf("indexer: encode %s %s: %w", o.kind, o.name, err)
	}
	status, answer, err = s.do(ctx, http.MethodPut, o.path, body)
	if err != nil {
		return "", err
	}
	if status/100 != 2 {
		return "", fmt.Errorf("indexer: elasticsearch %s: PUT %s %s answered %d: %s", s.where, o.kind, o.name, status, errorText(answer))
	}
	return result, nil
}

// do sends one JSON request and decodes the answer.
func (s *ESSink) do(ctx context.Context, method, path string, body []byte) (int, map[string]any, error) {
	status, raw, err := s.Request(ctx, method, path, body)
	if err != nil {
		return 0, nil, err
	}
	var answer map[string]any
	if len(bytes.TrimSpace(raw)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&answer); err != nil {
			return 0, nil, fmt.Errorf("indexer: elasticsearch %s: %s %s answered %d with a body that is not a JSON object: %.200q",
				s.where, method, path, status, raw)
		}
	}
	return status, answer, nil
}

// errorText extracts the reason of an Elasticsearch error answer.
func errorText(a map[string]any) string {
	if e, ok := a["error"].(map[string]any); ok {
		return fmt.Sprintf("%v: %v", e["type"], e["reason"])
	}
	if e, ok := a["error"]; ok {
		return fmt.Sprint(e)
	}
	b, _ := json.Marshal(a)
	return string(b)
}

// normalize round-trips v through JSON with numbers kept exact, so a
// definition built in Go compares with one decoded from an answer.
func normalize(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	err = dec.Decode(&out)
	return out, err
}

// contains reports whether have holds every part of want. Elasticsearch
// adds defaults to what it stores and renders settings as strings, so
// extra keys in have are fine and scalars compare by their text.
func contains(have, want any) bool {
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return false
		}
		for k, wv := range w {
			hv, ok := h[k]
			if !ok {
				return false
			}
			if !contains(hv, wv) {
				return false
			}
		}
		return true
	case []any:
		h, ok := have.([]any)
		if !ok || len(h) != len(w) {
			return false
		}
		for i := range w {
			if !contains(h[i], w[i]) {
				return false
			}
		}
		return true
	}
	return scalarText(have) == scalarText(want)
}

func scalarText(v any) string {
	switch t := v.(type) {
	case json.Number:
		if f, err := t.Float64(); err == nil {
			return strconv.FormatFloat(f, 'g', -1, 64)
		}
		return string(t)
	case string:
		if f, err := strconv.ParseFloat(t, 64); err == nil && strings.TrimSpace(t) == t {
			return strconv.FormatFloat(f, 'g', -1, 64)
		}
		return t
	case nil:
		return "null"
	}
	return fmt.Sprint(v)
}

// Request sends one request with a JSON body (nil for none) to the
// cluster through the sink's client (its addresses, credentials, TLS and
// retries) and returns the status and the raw answer. The CLI uses it to
// search and update verdicts.
func (s *ESSink) Request(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, path, nil)
	if err != nil {
		return 0, nil, fmt.Errorf("indexer: %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		req.ContentLength = int64(len(body))
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	res, err := s.client.Perform(req)
	if err != nil {
		return 0, nil, fmt.Errorf("indexer: elasticsearch %s: %s %s: %w", s.where, method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 256<<20))
	if err != nil {
		return 0, nil, fmt.Errorf("indexer: elasticsearch %s: %s %s: read answer: %w", s.where, method, path, err)
	}
	return res.StatusCode, raw, nil
}

// Index returns the base index name of a kind (AlertsIndex or
// VerdictsIndex), and the expression that searches every index the sink
// writes that kind to ("vigil-verdicts,vigil-verdicts-*").
func (s *ESSink) Index(kind string) (base, search string) {
	base = s.indices[kind]
	return base, base + "," + base + "-*"
}
