package pipeline

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/vigil-siem/vigil/bus"
	"github.com/vigil-siem/vigil/enrichers"
	"github.com/vigil-siem/vigil/rules"
	"github.com/vigil-siem/vigil/triage"
)

// triageConcurrency bounds the incidents judged at once within a batch.
const triageConcurrency = 4

// RunTriage consumes vigil.alerts, groups them into incidents, judges each
// incident that is new or changed materially, and produces its verdict on
// vigil.verdicts keyed by incident id. An alert that cannot be decoded
// goes to the DLQ.
func (s *System) RunTriage(ctx context.Context) error {
	tcfg := s.Config.Triage
	if s.Enrich != nil {
		tcfg.Lookup = s.Enrich // vigil run: the detect stage's enrichers and caches
	} else {
		own, err := enrichers.New(s.Config.Detect.Enrich) // vigil triage: its own, from detect.enrich
		if err != nil {
			return fmt.Errorf("triage: %w", err)
		}
		defer own.Close()
		tcfg.Lookup = own
	}
	tcfg.Log = s.Log // the LLM's failures, breaker and recovery, rate-limited
	engine, err := triage.NewTriager(tcfg)
	if err != nil {
		return fmt.Errorf("triage: %w", err)
	}
	grouper := triage.NewGrouper(triage.GrouperConfig{
		Window:  time.Duration(s.Config.Triage.Window),
		MaxSpan: time.Duration(s.Config.Triage.MaxSpan),
	})
	open := newOpenIncidents(grouper, time.Duration(s.Config.Triage.Window), time.Duration(s.Config.Triage.IdleClose),
		triage.ReorderConfig{Delay: time.Duration(s.Config.Triage.ReorderDelay)})
	// The last triage of each incident: an incident that grows without a
	// material change (one more alert of a rule it has) is re-indexed with
	// its current counts and its last triage, without a new LLM call.
	judged, err := lru.New[string, triage.Triage](triage.DefaultMaxIncidents)
	if err != nil {
		return err
	}
	s.Log.Info("triage stage started", "engine", engine.Name())
	if lim := engine.Limiter(); lim != nil {
		s.Metrics.OnScrape(func() {
			st := lim.State()
			open := 0.0
			if st.BreakerOpen {
				open = 1
			}
			s.Metrics.LLMBreakerOpen.Set(open)
			s.Metrics.LLMSpentToday.Set(float64(st.SpentToday))
		})
	}
	// group puts alerts released by the reorder buffers into incidents,
	// judges those that changed, and sends their verdicts after out.
	group := func(ctx context.Context, released []triage.Held[bus.Record], out []bus.Message) error {
		var changed []*triage.Incident
		index := map[string]int{}
		rejudge := map[string]bool{}
		for _, h := range released {
			r, a := h.Value, h.Alert
			inc, material := grouper.Add(a)
			if inc == nil {
				continue // a replayed alert of an incident that is gone
			}
			if rebuilt := open.add(r, inc, a); rebuilt {
				continue // judged before the restart: it only rebuilds the incident
			}
			if material {
				rejudge[inc.ID] = true
			}
			// Each changed incident once per batch, in its latest state.
			if i, ok := index[inc.ID]; ok {
				changed[i] = inc
			} else {
				index[inc.ID] = len(changed)
				changed = append(changed, inc)
			}
		}
		var toJudge []*triage.Incident
		var verdicts []triage.Verdict
		for _, inc := range changed {
			if t, ok := judged.Get(inc.ID); ok && !rejudge[inc.ID] {
				verdicts = append(verdicts, NewVerdict(inc, t, time.Now()))
				continue
			}
			toJudge = append(toJudge, inc)
		}
		fresh, err := judge(ctx, engine, toJudge)
		if err != nil {
			return err
		}
		for _, v := range fresh {
			judged.Add(v.ID(), v.Triage)
			s.observeTriage(v.Triage)
		}
		verdicts = append(verdicts, fresh...)
		for _, v := range verdicts {
			b, err := json.Marshal(v)
			if err != nil {
				return fmt.Errorf("encode verdict of incident %s: %w", v.ID(), err)
			}
			out = append(out, bus.Message{Topic: bus.TopicVerdicts, Key: []byte(v.ID()), Value: b})
		}
		if err := s.send(ctx, out); err != nil {
			return err
		}
		s.Progress.Verdicts.Add(int64(len(verdicts)))
		s.Progress.TriageIn.Add(int64(len(released))) // only now are they triaged (vigil demo waits for it)
		s.Metrics.StageOut.WithLabelValues("triage").Add(float64(len(verdicts)))
		return nil
	}
	handle := func(ctx context.Context, batch []bus.Record) error {
		var out []bus.Message
		now := time.Now()
		var released []triage.Held[bus.Record]
		for _, r := range batch {
			var a rules.Alert
			if err := json.Unmarshal(r.Value, &a); err != nil {
				out = append(out, bus.DeadLetter("triage", r, err.Error()))
				continue
			}
			if a.Vigil.Alert.ID == "" {
				out = append(out, bus.DeadLetter("triage", r, "alert has no vigil.alert.id"))
				continue
			}
			released = append(released, open.hold(r, a, now)...)
		}
		if err := group(ctx, released, out); err != nil {
			return err
		}
		s.Progress.TriageIn.Add(int64(len(out))) // the dead letters; the alerts count when grouped
		s.Metrics.StageIn.WithLabelValues("triage").Add(float64(len(batch)))
		open.closeExpired(time.Now())
		return nil
	}
	var c *bus.Consumer
	c, err = bus.NewConsumer(s.Bus, bus.ConsumerConfig{
		Group:   GroupTriage,
		Topics:  []string{bus.TopicAlerts},
		OnError: func(err error) { s.Log.Warn("kafka", "group", GroupTriage, "err", err) },
		OnAssign: func(parts []bus.TopicPartition) (map[bus.TopicPartition]int64, error) {
			return open.assign(c, parts, s.Log)
		},
		OnRevoke:       open.revoke,
		CommitFloor:    open.floor,
		CommitMetadata: open.metadata,
		Tick: func(ctx context.Context) error {
			if released := open.release(time.Now()); len(released) > 0 {
				if err := group(ctx, released, nil); err != nil {
					return err
				}
			}
			open.closeExpired(time.Now())
			return nil
		},
	})
	if err != nil {
		return err
	}
	s.trackConsumer("triage", GroupTriage, c, nil)
	defer func() {
		s.untrackConsumer("triage")
		c.Close()
	}()
	if err := c.Run(ctx, handle); err != nil {
		return fmt.Errorf("%s: %w", GroupTriage, err)
	}
	return nil
}

// openIncidents keeps, per vigil.alerts partition, the offsets of the
// alerts of the incidents the Grouper built from it, so that the offset
// committed for the partition never passes an alert of an open incident
// (bus.ConsumerConfig.CommitFloor). A restart, or the member a partition
// moves to, reads those alerts again and rebuilds the incidents as they
// were: the Grouper is deterministic given the same alerts in the same
// order, and every alert of one entity is on one partition (alerts are
// keyed by entity). A re-built incident keeps its id, so its verdicts
// overwrite the earlier ones in Elasticsearch; the last one written is the
// full incident. While the replay catches up, an incident may be judged
// in a smaller state (a batch ends inside its alerts): those verdicts come
// before the full one on vigil.verdicts (same key, same partition), so
// they never have the last word.
//
// An incident is closed (and stops holding the commit back) when the
// newest alert of its partition, in event time, is one Window past the
// incident's reach (Grouper.Reach: Window past its last alert, at most
// triage.max_span past its first). Closing is reproduced by a replay as
// long as alerts arrive no more than one Window out of event-time order.
//
// A partition that received no alert for triage.idle_close releases its
// incidents' hold on the commit, so a quiet partition's lag returns to 0,
// but its incidents stay open for alerts of their window: a pause in the
// stream (a detect restart, a collector outage) does not split an
// incident in two, whose alerts a time-ordered run would group in one.
// When such an incident takes an alert again, it holds the commit from
// that alert on (holdFrom), not from its first: the committed offset
// never goes back. Every commit carries, as its metadata, the offset from
// which a replay rebuilds every incident that the committed offset would
// cut or that is still open to joining (metadata): the member that gets
// the partition next re-reads the alerts from there up to the committed
// offset only to rebuild those incidents (they were judged already: no
// verdict), so a later alert joins them under the same id, and an alert
// past the committed offset is judged with the whole incident. Only an
// incident the Grouper evicted splits. So a partition's committed offset
// lags by at most max_span + 2×window of event time, or idle_close of
// quiet.
//
// All of it runs on the consumer's goroutine (handler, Tick, hooks).
type openIncidents struct {
	grouper *triage.Grouper
	grace   time.Duration
	idle    time.Duration
	reorder triage.ReorderConfig
	parts   map[bus.TopicPartition]*alertPartition
}

// alertPartition is what one vigil.alerts partition built.
type alertPartition struct {
	// held are the partition's alerts not yet grouped: each waits
	// triage.reorder_delay so that alerts are grouped in (event time,
	// alert id) order, whatever order the detect tasks wrote them in,
	// and the same alerts build the same incidents with the same ids.
	held      *triage.Reorder[bus.Record]
	watermark time.Time // newest alert end, in event time
	lastAlert time.Time // when its last record was handled, wall clock
	incs      map[string]*incidentSpan
	// rebuildUntil: the alerts below it were judged before the partition
	// came to this member; they are re-read only to rebuild incidents.
	rebuildUntil int64
}

// incidentSpan is where an incident's alerts are in its partition.
type incidentSpan struct {
	first, last int64
	// holdFrom is the first offset of the alerts it took since it last
	// began holding the commit back: its first alert, or the alert that
	// made it take alerts again after a quiet partition released it.
	holdFrom int64
	reach    time.Time
	// open: the incident holds the commit back; joinable: it is open in
	// the Grouper (an idle partition releases the hold, not the incident).
	open, joinable bool
}

func newOpenIncidents(g *triage.Grouper, window, idle time.Duration, reorder triage.ReorderConfig) *openIncidents {
	if window <= 0 {
		window = triage.DefaultWindow
	}
	if idle <= 0 {
		idle = triage.DefaultIdleClose
	}
	return &openIncidents{grouper: g, grace: window, idle: idle, reorder: reorder, parts: map[bus.TopicPartition]*alertPartition{}}
}

// part returns what partition tp built, made on first use.
func (o *openIncidents) part(tp bus.TopicPartition) *alertPartition {
	p := o.parts[tp]
	if p == nil {
		p = &alertPartition{held: triage.NewReorder[bus.Record](o.reorder), incs: map[string]*incidentSpan{}}
		o.parts[tp] = p
	}
	return p
}

// hold puts the alert of record r, received at now, in its partition's
// reorder buffer, and returns the partition's alerts due for grouping.
func (o *openIncidents) hold(r bus.Record, a rules.Alert, now time.Time) []triage.Held[bus.Record] {
	p := o.part(bus.TopicPartition{Topic: r.Topic, Partition: r.Partition})
	p.lastAlert = now
	return p.held.Push(a, r, now)
}

// release returns the alerts of every partition due for grouping at now.
func (o *openIncidents) release(now time.Time) []triage.Held[bus.Record] {
	var out []triage.Held[bus.Record]
	for _, p := range o.parts {
		out = append(out, p.held.Release(now)...)
	}
	return out
}

// add records that the alert of record r is in inc, and reports whether
// r was re-read only to rebuild inc (see rebuildUntil): it then makes inc
// joinable without holding the commit.
func (o *openIncidents) add(r bus.Record, inc *triage.Incident, a rules.Alert) (rebuilt bool) {
	p := o.part(bus.TopicPartition{Topic: r.Topic, Partition: r.Partition})
	rebuilt = r.Offset < p.rebuildUntil
	if _, last := alertTimes(a); last.After(p.watermark) {
		p.watermark = last
	}
	sp := p.incs[inc.ID]
	if sp == nil {
		sp = &incidentSpan{first: r.Offset}
		p.incs[inc.ID] = sp
	}
	sp.first = min(sp.first, r.Offset)
	sp.last = max(sp.last, r.Offset)
	sp.reach = o.grouper.Reach(inc)
	switch {
	case rebuilt:
	case sp.open:
		sp.holdFrom = min(sp.holdFrom, r.Offset) // alerts come in event-time order
	default:
		sp.open, sp.holdFrom = true, r.Offset
	}
	sp.joinable = true
	return rebuilt
}

// closeExpired closes the incidents their partition's alerts moved past
// (or the Grouper evicted), and releases the hold of those of partitions
// quiet for the idle time, which stay open for alerts of their window.
func (o *openIncidents) closeExpired(now time.Time) {
	var ids []string
	for _, p := range o.parts {
		quiet := now.Sub(p.lastAlert) >= o.idle && p.held.Len() == 0
		for id, sp := range p.incs {
			if !sp.joinable {
				continue
			}
			if p.watermark.After(sp.reach.Add(o.grace)) || !o.grouper.Open(id) {
				sp.open, sp.joinable = false, false
				ids = append(ids, id)
				continue
			}
			if quiet {
				sp.open = false
			}
		}
	}
	o.grouper.Close(ids...)
}

// floor is the CommitFloor of the triage consumer: the first offset of
// the partition not yet fully handled: below every alert still held for
// reordering and every alert of an open incident since it began holding
// the commit (holdFrom). The incidents it may cut are rebuilt on replay
// from the offset in the commit's metadata.
func (o *openIncidents) floor(tp bus.TopicPartition) (int64, bool) {
	commit, held, rebuild, _ := o.bounds(tp)
	if p := o.parts[tp]; p != nil {
		for id, sp := range p.incs {
			if !sp.joinable && sp.last < rebuild {
				delete(p.incs, id) // closed, committed past, never replayed
			}
		}
	}
	return commit, held
}

// rebuildKey prefixes the commit metadata of the triage consumer.
const rebuildKey = "vigil.rebuild="

// metadata is the CommitMetadata of the triage consumer: when a replay
// from the committed offset would see part of an incident (one that took
// alerts after a quiet partition released it, a closed one the floor
// cuts) or miss one still open to joining, the offset from which a
// replay rebuilds them whole.
func (o *openIncidents) metadata(tp bus.TopicPartition) string {
	commit, held, rebuild, ok := o.bounds(tp)
	if !ok || (held && commit <= rebuild) {
		return "" // a replay from the committed offset rebuilds everything
	}
	return rebuildKey + strconv.FormatInt(rebuild, 10)
}

// bounds computes the partition's commit floor (see floor), and the
// offset from which a replay rebuilds whole every incident with alerts
// at or past it, every incident open to joining, and every alert at or
// past the floor: the lowest first alert of those incidents.
func (o *openIncidents) bounds(tp bus.TopicPartition) (commit int64, held bool, rebuild int64, ok bool) {
	p := o.parts[tp]
	if p == nil {
		return 0, false, 0, false
	}
	commit = math.MaxInt64 // the batch's next offset is the consumer's
	for r := range p.held.Values() {
		commit = min(commit, r.Offset)
	}
	rebuild = commit
	spans := make([]*incidentSpan, 0, len(p.incs))
	for _, sp := range p.incs {
		if sp.open {
			commit = min(commit, sp.holdFrom)
		}
		if sp.joinable {
			rebuild = min(rebuild, sp.first)
		}
		spans = append(spans, sp)
	}
	rebuild = min(rebuild, commit)
	// A closed incident with alerts at or past the rebuild offset would be
	// rebuilt in part, under another id: the offset moves below it, which
	// may bring other incidents in.
	slices.SortFunc(spans, func(x, y *incidentSpan) int { return cmp.Compare(y.last, x.last) })
	for _, sp := range spans {
		if sp.last >= rebuild {
			rebuild = min(rebuild, sp.first)
		}
	}
	return commit, commit < math.MaxInt64, rebuild, rebuild < math.MaxInt64
}

// assign starts each newly assigned partition whose last commit says
// incidents were open to joining (metadata) at the offset that rebuilds
// them, and marks the alerts up to the committed offset as re-read only
// to rebuild them.
func (o *openIncidents) assign(c *bus.Consumer, parts []bus.TopicPartition, log *slog.Logger) (map[bus.TopicPartition]int64, error) {
	committed, err := c.CommittedMetadata(parts, 30*time.Second)
	if err != nil {
		return nil, err
	}
	start := map[bus.TopicPartition]int64{}
	for tp, co := range committed {
		rest, ok := strings.CutPrefix(co.Metadata, rebuildKey)
		if !ok {
			continue
		}
		from, err := strconv.ParseInt(rest, 10, 64)
		if err != nil || from < 0 || from >= co.Offset {
			if err != nil || from < 0 {
				log.Warn("triage: commit metadata not understood, incidents open to joining are not rebuilt", "partition", tp.String(), "metadata", co.Metadata)
			}
			continue
		}
		start[tp] = from
		o.part(tp).rebuildUntil = co.Offset
		log.Info("triage partition assigned: re-reading alerts to rebuild incidents open to joining", "partition", tp.String(), "from", from, "committed", co.Offset)
	}
	return start, nil
}

// revoke forgets what the partitions built: their new owner (or this
// member, when they come back) rebuilds it from their committed offsets.
func (o *openIncidents) revoke(parts []bus.TopicPartition, _ bool) {
	for _, tp := range parts {
		p := o.parts[tp]
		if p == nil {
			continue
		}
		ids := make([]string, 0, len(p.incs))
		for id := range p.incs {
			ids = append(ids, id)
		}
		o.grouper.Forget(ids...)
		delete(o.parts, tp)
	}
}

// alertTimes is the event time an alert covers, as the Grouper sees it.
func alertTimes(a rules.Alert) (first, last time.Time) {
	first, last = a.Vigil.Alert.FirstSeen, a.Vigil.Alert.LastSeen
	if last.IsZero() {
		last = a.Timestamp
	}
	if first.IsZero() || first.After(last) {
		first = last
	}
	return first, last
}

// observeTriage counts one fresh judgement: its verdict, and for LLM
// answers the tokens, cost and latency.
func (s *System) observeTriage(t triage.Triage) {
	m := s.Metrics
	m.Incidents.WithLabelValues(t.Verdict).Inc()
	m.LLMCalls.WithLabelValues(t.Engine, strconv.FormatBool(t.Cached)).Inc()
	if t.Tokens.Total > 0 && !t.Cached {
		m.LLMTokens.WithLabelValues("prompt").Add(float64(t.Tokens.Prompt))
		m.LLMTokens.WithLabelValues("completion").Add(float64(t.Tokens.Completion))
		m.LLMCost.Add(t.CostUSD)
	}
	if t.Model != "" && !t.Cached && t.LatencyMS > 0 {
		m.LLMLatency.Observe(float64(t.LatencyMS) / 1000)
	}
}

// judge triages incidents concurrently (bounded) and returns their
// verdicts in the incidents' order.
func judge(ctx context.Context, engine triage.Engine, incs []*triage.Incident) ([]triage.Verdict, error) {
	verdicts := make([]triage.Verdict, len(incs))
	errs := make([]error, len(incs))
	sem := make(chan struct{}, triageConcurrency)
	var wg sync.WaitGroup
	for i, inc := range incs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			t, err := engine.Triage(ctx, inc)
			if err != nil {
				errs[i] = fmt.Errorf("triage incident %s: %w", inc.ID, err)
				return
			}
			verdicts[i] = NewVerdict(inc, t, time.Now())
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return verdicts, nil
}

// NewVerdict assembles the verdict document of an incident.
func NewVerdict(inc *triage.Incident, t triage.Triage, now time.Time) triage.Verdict {
	return triage.Verdict{
		Timestamp: inc.LastSeen,
		Event: triage.VerdictEvent{
			Kind:    "enrichment",
			Created: now.UTC(),
			Start:   inc.FirstSeen,
			End:     inc.LastSeen,
		},
		Vigil:  triage.VerdictVigil{Incident: *inc},
		Triage: t,
	}
}
