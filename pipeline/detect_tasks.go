package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/vigil-siem/vigil/bus"
	"github.com/vigil-siem/vigil/config"
	"github.com/vigil-siem/vigil/enrichers"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/rules"
	"github.com/vigil-siem/vigil/triage"
)

// The detect stage's tasks: one per assigned partition of vigil.events
// (one engine running the local rules) and of vigil.detect.rekey (one
// engine per re-key group). A task's state moves with its partition: it
// is restored from vigil.state when the partition is assigned and
// checkpointed every detect.checkpoint_interval, when the partition is
// revoked and on shutdown. Where a partition starts is always its
// checkpoint's offset: a partition seen for the first time gets an empty
// checkpoint at the group's committed offset (or its beginning) at once,
// so a crash before its first periodic checkpoint replays from there
// (written while the first batches run; until it is stored, the
// partition's commits stay at that offset).
//
// A batch's output (alerts, re-keyed copies, dead letters) is handed to
// the producer and acknowledged while the next batches are evaluated
// (bus.Consumer.RunAsync, up to detectMaxPending batches in flight); a
// batch's offsets are committed only once its output is acknowledged, and
// a checkpoint first waits for every evaluated batch's output, so the
// state it stores never includes an event whose output could be lost.
// Offsets are still committed after every batch, for the lag metric.

// Defaults of config.Detect.
const (
	defaultCheckpointInterval = 5 * time.Second
	defaultWatchInterval      = 2 * time.Second
)

// The detect consumer's batching (see runDetect): batch size, and the
// batches whose output may be in flight while the next is evaluated.
// One: with more, a batch whose delivery failed for good could be
// followed by a later batch's re-keyed copies, and a re-key partition
// skips replayed copies below the last source offset it took, so the
// failed batch's copies would be lost after the restart. One already
// gives the overlap (measured: the same events/s as four).
const (
	detectMaxBatch   = 2000
	detectMaxPending = 1
)

// detectOptions are test knobs of runDetect.
type detectOptions struct {
	// crash stops without a last checkpoint, as a killed process would.
	crash bool
	// stage names the consumer for lag and readiness (default "detect"):
	// tests run two members in one process.
	stage string
	// allLocal runs every rule on the vigil.events partitions, re-keying
	// nothing: correct with a single member only, for benchmarks.
	allLocal bool
	// idle is how long a re-key partition waits for a source that sends
	// nothing (default defaultRekeyIdle; see rekeyMerge).
	idle time.Duration
}

// detectTask is the state of one assigned partition.
type detectTask struct {
	tp      bus.TopicPartition
	engines map[string]*rules.Engine // "" on vigil.events; the group id on the re-key topic
	// next is the offset of the next record to process (-1 until the
	// first record: the checkpoint's offset stands).
	next int64
	// srcHW is, per group and vigil.events partition, the highest source
	// offset processed: a replayed re-key record is skipped.
	srcHW map[string]map[int32]int64
	// merge holds re-keyed copies until every source reached their event
	// time (re-key tasks only).
	merge   *rekeyMerge
	live    map[string]bool  // chunk keys of the last checkpoint
	evicted map[string]int64 // evictions already counted, per engine
	dirty   bool             // processed records since the last checkpoint
}

// detector is the detect stage of one process; everything but the rule
// file watcher runs on the consumer's goroutine.
type detector struct {
	s          *System
	opt        detectOptions
	log        *slog.Logger
	cfg        config.Detect
	keyField   string
	lateness   time.Duration
	interval   time.Duration
	idle       time.Duration // see detectOptions.idle
	enrich     *enrichers.Set
	redact     *triage.Redactor // secrets in the alerts' copies of events (redactAlert)
	route      *routing
	tasks      map[bus.TopicPartition]*detectTask
	store      *stateStore
	cons       *bus.Consumer
	out        []bus.Message // what the current batch produces
	current    bus.Record    // the record being evaluated
	lastSaved  time.Time
	enrichSeen map[string]enrichers.Stats
	// First checkpoints of newly seen partitions being written (assign):
	// initial is closed when initialJobs have their results; hold is the
	// start offset their commits stay at meanwhile.
	initial     chan struct{}
	initialJobs []checkpointJob
	initialCtx  context.Context
	hold        map[bus.TopicPartition]int64
	// Progress: an event counts as detected once its re-keyed copies
	// were handled too (as far as this process sees them).
	eventsIn, rekeyOut, rekeyIn, reported int64
}

func (d *detector) badRule(err error) { d.log.Error("rule not loaded", "err", err) }

// newEngine returns an engine for a task. On vigil.events, with a
// detect.allowed_lateness, a late event (older than the partition's newest
// event minus the lateness) is dead-lettered. A re-key partition merges events of every vigil.events
// partition, each in order but not with each other (one may lag behind
// another): there an event older than the watermark is evaluated at once,
// as well as it can be, rather than dropped for a delay the merge made.
func (d *detector) newEngine(rs []*rules.Compiled, merged bool) *rules.Engine {
	cfg := rules.EngineConfig{AllowedLateness: d.lateness, MaxKeys: d.cfg.MaxKeys}
	// Without an allowed lateness events are evaluated in arrival order:
	// an older event is not late, there is no buffer it missed.
	if !merged && d.lateness > 0 {
		cfg.OnLate = func(event.Event) {
			d.out = append(d.out, bus.DeadLetter("detect", d.current,
				fmt.Sprintf("late event: older than the newest event time minus detect.allowed_lateness (%s)", d.lateness)))
		}
	}
	return rules.NewEngine(rs, cfg)
}

func (d *detector) newTask(tp bus.TopicPartition) *detectTask {
	t := &detectTask{tp: tp, engines: map[string]*rules.Engine{}, next: -1,
		srcHW: map[string]map[int32]int64{}, live: map[string]bool{}, evicted: map[string]int64{}}
	if tp.Topic == bus.TopicRekey {
		t.merge = newRekeyMerge()
		for _, id := range d.route.order {
			t.engines[id] = d.newEngine(d.route.groups[id].rules, true)
		}
	} else {
		t.engines[""] = d.newEngine(d.route.local, false)
	}
	return t
}

// assign creates the tasks of newly assigned partitions, restores their
// checkpoints and returns where each restored partition starts.
func (d *detector) assign(parts []bus.TopicPartition) (map[bus.TopicPartition]int64, error) {
	// Generous: a large state on a slow broker may take a while, and
	// giving up means exiting (the partitions then go to another member).
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := d.awaitInitial(true); err != nil {
		return nil, err
	}
	saved, err := d.store.read(ctx, parts)
	if err != nil {
		return nil, err
	}
	start := map[bus.TopicPartition]int64{}
	var fresh []bus.TopicPartition
	orphans := map[bus.TopicPartition]map[string]bool{} // chunks of corrupt checkpoints
	for _, tp := range parts {
		t := d.newTask(tp)
		d.tasks[tp] = t
		r := saved[tp]
		if r != nil && r.corrupt != nil {
			d.corruptState(ctx, tp, r)
			orphans[tp] = r.live
			r = nil
		}
		if r == nil {
			fresh = append(fresh, tp)
			continue
		}
		for _, e := range r.errs {
			d.log.Error("detect state", "err", e)
		}
		now := time.Now()
		for id, recs := range r.engines {
			if id == heldEngineID && t.merge != nil {
				if err := t.merge.restore(recs); err != nil {
					d.log.Error("detect state partly restored: re-keyed events waiting for other sources are lost", "partition", tp.String(), "err", err)
				}
				continue
			}
			eng := t.engines[id]
			if eng == nil {
				d.log.Warn("detect state of a re-key group no longer running is dropped", "partition", tp.String(), "group", id)
				continue
			}
			if err := eng.RestoreRecords(recs); err != nil {
				d.log.Error("detect state partly restored", "partition", tp.String(), "err", err)
			}
		}
		for g, hw := range r.meta.SourceHW {
			t.srcHW[g] = hw
		}
		if t.merge != nil {
			t.merge.restoreSources(r.meta.SourceTime, now)
		}
		t.live = r.live
		start[tp] = r.meta.Next
		d.log.Info("detect partition assigned, state restored", "partition", tp.String(), "offset", r.meta.Next,
			"records", len(r.meta.Records), "checkpointed", r.meta.Written)
	}
	if len(fresh) == 0 {
		return start, nil
	}
	committed, err := d.cons.Committed(fresh, 30*time.Second)
	if err != nil {
		return nil, err
	}
	jobs := make([]checkpointJob, 0, len(fresh))
	for _, tp := range fresh {
		next, ok := committed[tp]
		if !ok {
			next = bus.OffsetBeginning
		}
		jobs = append(jobs, checkpointJob{tp: tp, meta: stateMeta{Next: next}, live: orphans[tp]})
		start[tp] = next
		// Until its first checkpoint is stored, the partition's commits
		// stay at its start: a crash before then starts it there again.
		d.hold[tp] = next
		d.log.Debug("detect partition assigned for the first time: empty state", "partition", tp.String(), "offset", next)
	}
	// One line for them all at info: a new deployment gets every partition
	// at once.
	d.log.Info("detect partitions assigned for the first time: empty state", "partitions", len(fresh))
	// Written while the first batches are evaluated (a new state writer
	// may take a while to be ready); checkpoint waits for it.
	done := make(chan struct{})
	d.initial, d.initialJobs = done, jobs
	go func() {
		defer close(done)
		d.store.writeAll(d.initialCtx, jobs)
	}()
	return start, nil
}

// corruptState reports a task's checkpoint whose meta record cannot be
// read: an error in the log naming the partition and the record, and the
// record itself on vigil.dlq (counted in vigil_dlq_records_total), where
// it can be looked at. The task then starts like a partition seen for the
// first time: empty state, at the group's committed offset.
func (d *detector) corruptState(ctx context.Context, tp bus.TopicPartition, r *restored) {
	d.log.Error("detect state: corrupt checkpoint; the partition starts with empty state at the group's committed offset",
		"partition", tp.String(), "record", metaKey(tp), "err", r.corruptErr)
	reason := "corrupt checkpoint: " + r.corruptErr.Error()
	msg := bus.DeadLetter("detect", *r.corrupt, reason)
	if err := d.s.Producer.Send(ctx, []bus.Message{msg}); err != nil {
		d.log.Error("detect state: corrupt checkpoint not copied to the DLQ", "partition", tp.String(), "err", err)
		return
	}
	d.s.Progress.DeadLetters.Add(1)
	d.s.Metrics.DLQ.WithLabelValues("detect", d.s.Metrics.Reason(reason)).Inc()
}

// awaitInitial waits for the first checkpoints assign is writing (when
// block, else only if they are done) and takes their results: their
// partitions' commits are no longer held. An error is what failed.
func (d *detector) awaitInitial(block bool) error {
	if d.initial == nil {
		return nil
	}
	if !block {
		select {
		case <-d.initial:
		default:
			return nil
		}
	}
	<-d.initial
	jobs := d.initialJobs
	d.initial, d.initialJobs = nil, nil
	var errs []error
	for _, j := range jobs {
		if j.err != nil {
			errs = append(errs, fmt.Errorf("first checkpoint of %s: %w", j.tp, j.err))
			continue
		}
		if t := d.tasks[j.tp]; t != nil { // checkpoint waits for this: no newer one yet
			t.live = j.live
		}
		delete(d.hold, j.tp)
	}
	return errors.Join(errs...)
}

// commitFloor holds the commits of partitions whose first checkpoint is
// not stored yet (bus.ConsumerConfig.CommitFloor).
func (d *detector) commitFloor(tp bus.TopicPartition) (int64, bool) {
	off, ok := d.hold[tp]
	return off, ok
}

// revoke saves the state of partitions moving to another member (unless
// the group already gave them away) and drops their tasks.
func (d *detector) revoke(parts []bus.TopicPartition, lost bool) {
	d.log.Info("detect partitions revoked", "partitions", len(parts), "lost", lost)
	if !lost {
		// The consumer acknowledged the handled batches before calling
		// this (it skips it when it could not).
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := d.checkpoint(ctx, parts); err != nil {
			d.log.Error("detect partitions revoked without a checkpoint; they are replayed from the last one", "err", err)
		}
		cancel()
	}
	for _, tp := range parts {
		delete(d.tasks, tp)
	}
}

// checkpoint writes the state of the given dirty tasks (every task when
// parts is nil). The state includes every handled batch, so it first
// waits for what the last one produced (bus.Consumer.Flush): if that
// fails, nothing is written and the error is returned. Write failures
// are logged and counted: the task stays dirty and is tried again at the
// next interval.
func (d *detector) checkpoint(ctx context.Context, parts []bus.TopicPartition) error {
	if err := d.awaitInitial(true); err != nil {
		return fmt.Errorf("detect state not checkpointed: %w", err)
	}
	if d.cons != nil {
		if err := d.cons.Flush(ctx); err != nil {
			return fmt.Errorf("detect state not checkpointed: %w", err)
		}
	}
	if parts == nil {
		for tp := range d.tasks {
			parts = append(parts, tp)
		}
		sort.Slice(parts, func(i, j int) bool {
			if parts[i].Topic != parts[j].Topic {
				return parts[i].Topic < parts[j].Topic
			}
			return parts[i].Partition < parts[j].Partition
		})
	}
	m := d.s.Metrics
	var jobs []checkpointJob
	for _, tp := range parts {
		t := d.tasks[tp]
		if t == nil || !t.dirty || t.next < 0 {
			continue
		}
		ids := make([]string, 0, len(t.engines))
		for id := range t.engines {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		var states []engineState
		var err error
		for _, id := range ids {
			var recs []rules.StateRecord
			if recs, err = t.engines[id].Checkpoint(); err != nil {
				break
			}
			states = append(states, engineState{id: id, recs: recs})
		}
		if err == nil && t.merge != nil {
			var recs []rules.StateRecord
			if recs, err = t.merge.checkpoint(); err == nil && len(recs) > 0 {
				states = append(states, engineState{id: heldEngineID, recs: recs})
			}
		}
		if err != nil {
			m.StateCheckpoints.WithLabelValues("failed").Inc()
			d.log.Error("detect state not checkpointed; the partition will be replayed from its last checkpoint", "partition", tp.String(), "err", err)
			continue
		}
		meta := stateMeta{Next: t.next}
		if tp.Topic == bus.TopicRekey {
			meta.SourceHW = t.srcHW
			meta.SourceTime = t.merge.sources()
		}
		jobs = append(jobs, checkpointJob{tp: tp, meta: meta, states: states, live: t.live})
	}
	d.store.writeAll(ctx, jobs)
	for _, j := range jobs {
		t := d.tasks[j.tp]
		t.live = j.live
		if j.err != nil {
			m.StateCheckpoints.WithLabelValues("failed").Inc()
			d.log.Error("detect state not checkpointed; the partition will be replayed from its last checkpoint", "partition", j.tp.String(), "err", j.err)
			continue
		}
		m.StateCheckpoints.WithLabelValues("ok").Inc()
		m.StateCheckpointBytes.Add(float64(j.size))
		t.dirty = false
	}
	return nil
}

// tick runs between batches: a pending rule reload, the first
// checkpoints assign wrote, and the periodic checkpoint.
func (d *detector) tick(ctx context.Context) error {
	if d.s.reload.Swap(false) {
		d.reload()
	}
	if err := d.awaitInitial(false); err != nil { // releases held commits
		return err
	}
	if err := d.releaseIdle(ctx); err != nil {
		return err
	}
	if time.Since(d.lastSaved) >= d.interval {
		d.lastSaved = time.Now()
		return d.checkpoint(ctx, nil)
	}
	return nil
}

// reload loads the rules and enrichers again; unchanged rules keep their
// state in every task. If loading fails, the running rules stay.
func (d *detector) reload() {
	enrich, compiled, err := NewDetector(d.cfg, d.badRule)
	if err != nil {
		d.s.Metrics.RuleReloads.WithLabelValues("failed").Inc()
		d.log.Error("rules not reloaded, the running rules stay", "err", err)
		return
	}
	d.route = newRouting(compiled, d.keyField, d.opt.allLocal)
	for _, t := range d.tasks {
		if t.tp.Topic != bus.TopicRekey {
			t.engines[""].Reload(d.route.local)
			continue
		}
		for id, eng := range t.engines {
			if g := d.route.groups[id]; g != nil {
				eng.Reload(g.rules)
			} else {
				delete(t.engines, id)
				delete(t.evicted, id)
				delete(t.srcHW, id)
			}
		}
		for id, g := range d.route.groups {
			if t.engines[id] == nil {
				t.engines[id] = d.newEngine(g.rules, true)
			}
		}
	}
	if d.s.Enrich != nil {
		d.s.Enrich.Store(enrich)
	}
	d.enrich.Close()
	d.enrich = enrich
	d.enrichSeen = map[string]enrichers.Stats{} // the new enrichers count from 0
	d.s.Metrics.RuleReloads.WithLabelValues("ok").Inc()
	d.log.Info("rules reloaded", "rules", len(compiled), "local", len(d.route.local), "rekey_groups", len(d.route.order))
}

// handle runs one batch: events through the local rules (and out to the
// re-key topic), re-keyed events through their group's rules.
func (d *detector) handle(ctx context.Context, batch []bus.Record) (bus.Pending, error) {
	if err := d.awaitInitial(false); err != nil {
		return nil, err
	}
	if d.s.reload.Swap(false) {
		d.reload()
	}
	d.out = d.out[:0]
	alerts, evaluated, events := 0, 0, 0
	ruleAlerts := map[string]int{}
	emit := func(as []rules.Alert) error {
		for _, a := range as {
			msg, err := alertMessage(d.redact, a)
			if err != nil {
				return err
			}
			d.out = append(d.out, msg)
			alerts++
			ruleAlerts[a.Rule.ID]++
		}
		return nil
	}
	now := time.Now()
	rekeyIn := 0 // evaluated counts events once, not their re-keyed copies
	var rekeyed []timedMessages
	for _, r := range batch {
		t := d.tasks[bus.TopicPartition{Topic: r.Topic, Partition: r.Partition}]
		if t == nil {
			continue // revoked meanwhile: its new owner reads it
		}
		d.current = r
		t.next, t.dirty = r.Offset+1, true
		if r.Topic == bus.TopicRekey {
			rekeyIn++
			group := r.Headers[headerRekeyGroup]
			srcPart, srcOff, ok := parseSource(r.Headers[headerRekeySource])
			eng := t.engines[group]
			if !ok || eng == nil {
				continue // written by a detector running other rules
			}
			hw := t.srcHW[group]
			if hw == nil {
				hw = map[int32]int64{}
				t.srcHW[group] = hw
			}
			if last, seen := hw[srcPart]; seen && srcOff <= last {
				// A source record replayed after a restart: counted
				// already, but its source is catching up, not idle.
				t.merge.touch(srcPart, now)
				continue
			}
			hw[srcPart] = srcOff
			ev, err := d.s.Wire.Decode(r.Topic, r.Value)
			if err != nil {
				d.out = append(d.out, bus.DeadLetter("detect", r, err.Error()))
				continue
			}
			if d.lateness <= 0 {
				// Arrival order: nothing waits (a checkpoint written
				// with a lateness may have left copies waiting).
				if err := d.feed(t, t.merge.release(now, d.idle, true), emit); err != nil {
					return nil, err
				}
			} else if t.merge.add(group, srcPart, ev, now) {
				if err := d.feed(t, t.merge.release(now, d.idle, false), emit); err != nil {
					return nil, err
				}
				continue
			}
			if err := emit(eng.Process(ev)); err != nil {
				return nil, err
			}
			continue
		}
		events++
		ev, err := d.s.Wire.Decode(r.Topic, r.Value)
		if err != nil {
			d.out = append(d.out, bus.DeadLetter("detect", r, err.Error()))
			continue
		}
		d.enrich.Enrich(ctx, ev)
		evaluated++
		if err := emit(t.engines[""].Process(ev)); err != nil {
			return nil, err
		}
		if len(d.route.order) > 0 {
			value, err := d.s.Wire.Encode(bus.TopicRekey, ev)
			if err != nil {
				return nil, fmt.Errorf("encode enriched event of %s[%d]@%d: %w", r.Topic, r.Partition, r.Offset, err)
			}
			at, _ := ev.Time()
			rekeyed = append(rekeyed, timedMessages{at: at, msgs: d.route.rekey(ev, value, r)})
		}
	}
	// Re-keyed in the order of their source records: a re-key partition
	// skips a source record whose offset is not above the last one it
	// took from that source partition (a replay after a restart), so the
	// copies must not be reordered (sorting them by event time dropped
	// every copy that moved behind a later offset). Event-time order is
	// the engines' business (detect.allowed_lateness).
	rekeyOut := 0
	for _, tm := range rekeyed {
		rekeyOut += len(tm.msgs)
		d.out = append(d.out, tm.msgs...)
	}
	// The output goes to the producer now and is acknowledged while the
	// next batch is handled (bus.Consumer.RunAsync); what it counts is
	// counted once it is.
	var dlq []dlqReason
	for _, msg := range d.out {
		if msg.Topic == bus.TopicDLQ {
			dlq = append(dlq, dlqReason{msg.Headers[bus.HeaderDLQStage], msg.Headers[bus.HeaderDLQReason]})
		}
	}
	del := d.s.Producer.SendAsync(ctx, d.out)
	if err := del.Err(); err != nil {
		// Part of the batch is not on its way: stop before a later batch
		// is sent (a re-key partition skips a replayed source offset that
		// is below one it already took).
		return nil, fmt.Errorf("detect output of %d records: %w", len(d.out), err)
	}
	d.observeState()
	d.enrichSeen = observeEnrichers(d.s.Metrics, d.enrich.Stats(), d.enrichSeen)
	return &detectOutput{del: del, acked: func() {
		m := d.s.Metrics
		for _, r := range dlq {
			d.s.Progress.DeadLetters.Add(1)
			m.DLQ.WithLabelValues(r.stage, m.Reason(r.reason)).Inc()
		}
		d.s.Progress.Alerts.Add(int64(alerts))
		d.eventsIn += int64(events)
		d.rekeyOut += int64(rekeyOut)
		d.rekeyIn += int64(rekeyIn)
		detected := d.eventsIn - max(0, d.rekeyOut-d.rekeyIn)
		d.s.Progress.DetectIn.Add(detected - d.reported)
		d.reported = detected
		m.StageIn.WithLabelValues("detect").Add(float64(events))
		m.StageOut.WithLabelValues("detect").Add(float64(alerts))
		for id, n := range ruleAlerts {
			m.RuleAlerts.WithLabelValues(id).Add(float64(n))
		}
		m.RuleEvaluations.Add(float64(evaluated))
	}}, nil
}

// alertMessage is an alert's record on vigil.alerts, keyed by its entity,
// with the secrets in its log content redacted (redactAlert).
func alertMessage(red *triage.Redactor, a rules.Alert) (bus.Message, error) {
	a = redactAlert(red, a)
	b, err := json.Marshal(a)
	if err != nil {
		return bus.Message{}, fmt.Errorf("encode alert of rule %s: %w", a.Rule.ID, err)
	}
	return bus.Message{Topic: bus.TopicAlerts, Key: []byte(a.Vigil.Alert.Entity.String()), Value: b}, nil
}

// feed passes copies a re-key task's merge released to their groups'
// engines, in order, and their alerts to emit. A copy of a group a rule
// reload removed meanwhile is dropped with it.
func (d *detector) feed(t *detectTask, hs []heldEvent, emit func([]rules.Alert) error) error {
	for _, h := range hs {
		eng := t.engines[h.group]
		if eng == nil {
			continue
		}
		if err := emit(eng.Process(h.ev)); err != nil {
			return err
		}
	}
	return nil
}

// releaseIdle runs between batches: copies waiting in a re-key task's
// merge only for sources that went idle meanwhile (or, without an allowed
// lateness, any still waiting from a checkpoint) go to the engines, and
// the alerts they raise are sent and acknowledged before it returns, so
// that a checkpoint taken after it has them all.
func (d *detector) releaseIdle(ctx context.Context) error {
	now := time.Now()
	var msgs []bus.Message
	ruleAlerts := map[string]int{}
	emit := func(as []rules.Alert) error {
		for _, a := range as {
			msg, err := alertMessage(d.redact, a)
			if err != nil {
				return err
			}
			msgs = append(msgs, msg)
			ruleAlerts[a.Rule.ID]++
		}
		return nil
	}
	for _, t := range d.tasks {
		if t.merge == nil || len(t.merge.held) == 0 {
			continue
		}
		hs := t.merge.release(now, d.idle, d.lateness <= 0)
		if len(hs) == 0 {
			continue
		}
		t.dirty = true
		if err := d.feed(t, hs, emit); err != nil {
			return err
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	if err := d.s.Producer.Send(ctx, msgs); err != nil {
		return fmt.Errorf("detect alerts of re-keyed events released after an idle source: %w", err)
	}
	m := d.s.Metrics
	d.s.Progress.Alerts.Add(int64(len(msgs)))
	m.StageOut.WithLabelValues("detect").Add(float64(len(msgs)))
	for id, n := range ruleAlerts {
		m.RuleAlerts.WithLabelValues(id).Add(float64(n))
	}
	return nil
}

// dlqReason is a dead letter's stage and reason headers.
type dlqReason struct{ stage, reason string }

// detectOutput is what a batch produced, on its way to Kafka: once it
// is acknowledged, acked counts it.
type detectOutput struct {
	del   *bus.Delivery
	acked func()
}

// Wait waits for the acknowledgement, then counts the batch (once).
func (o *detectOutput) Wait(ctx context.Context) error {
	if err := o.del.Wait(ctx); err != nil {
		return err
	}
	if o.acked != nil {
		o.acked()
		o.acked = nil
	}
	return nil
}

// timedMessages are the re-keyed records of one event.
type timedMessages struct {
	at   time.Time
	msgs []bus.Message
}

// observeState sets the state gauges and counts new evictions.
func (d *detector) observeState() {
	m := d.s.Metrics
	keys := map[string]int{}
	var evicted int64
	for _, t := range d.tasks {
		for id, eng := range t.engines {
			for rule, n := range eng.StateKeys() {
				keys[rule] += n
			}
			ev := eng.Stats().Evictions
			evicted += ev - min(t.evicted[id], ev)
			t.evicted[id] = ev
		}
	}
	m.RuleStateEvictions.Add(float64(evicted))
	m.RuleStateKeys.Reset()
	for id, n := range keys {
		m.RuleStateKeys.WithLabelValues(id).Set(float64(n))
	}
}
