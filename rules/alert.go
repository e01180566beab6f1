package rules

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/vigil-siem/vigil/event"
)

// Alert is what a rule raises: ECS event.kind "alert" with the rule, the
// ATT&CK mapping, the group keys and every matched event in order. Its id
// is derived from the rule id and the matched event ids, so the same
// detection replayed after a crash has the same id.
type Alert struct {
	Timestamp time.Time   `json:"@timestamp"`
	Event     AlertEvent  `json:"event"`
	Rule      AlertRule   `json:"rule"`
	Threat    []Threat    `json:"threat,omitempty"`
	Vigil     AlertVigil  `json:"vigil"`
	Fields    event.Event `json:"-"` // entity fields copied from the matched events (host.name, source.ip, ...)
}

// AlertEvent is the alert's ECS event.* object.
type AlertEvent struct {
	Kind      string    `json:"kind"`
	Category  []string  `json:"category,omitempty"`
	Dataset   string    `json:"dataset,omitempty"` // of the matched events (the last that has one)
	Module    string    `json:"module,omitempty"`
	Created   time.Time `json:"created"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Severity  int       `json:"severity"`
	RiskScore int       `json:"risk_score"`
}

// AlertRule is ECS rule.*.
type AlertRule struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Version     string   `json:"version,omitempty"`
	Ruleset     string   `json:"ruleset,omitempty"`
	Reference   []string `json:"reference,omitempty"`
}

// Threat is one ECS threat object (MITRE ATT&CK tactic and techniques).
type Threat struct {
	Framework string      `json:"framework"`
	Tactic    ThreatRef   `json:"tactic"`
	Technique []Technique `json:"technique,omitempty"`
}

// ThreatRef names one ATT&CK tactic or sub-technique.
type ThreatRef struct {
	ID        string `json:"id"`
	Name      string `json:"name,omitempty"`
	Reference string `json:"reference,omitempty"`
}

// Technique is an ATT&CK technique with its sub-techniques.
type Technique struct {
	ID           string      `json:"id"`
	Name         string      `json:"name,omitempty"`
	Reference    string      `json:"reference,omitempty"`
	Subtechnique []ThreatRef `json:"subtechnique,omitempty"`
}

// AlertVigil is the Vigil-specific part of an alert (vigil.alert.*).
type AlertVigil struct {
	Alert AlertDetail `json:"alert"`
}

// AlertDetail holds what ECS has no field for.
type AlertDetail struct {
	ID        string   `json:"id"`
	Kind      string   `json:"kind"` // match | sequence | threshold | new_terms
	Severity  string   `json:"severity"`
	RiskScore int      `json:"risk_score"`
	GroupKeys []Entity `json:"group_keys,omitempty"` // the rule's by fields and their values, in order
	// Entity is what the alert is about, and what triage groups incidents
	// by: the first group key, except that an alert about a user on a host
	// where the user logged in from a known address is about that address
	// (see Session).
	Entity Entity `json:"entity"`
	// Session is the login the alert was attributed to, if any.
	Session    *AlertSession `json:"session,omitempty"`
	FirstSeen  time.Time     `json:"first_seen"`
	LastSeen   time.Time     `json:"last_seen"`
	EventCount int           `json:"event_count"`
	Events     []event.Event `json:"events"`
	// Threshold says what a threshold rule counted.
	Threshold *AlertThreshold `json:"threshold,omitempty"`
	// NewTerms says which term a new_terms rule saw for the first time.
	NewTerms *AlertNewTerms `json:"new_terms,omitempty"`
	// SuppressedCount is how many alerts of the same suppress key were
	// held back in the window this alert opened.
	SuppressedCount int `json:"suppressed_count,omitempty"`
}

// AlertThreshold is what a threshold rule counted in its window. Events
// holds a sample (the most recent 100); Count is exact.
type AlertThreshold struct {
	Window         string   `json:"window"`
	Operator       string   `json:"operator"` // gt, gte, eq, lt
	Value          int      `json:"value"`
	Count          int      `json:"count"`
	Distinct       string   `json:"distinct_field,omitempty"`
	DistinctCount  int      `json:"distinct_count,omitempty"`
	DistinctValues []string `json:"distinct_values,omitempty"` // sorted, at most 100
}

// AlertNewTerms is the term a new_terms rule saw for the first time.
type AlertNewTerms struct {
	Fields []string `json:"fields"`
	Values []string `json:"values"`
	// LastSeen is set when the term was seen before, longer ago than the
	// history window.
	LastSeen *time.Time `json:"last_seen,omitempty"`
}

// Entity is one field and value that an alert or incident is about.
type Entity struct {
	Field string `json:"field"`
	Value string `json:"value"`
}

// String renders the entity as field=value, the Kafka key of its alerts.
func (e Entity) String() string { return e.Field + "=" + e.Value }

// AlertID derives the deterministic alert id from the rule id and the ids
// of the matched events, in order.
func AlertID(ruleID string, events []event.Event) string {
	h := sha256.New()
	h.Write([]byte(ruleID))
	for _, e := range events {
		h.Write([]byte{0})
		h.Write([]byte(e.ID()))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// alertJSON is Alert without its methods, to encode the struct part.
type alertJSON Alert

// MarshalJSON writes the alert as one ECS document: the struct fields plus
// the entity fields copied from the matched events at the top level, so
// Kibana shows source.ip and user.name on the alert itself. It is one
// pass: the struct's JSON, then the members of the nested Fields object
// appended to it. Fields never holds a key of the struct's top-level
// objects (@timestamp, event, rule, threat, vigil); one that does is left
// out, as the struct's value wins.
func (a Alert) MarshalJSON() ([]byte, error) {
	base, err := marshalAlertStruct(a)
	if err != nil {
		return nil, err
	}
	if len(a.Fields) == 0 {
		return base, nil
	}
	fields := a.Fields
	for k := range fields {
		if isAlertStructField(k) {
			fields = event.New()
			for k, v := range a.Fields {
				if !isAlertStructField(k) {
					fields[k] = v
				}
			}
			break
		}
	}
	extra, err := event.Marshal(fields)
	if err != nil {
		return nil, fmt.Errorf("encode alert %s fields: %w", a.Vigil.Alert.ID, err)
	}
	if len(extra) <= 2 { // {}
		return base, nil
	}
	// base ends with '}' and extra is '{...}': splice extra's members in.
	out := make([]byte, 0, len(base)+len(extra))
	out = append(out, base[:len(base)-1]...)
	out = append(out, ',')
	out = append(out, extra[1:]...)
	return out, nil
}

// UnmarshalJSON reads an alert written by MarshalJSON.
func (a *Alert) UnmarshalJSON(data []byte) error {
	var s alertJSON
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("decode alert: %w", err)
	}
	doc, err := event.Unmarshal(data)
	if err != nil {
		return err
	}
	s.Fields = event.New()
	for k, v := range doc {
		if !isAlertStructField(k) {
			s.Fields[k] = v
		}
	}
	*a = Alert(s)
	return nil
}

// isAlertStructField says whether a dotted path lies in one of the
// struct's top-level objects.
func isAlertStructField(path string) bool {
	head, _, _ := strings.Cut(path, ".")
	switch head {
	case "@timestamp", "event", "rule", "threat", "vigil":
		return true
	}
	return false
}

// eventsHole is what encoding/json writes for AlertDetail.Events when it
// is nil. No other member of the struct is named events, and a quote
// inside a string is escaped, so it appears once.
const eventsHole = `"events":null`

// marshalAlertStruct is json.Marshal(alertJSON(a)), with the matched
// events written by event.Marshal straight into their place:
// encoding/json would scan the JSON of each event again to check it
// (event.Marshal writes what encoding/json does, HTML escapes included).
func marshalAlertStruct(a Alert) ([]byte, error) {
	evs := a.Vigil.Alert.Events
	if len(evs) == 0 {
		return json.Marshal(alertJSON(a))
	}
	s := alertJSON(a)
	s.Vigil.Alert.Events = nil
	base, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	i := bytes.Index(base, []byte(eventsHole))
	if i < 0 {
		return json.Marshal(alertJSON(a))
	}
	out := make([]byte, 0, len(base)+1024*len(evs))
	out = append(out, base[:i+len(eventsHole)-len("null")]...)
	out = append(out, '[')
	for j, ev := range evs {
		if j > 0 {
			out = append(out, ',')
		}
		b, err := event.Marshal(ev)
		if err != nil {
			return nil, fmt.Errorf("encode alert %s event %d: %w", a.Vigil.Alert.ID, j, err)
		}
		out = append(out, b...)
	}
	out = append(out, ']')
	return append(out, base[i+len(eventsHole):]...), nil
}
