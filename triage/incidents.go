package triage

import (
	"cmp"
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/rules"
)

// GrouperConfig bounds how alerts are grouped into incidents. Zero values
// take the defaults.
type GrouperConfig struct {
	// Window keeps an incident open while alerts for its entity keep
	// arriving within Window of its alerts, in event time (default 30m).
	Window time.Duration
	// MaxAlertsKept is how many alerts an incident keeps for context: the
	// first ones, the one that first raised each rule or severity, and the
	// most recent ones (default 50). Counts stay exact.
	MaxAlertsKept int
	// MaxIncidents bounds memory: past it the least recently updated
	// incident is dropped (default 10000).
	MaxIncidents int
	// MaxAlertIDs is how many alert ids an incident lists; the first ones
	// are kept (default 1000).
	MaxAlertIDs int
	// MaxRelated caps each of Users, Hosts and IPs (default 100).
	MaxRelated int
	// DedupIDs is how many recent alert ids are remembered to recognise a
	// replayed alert (default 100000).
	DedupIDs int
	// MaxSpan caps an incident's span in event time, first alert to last
	// (default 24h): an alert that would stretch it further opens a new
	// incident, so that a storm that never pauses still yields incidents
	// that close.
	MaxSpan time.Duration
	// MaxClosed is how many closed incidents are kept (least recently
	// closed dropped first; default 1000), so that an alert re-emitted
	// with its final vigil.alert.suppressed_count when its suppression
	// window ends, usually after its incident closed, still updates it.
	MaxClosed int
}

// Defaults of GrouperConfig.
const (
	DefaultWindow        = 30 * time.Minute
	DefaultMaxAlertsKept = 50
	DefaultMaxIncidents  = 10000
	DefaultMaxAlertIDs   = 1000
	DefaultMaxRelated    = 100
	DefaultDedupIDs      = 100000
	DefaultMaxSpan       = 24 * time.Hour
	DefaultMaxClosed     = 1000
)

// maxValueLen caps one related user, host or IP: they come from log lines,
// which an attacker can fill with anything.
const maxValueLen = 256

// Grouper groups alerts into incidents by entity within a sliding window of
// event time. It is safe for concurrent use.
type Grouper struct {
	cfg GrouperConfig

	mu       sync.Mutex
	byEntity map[rules.Entity][]*group
	byID     map[string]*group
	lru      *list.List // of *group, most recently updated first

	// closed holds recently closed incidents by id; closedLRU the same
	// groups, most recently closed first.
	closed    map[string]*group
	closedLRU *list.List

	// seen maps recently added alert ids to their incident id; ring holds
	// the same ids in arrival order so the oldest can be forgotten.
	seen     map[string]string
	ring     []string
	ringNext int
}

// group is the mutable state behind one Incident. Its slices are shared
// with the snapshots Add returns, so they only ever grow by appending (or
// are replaced by new arrays): nothing a snapshot can see is overwritten.
type group struct {
	inc  Incident // AlertIDs, Users, Hosts, IPs and Alerts follow the rule above
	elem *list.Element

	rules   map[string]*RuleSummary
	sevRank int

	// kinds says, for each of inc.Alerts, why it is kept.
	kinds  []keepKind
	heads  int
	pinned int

	// suppressed is the last vigil.alert.suppressed_count seen of each
	// alert that had one (nil until one has).
	suppressed map[string]int
}

// keepKind is why an alert is kept.
type keepKind uint8

const (
	keepRecent keepKind = iota // one of the most recent alerts
	keepHead                   // one of the first alerts
	keepPinned                 // it brought a new rule or a higher severity
)

// NewGrouper returns a Grouper with cfg's zero values set to the defaults.
func NewGrouper(cfg GrouperConfig) *Grouper {
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.MaxAlertsKept <= 0 {
		cfg.MaxAlertsKept = DefaultMaxAlertsKept
	}
	if cfg.MaxIncidents <= 0 {
		cfg.MaxIncidents = DefaultMaxIncidents
	}
	if cfg.MaxAlertIDs <= 0 {
		cfg.MaxAlertIDs = DefaultMaxAlertIDs
	}
	if cfg.MaxRelated <= 0 {
		cfg.MaxRelated = DefaultMaxRelated
	}
	if cfg.DedupIDs <= 0 {
		cfg.DedupIDs = DefaultDedupIDs
	}
	if cfg.MaxSpan <= 0 {
		cfg.MaxSpan = DefaultMaxSpan
	}
	if cfg.MaxClosed <= 0 {
		cfg.MaxClosed = DefaultMaxClosed
	}
	return &Grouper{
		cfg:       cfg,
		byEntity:  make(map[rules.Entity][]*group),
		byID:      make(map[string]*group),
		lru:       list.New(),
		closed:    make(map[string]*group),
		closedLRU: list.New(),
		seen:      make(map[string]string),
		ring:      make([]string, 0, min(cfg.DedupIDs, 1024)),
	}
}

// Add puts an alert into the incident of its entity, opening a new incident
// when none of that entity's incidents is within Window of the alert. It
// returns a snapshot of the incident and whether it changed materially: it
// is new, gained a rule it did not have, or its severity rose. A replayed
// alert (an id seen recently) changes nothing; Add then returns the
// incident it belongs to, or nil when that incident is gone — except that
// a replayed alert carrying a higher vigil.alert.suppressed_count than
// before (its suppression window ended) adds the difference to the
// incident's SuppressedCount, open or recently closed (MaxClosed), and
// is a material change: the incident is returned, updated, to be judged
// again. Its AlertCount stays the same.
//
// The returned Incident may be handed to another goroutine: it shares
// storage with the Grouper (its slices and the alerts' events), but the
// Grouper never modifies anything a snapshot can see. Callers must treat
// the incident's slices as read-only; Rules is the caller's own.
func (g *Grouper) Add(a rules.Alert) (inc *Incident, material bool) {
	g.mu.Lock()
	defer g.mu.Unlock()

	id := a.Vigil.Alert.ID
	if id != "" {
		if incID, dup := g.seen[id]; dup {
			gr := g.byID[incID]
			if gr == nil {
				gr = g.closed[incID]
				if gr == nil || !gr.resuppress(a) {
					return nil, false
				}
				g.closedLRU.MoveToFront(gr.elem)
				return gr.snapshot(), true
			}
			material = gr.resuppress(a)
			if material {
				g.lru.MoveToFront(gr.elem)
			}
			return gr.snapshot(), material
		}
	}

	ent := alertEntity(a)
	first, last := alertSpan(a)
	gr := g.find(ent, first, last)
	if gr == nil {
		gr = g.open(ent, a, first)
		material = true
	}
	if gr.add(a, first, last, g.cfg) {
		material = true
	}
	g.lru.MoveToFront(gr.elem)
	if id != "" {
		g.remember(id, gr.inc.ID)
	}
	return gr.snapshot(), material
}

// Expire drops the incidents whose last alert is older than now-Window in
// event time, and returns how many it dropped.
func (g *Grouper) Expire(now time.Time) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	cutoff := now.Add(-g.cfg.Window)
	n := 0
	for e := g.lru.Front(); e != nil; {
		next := e.Next()
		gr := e.Value.(*group)
		if gr.inc.LastSeen.Before(cutoff) {
			g.retire(gr)
			n++
		}
		e = next
	}
	return n
}

// Reach is the event time past which no alert joins inc any more: an
// alert starting after it, or ending after it when that stretches inc
// beyond MaxSpan, opens a new incident. An incident whose partition's
// alerts have moved well past its reach can be closed.
func (g *Grouper) Reach(inc *Incident) time.Time {
	return earliest(inc.LastSeen.Add(g.cfg.Window), inc.FirstSeen.Add(g.cfg.MaxSpan))
}

// Open says whether the incident id is open: Add can still put alerts
// into it.
func (g *Grouper) Open(id string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.byID[id] != nil
}

// Close closes incidents: later alerts of their entities open new ones.
// Their alert ids stay remembered, so a replayed alert of a closed
// incident is still recognised (Add returns nil, or the closed incident
// when the alert brings a higher suppressed count).
func (g *Grouper) Close(ids ...string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, id := range ids {
		if gr := g.byID[id]; gr != nil {
			g.retire(gr)
		}
	}
}

// Forget drops incidents and every remembered alert id of theirs, as if
// the Grouper had never seen their alerts: replaying those alerts
// rebuilds them (a stage that loses the partition they came from).
func (g *Grouper) Forget(ids ...string) {
	if len(ids) == 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	gone := make(map[string]bool, len(ids))
	for _, id := range ids {
		gone[id] = true
		if gr := g.byID[id]; gr != nil {
			g.drop(gr)
		}
		if gr := g.closed[id]; gr != nil {
			g.closedLRU.Remove(gr.elem)
			delete(g.closed, id)
		}
	}
	// The ring keeps the forgotten ids until they are overwritten: then
	// deleting them from seen again is harmless.
	for alertID, incID := range g.seen {
		if gone[incID] {
			delete(g.seen, alertID)
		}
	}
}

// Len returns how many incidents are open.
func (g *Grouper) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.byID)
}

// find returns the most recent incident of ent whose span, widened by
// Window on both sides, overlaps the alert's span, and that the alert
// would not stretch beyond MaxSpan.
func (g *Grouper) find(ent rules.Entity, first, last time.Time) *group {
	groups := g.byEntity[ent]
	for i := len(groups) - 1; i >= 0; i-- {
		gr := groups[i]
		if !first.After(gr.inc.LastSeen.Add(g.cfg.Window)) &&
			!last.Before(gr.inc.FirstSeen.Add(-g.cfg.Window)) &&
			latest(last, gr.inc.LastSeen).Sub(earliest(first, gr.inc.FirstSeen)) <= g.cfg.MaxSpan {
			return gr
		}
	}
	return nil
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func (g *Grouper) open(ent rules.Entity, a rules.Alert, first time.Time) *group {
	for len(g.byID) >= g.cfg.MaxIncidents {
		g.retire(g.lru.Back().Value.(*group))
	}
	firstID := a.Vigil.Alert.ID
	if firstID == "" {
		// Alerts should always have ids; without one, the alert's time
		// still gives a replay the same incident id.
		firstID = "@" + event.FormatTime(first)
	}
	gr := &group{
		inc: Incident{
			ID:     IncidentID(ent, firstID),
			Entity: ent,
		},
		rules:   make(map[string]*RuleSummary, 2),
		sevRank: -1,
	}
	if old := g.byID[gr.inc.ID]; old != nil {
		// The same entity and first alert: only possible for alerts
		// without ids at the same time. Keep one incident per id.
		g.drop(old)
	}
	if old := g.closed[gr.inc.ID]; old != nil {
		g.closedLRU.Remove(old.elem)
		delete(g.closed, gr.inc.ID)
	}
	gr.elem = g.lru.PushFront(gr)
	g.byID[gr.inc.ID] = gr
	g.byEntity[ent] = append(g.byEntity[ent], gr)
	return gr
}

// retire closes an open incident and keeps it among the closed ones.
func (g *Grouper) retire(gr *group) {
	g.drop(gr)
	if old := g.closed[gr.inc.ID]; old != nil {
		g.closedLRU.Remove(old.elem)
	}
	gr.elem = g.closedLRU.PushFront(gr)
	g.closed[gr.inc.ID] = gr
	for len(g.closed) > g.cfg.MaxClosed {
		old := g.closedLRU.Remove(g.closedLRU.Back()).(*group)
		delete(g.closed, old.inc.ID)
	}
}

// drop removes an open incident.
func (g *Grouper) drop(gr *group) {
	g.lru.Remove(gr.elem)
	delete(g.byID, gr.inc.ID)
	groups := slices.DeleteFunc(g.byEntity[gr.inc.Entity], func(x *group) bool { return x == gr })
	if len(groups) == 0 {
		delete(g.byEntity, gr.inc.Entity)
	} else {
		g.byEntity[gr.inc.Entity] = groups
	}
}

func (g *Grouper) remember(alertID, incID string) {
	if len(g.ring) < g.cfg.DedupIDs {
		g.ring = append(g.ring, alertID)
	} else {
		delete(g.seen, g.ring[g.ringNext])
		g.ring[g.ringNext] = alertID
		g.ringNext = (g.ringNext + 1) % g.cfg.DedupIDs
	}
	g.seen[alertID] = incID
}

// add folds one alert into the group and reports whether it brought a rule
// the incident did not have or a higher severity.
func (gr *group) add(a rules.Alert, first, last time.Time, cfg GrouperConfig) (material bool) {
	inc := &gr.inc
	if inc.AlertCount == 0 || first.Before(inc.FirstSeen) {
		inc.FirstSeen = first
	}
	if inc.AlertCount == 0 || last.After(inc.LastSeen) {
		inc.LastSeen = last
	}
	inc.AlertCount++
	if len(inc.AlertIDs) < cfg.MaxAlertIDs && a.Vigil.Alert.ID != "" {
		inc.AlertIDs = append(inc.AlertIDs, a.Vigil.Alert.ID)
	}
	risk := a.Vigil.Alert.RiskScore
	if risk == 0 {
		risk = a.Event.RiskScore
	}
	inc.RiskScore = max(inc.RiskScore, risk)

	sev := normSeverity(a.Vigil.Alert.Severity)
	rank := severityRank(sev)
	if rank > gr.sevRank {
		if gr.sevRank >= 0 {
			material = true
		}
		gr.sevRank = rank
		inc.Severity = sev
	}
	rs := gr.rules[a.Rule.ID]
	if rs == nil {
		rs = &RuleSummary{ID: a.Rule.ID, Kind: a.Vigil.Alert.Kind, Severity: sev}
		gr.rules[a.Rule.ID] = rs
		material = material || inc.AlertCount > 1
	}
	rs.Count++
	if n := a.Vigil.Alert.SuppressedCount; n > 0 && a.Vigil.Alert.ID != "" {
		if gr.suppressed == nil {
			gr.suppressed = make(map[string]int, 1)
		}
		gr.suppressed[a.Vigil.Alert.ID] = n
		inc.SuppressedCount += n
		rs.Suppressed += n
	}
	if a.Rule.Name != "" {
		rs.Name = a.Rule.Name
	}
	if severityRank(sev) > severityRank(rs.Severity) {
		rs.Severity = sev
	}

	gr.addRelated(a, cfg.MaxRelated)
	gr.keep(a, material, cfg.MaxAlertsKept)
	return material
}

// resuppress takes a replayed alert's vigil.alert.suppressed_count: when
// it is higher than the one known for the alert, the difference is added
// to the incident and its rule, the kept copy of the alert (if any) is
// replaced by the new one, and it returns true.
func (gr *group) resuppress(a rules.Alert) bool {
	id, n := a.Vigil.Alert.ID, a.Vigil.Alert.SuppressedCount
	if n <= gr.suppressed[id] {
		return false
	}
	rs := gr.rules[a.Rule.ID]
	if rs == nil {
		return false // not an alert of this incident's rules: ignore
	}
	delta := n - gr.suppressed[id]
	if gr.suppressed == nil {
		gr.suppressed = make(map[string]int, 1)
	}
	gr.suppressed[id] = n
	gr.inc.SuppressedCount += delta
	rs.Suppressed += delta
	if i := slices.IndexFunc(gr.inc.Alerts, func(k rules.Alert) bool { return k.Vigil.Alert.ID == id }); i >= 0 {
		// A new array: snapshots share the old one.
		alerts := slices.Clone(gr.inc.Alerts)
		alerts[i].Vigil.Alert.SuppressedCount = n
		gr.inc.Alerts = alerts
	}
	return true
}

// keep stores the alert in the kept list: the first alerts, the alerts
// that changed the incident materially (so the decisive alert of a long
// storm is never pushed out), and the most recent ones. The list is
// append-only; when it outgrows limit it is compacted into a new array,
// keeping the first, pinned and most recent alerts in arrival order.
func (gr *group) keep(a rules.Alert, material bool, limit int) {
	pinCap := limit / 5
	headCap := max(1, (limit-pinCap)/3)
	recentMin := (limit - pinCap - headCap) / 2
	if limit-pinCap-headCap > 0 {
		recentMin = max(1, recentMin)
	}
	kind := keepRecent
	switch {
	case gr.heads < headCap:
		kind = keepHead
		gr.heads++
	case material && gr.pinned < pinCap:
		kind = keepPinned
		gr.pinned++
	case recentMin == 0:
		return
	}
	gr.inc.Alerts = append(gr.inc.Alerts, a)
	gr.kinds = append(gr.kinds, kind)
	if len(gr.inc.Alerts) <= limit {
		return
	}
	alerts := make([]rules.Alert, 0, limit)
	kinds := make([]keepKind, 0, limit)
	recentFrom := len(gr.inc.Alerts) - recentMin
	for i, k := range gr.kinds {
		if k != keepRecent || i >= recentFrom {
			alerts = append(alerts, gr.inc.Alerts[i])
			kinds = append(kinds, k)
		}
	}
	gr.inc.Alerts, gr.kinds = alerts, kinds
}

func (gr *group) addRelated(a rules.Alert, limit int) {
	add := func(set *[]string, v string) {
		v = strings.TrimSpace(v)
		if v == "" || v == "-" {
			return
		}
		if len(v) > maxValueLen {
			v = strings.ToValidUTF8(v[:maxValueLen], "") + "…"
		}
		i, found := slices.BinarySearch(*set, v)
		if found || len(*set) >= limit {
			return
		}
		// A new array: snapshots share the old one.
		grown := make([]string, 0, len(*set)+1)
		grown = append(grown, (*set)[:i]...)
		grown = append(grown, v)
		*set = append(grown, (*set)[i:]...)
	}
	addFrom := func(e event.Event) {
		add(&gr.inc.Users, e.String("user.name"))
		add(&gr.inc.Hosts, e.String("host.name"))
		add(&gr.inc.IPs, e.String("source.ip"))
		add(&gr.inc.IPs, e.String("destination.ip"))
	}
	switch a.Vigil.Alert.Entity.Field {
	case "user.name":
		add(&gr.inc.Users, a.Vigil.Alert.Entity.Value)
	case "host.name":
		add(&gr.inc.Hosts, a.Vigil.Alert.Entity.Value)
	case "source.ip", "destination.ip":
		add(&gr.inc.IPs, a.Vigil.Alert.Entity.Value)
	}
	if a.Fields != nil {
		addFrom(a.Fields)
	}
	for _, e := range a.Vigil.Alert.Events {
		addFrom(e)
	}
}

// snapshot returns the incident as it is now. Its slices share storage with
// the group, which never writes below their length, and are clipped so an
// append by the caller copies.
func (gr *group) snapshot() *Incident {
	inc := gr.inc
	if inc.Severity == "" {
		inc.Severity = Severities[0]
	}
	inc.AlertIDs = slices.Clip(inc.AlertIDs)
	inc.Users = slices.Clip(inc.Users)
	inc.Hosts = slices.Clip(inc.Hosts)
	inc.IPs = slices.Clip(inc.IPs)
	inc.Alerts = slices.Clip(inc.Alerts)

	inc.Rules = make([]RuleSummary, 0, len(gr.rules))
	for _, rs := range gr.rules {
		inc.Rules = append(inc.Rules, *rs)
	}
	slices.SortFunc(inc.Rules, func(x, y RuleSummary) int {
		if c := cmp.Compare(severityRank(y.Severity), severityRank(x.Severity)); c != 0 {
			return c
		}
		return cmp.Compare(x.ID, y.ID)
	})
	return &inc
}

// IncidentID derives an incident's id from its entity and its first alert,
// so replaying the same alerts rebuilds the same id.
func IncidentID(ent rules.Entity, firstAlertID string) string {
	h := sha256.New()
	h.Write([]byte(ent.Field))
	h.Write([]byte{0})
	h.Write([]byte(ent.Value))
	h.Write([]byte{0})
	h.Write([]byte(firstAlertID))
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// alertEntity is what the alert is about; an alert without an entity is
// grouped by its rule.
func alertEntity(a rules.Alert) rules.Entity {
	if e := a.Vigil.Alert.Entity; e.Field != "" || e.Value != "" {
		return e
	}
	return rules.Entity{Field: "rule.id", Value: a.Rule.ID}
}

// alertSpan is the event time the alert covers.
func alertSpan(a rules.Alert) (first, last time.Time) {
	first, last = a.Vigil.Alert.FirstSeen, a.Vigil.Alert.LastSeen
	if last.IsZero() {
		last = a.Timestamp
	}
	if first.IsZero() || first.After(last) {
		first = last
	}
	return first, last
}

func normSeverity(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// severityRank orders severities low=0 … critical=3; unknown is -1.
func severityRank(s string) int { return slices.Index(Severities, s) }
