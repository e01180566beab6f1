package triage

import (
	"fmt"
	"slices"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/vigil-siem/vigil/rules"
)

// Context store sizes.
const (
	DefaultContextSize  = 10000 // entities and fingerprints remembered
	historyPerEntity    = 10    // verdicts kept per entity
	similarPerPrint     = 5     // verdicts kept per fingerprint
	historySummaryBytes = 300
)

// Feedback is an analyst's correction of a verdict (triage.feedback.*),
// written by `vigil incidents feedback`.
type Feedback struct {
	Verdict string    `json:"verdict,omitempty"`
	Note    string    `json:"note,omitempty"`
	Analyst string    `json:"analyst,omitempty"`
	At      time.Time `json:"at,omitzero"`
}

// HistoryEntry is what the context store keeps of one past verdict.
type HistoryEntry struct {
	IncidentID string       `json:"incident_id"`
	Entity     rules.Entity `json:"entity"`
	FirstSeen  time.Time    `json:"first_seen"`
	LastSeen   time.Time    `json:"last_seen"`
	AlertCount int          `json:"alert_count"`
	// SuppressedCount is Incident.SuppressedCount.
	SuppressedCount int           `json:"suppressed_count,omitempty"`
	Rules           []RuleSummary `json:"rules"`
	Verdict         string        `json:"verdict"`
	Severity        string        `json:"severity"`
	Confidence      float64       `json:"confidence"`
	Summary         string        `json:"summary,omitempty"`
	Engine          string        `json:"engine,omitempty"`
	Feedback        *Feedback     `json:"feedback,omitempty"`
	Fingerprint     string        `json:"-"`
}

// ContextStore remembers recent verdicts by entity and by fingerprint, so
// a prompt can show an entity's earlier incidents and how similar
// incidents were judged (and corrected by analysts). Both indexes are
// LRU-bounded. It is safe for concurrent use.
type ContextStore struct {
	mu       sync.Mutex
	byEntity *lru.Cache[rules.Entity, []HistoryEntry]
	byPrint  *lru.Cache[string, []HistoryEntry]
}

// NewContextStore returns a store remembering up to size entities and size
// fingerprints (DefaultContextSize when size <= 0).
func NewContextStore(size int) *ContextStore {
	if size <= 0 {
		size = DefaultContextSize
	}
	be, err := lru.New[rules.Entity, []HistoryEntry](size)
	if err != nil {
		panic(fmt.Sprintf("context store: %v", err)) // size > 0 cannot fail
	}
	bp, err := lru.New[string, []HistoryEntry](size)
	if err != nil {
		panic(fmt.Sprintf("context store: %v", err))
	}
	return &ContextStore{byEntity: be, byPrint: bp}
}

// Remember records a verdict. A later verdict of the same incident (a
// re-triage, or the same verdict read back with analyst feedback) replaces
// the earlier one; feedback already known is kept when the new one has
// none.
func (s *ContextStore) Remember(v Verdict) {
	if s == nil {
		return
	}
	inc := &v.Vigil.Incident
	if inc.ID == "" {
		return
	}
	e := HistoryEntry{
		IncidentID:      inc.ID,
		Entity:          inc.Entity,
		FirstSeen:       inc.FirstSeen,
		LastSeen:        inc.LastSeen,
		AlertCount:      inc.AlertCount,
		SuppressedCount: inc.SuppressedCount,
		Rules:           slices.Clone(inc.Rules),
		Verdict:         v.Triage.Verdict,
		Severity:        v.Triage.Severity,
		Confidence:      v.Triage.Confidence,
		Summary:         llmShort(v.Triage.Summary, historySummaryBytes),
		Engine:          v.Triage.Engine,
		Fingerprint:     Fingerprint(inc),
	}
	if f := v.Triage.Feedback; f != nil && (f.Verdict != "" || f.Note != "") {
		fc := *f
		e.Feedback = &fc
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	list, _ := s.byEntity.Get(inc.Entity)
	s.byEntity.Add(inc.Entity, upsertEntry(list, e, historyPerEntity))
	for _, key := range []string{e.Fingerprint, shapeFingerprint(inc)} {
		list, _ := s.byPrint.Get(key)
		s.byPrint.Add(key, upsertEntry(list, e, similarPerPrint))
	}
}

// upsertEntry returns list with e first, replacing an entry of the same
// incident, at most limit long. It never modifies list, which readers may
// hold.
func upsertEntry(list []HistoryEntry, e HistoryEntry, limit int) []HistoryEntry {
	out := make([]HistoryEntry, 0, min(len(list)+1, limit))
	for _, old := range list {
		if old.IncidentID == e.IncidentID && e.Feedback == nil {
			e.Feedback = old.Feedback
		}
	}
	out = append(out, e)
	for _, old := range list {
		if len(out) >= limit {
			break
		}
		if old.IncidentID != e.IncidentID {
			out = append(out, old)
		}
	}
	return out
}

// History returns the remembered verdicts of ent, newest first.
func (s *ContextStore) History(ent rules.Entity) []HistoryEntry {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	list, _ := s.byEntity.Get(ent)
	return slices.Clone(list)
}

// Similar returns remembered verdicts of incidents like inc (other than
// inc itself): first those with the same Fingerprint, then those with the
// same rules and entity kind on another entity; at most limit.
func (s *ContextStore) Similar(inc *Incident, limit int) []HistoryEntry {
	if s == nil || inc == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []HistoryEntry
	for _, key := range []string{Fingerprint(inc), shapeFingerprint(inc)} {
		list, _ := s.byPrint.Get(key)
		for _, e := range list {
			if len(out) >= limit {
				return out
			}
			if e.IncidentID == inc.ID || slices.ContainsFunc(out, func(x HistoryEntry) bool { return x.IncidentID == e.IncidentID }) {
				continue
			}
			out = append(out, e)
		}
	}
	return out
}

// shapeFingerprint identifies an incident's kind regardless of who it is
// about: the entity field, the severity and the rule ids.
func shapeFingerprint(inc *Incident) string {
	shape := Incident{Entity: rules.Entity{Field: inc.Entity.Field}, Severity: inc.Severity}
	for _, r := range fingerprintRules(inc) {
		shape.Rules = append(shape.Rules, RuleSummary{ID: r.ID, Count: 1})
	}
	return "shape:" + Fingerprint(&shape)
}
