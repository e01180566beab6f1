package pipeline

import (
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/vigil-siem/vigil/bus"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/rules"
)

// Re-keying. A stateful rule must see every event of its join key in one
// engine. Events arrive on vigil.events keyed by collect.key_field
// (host.name), so a rule whose key contains that field runs where the
// events are ("local" rules, with every stateless rule). Any other
// stateful rule (threshold, sequence, new_terms, or a rule with
// suppress) belongs to a re-key group, named by the fields its state is
// partitioned by: the detect stage produces each event that has one of
// those fields to vigil.detect.rekey, keyed by the field's value, and the
// member owning that partition of vigil.detect.rekey runs the group's
// rules on it. An event without any of a group's fields cannot take part
// in its rules (their keys need the field) and is not re-keyed for it;
// neither is an event that no rule of the group can take (it fails the
// requirement each is indexed by, rules.Compiled.MayConcern), except a
// successful login, which the engines remember for session attribution.
// A rule without any key (a global count) is a group of its own keyed
// "*": all its events go to one partition. A re-key partition merges the
// copies of every vigil.events partition in event time before its
// engines see them (rekeyMerge, detect_merge.go).

// Headers of vigil.detect.rekey records.
const (
	// headerRekeyGroup names the re-key group the record is for.
	headerRekeyGroup = "vigil.rekey.group"
	// headerRekeySource is "<partition>/<offset>" of the vigil.events
	// record it comes from: a replayed source record is recognised and
	// not counted twice.
	headerRekeySource = "vigil.rekey.source"
)

// globalGroup is the group (and key) of rules without any key.
const globalGroup = "*"

// rekeyGroup is the rules partitioned by the same fields.
type rekeyGroup struct {
	id     string
	fields []string // an event goes once per distinct value of these; none: the key "*"
	rules  []*rules.Compiled
}

// routing says which rules run on vigil.events and which on the re-key
// topic.
type routing struct {
	keyField string
	local    []*rules.Compiled
	groups   map[string]*rekeyGroup
	order    []string // group ids, sorted
}

// newRouting sorts the rules; with allLocal every rule runs where the
// events are (one member only: the way to compare the cost of re-keying).
func newRouting(compiled []*rules.Compiled, keyField string, allLocal bool) *routing {
	rt := &routing{keyField: keyField, groups: map[string]*rekeyGroup{}}
	for _, c := range compiled {
		fields, local := partitionFields(c.Rule, keyField)
		local = local || allLocal
		if local {
			rt.local = append(rt.local, c)
			continue
		}
		id := globalGroup
		if len(fields) > 0 {
			id = strings.Join(fields, ",")
		}
		g := rt.groups[id]
		if g == nil {
			g = &rekeyGroup{id: id, fields: fields}
			rt.groups[id] = g
			rt.order = append(rt.order, id)
		}
		g.rules = append(g.rules, c)
	}
	sort.Strings(rt.order)
	return rt
}

// partitionFields returns the fields a rule's state is partitioned by
// (any one of them when there are several: a sequence whose steps are
// joined on different fields) and whether the rule runs where the events
// are: it is stateless, or the events' key field is one of its keys.
func partitionFields(r *rules.Rule, keyField string) ([]string, bool) {
	stateful := r.Kind == rules.KindSequence || r.Kind == rules.KindThreshold || r.Kind == rules.KindNewTerms
	if !r.IsEnabled() || !stateful && r.Suppress == nil {
		return nil, true
	}
	var suppressBy []string
	if r.Suppress != nil {
		suppressBy = r.Suppress.By
	}
	keys := suppressBy // a match rule with suppress: its state is the suppression
	if stateful {
		keys = r.By
		if r.Kind == rules.KindSequence && len(keys) == 0 {
			// Only the steps have keys, matched by position: an event may
			// join a sequence by any step's first key.
			var fields []string
			for _, s := range r.Steps {
				if len(s.By) > 0 && !slices.Contains(fields, s.By[0]) {
					fields = append(fields, s.By[0])
				}
			}
			if r.Until != nil && len(r.Until.By) > 0 && !slices.Contains(fields, r.Until.By[0]) {
				fields = append(fields, r.Until.By[0])
			}
			sort.Strings(fields)
			if len(fields) == 1 && fields[0] == keyField {
				return nil, true
			}
			return fields, false
		}
	}
	if len(keys) == 0 {
		return nil, false // global
	}
	if slices.Contains(keys, keyField) && (suppressBy == nil || slices.Contains(suppressBy, keyField)) {
		return nil, true
	}
	for _, f := range keys {
		if slices.Contains(suppressBy, f) {
			return []string{f}, false
		}
	}
	return keys[:1], false
}

// rekey returns the vigil.detect.rekey records of an enriched event read
// from src, encoded as value: one per group and distinct key value.
func (rt *routing) rekey(ev event.Event, value []byte, src bus.Record) []bus.Message {
	var out []bus.Message
	source := strconv.Itoa(int(src.Partition)) + "/" + strconv.FormatInt(src.Offset, 10)
	login := isLogin(ev)
	for _, id := range rt.order {
		g := rt.groups[id]
		if !login && !g.mayConcern(ev) {
			continue
		}
		var keys []string
		if len(g.fields) == 0 {
			keys = []string{globalGroup}
		}
		for _, f := range g.fields {
			if v := rules.KeyValue(ev.Get(f)); v != "" && !slices.Contains(keys, v) {
				keys = append(keys, v)
			}
		}
		if len(keys) == 0 {
			continue
		}
		// One headers map for the group's copies: the producer only reads it.
		headers := map[string]string{headerRekeyGroup: id, headerRekeySource: source}
		for _, k := range keys {
			out = append(out, bus.Message{Topic: bus.TopicRekey, Key: []byte(k), Value: value, Headers: headers})
		}
	}
	return out
}

// mayConcern says whether a rule of the group can take the event.
func (g *rekeyGroup) mayConcern(ev event.Event) bool {
	for _, c := range g.rules {
		if c.MayConcern(ev) {
			return true
		}
	}
	return false
}

// isLogin says whether the event is a successful authentication: the
// engines remember those to attribute a user's later alerts on the host
// to the login's source address, so every group gets them.
func isLogin(ev event.Event) bool {
	if ev.String("event.outcome") != "success" {
		return false
	}
	switch c := ev.Get("event.category").(type) {
	case string:
		return c == "authentication"
	case []any:
		for _, v := range c {
			if v == "authentication" {
				return true
			}
		}
	}
	return false
}

// parseSource reads headerRekeySource.
func parseSource(h string) (int32, int64, bool) {
	p, o, ok := strings.Cut(h, "/")
	if !ok {
		return 0, 0, false
	}
	part, err1 := strconv.ParseInt(p, 10, 32)
	off, err2 := strconv.ParseInt(o, 10, 64)
	return int32(part), off, err1 == nil && err2 == nil
}
