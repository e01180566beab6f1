package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/vigil-siem/vigil/event"
)

// Checkpoints: the engine's state as records, one per stateful rule
// ("rule/<id>") and one for the engine itself ("engine": newest event
// time, the reorder buffer, login sessions), each a versioned JSON
// document, so that they fit a compacted Kafka topic keyed by record key.
// A restored engine resumes exactly where the checkpointed one was: open
// sequences, threshold windows, learnt terms, suppression windows and the
// events waiting in the reorder buffer. State of a rule that no longer
// exists, or whose content changed (another hash), is ignored. Windows
// closing in event time get their timers back on restore.

// CheckpointVersion is the encoding version of checkpoint records.
const CheckpointVersion = 1

// EngineRecordKey is the key of the engine's own checkpoint record.
const EngineRecordKey = "engine"

// StateRecord is one record of a checkpoint: Key is "engine" or
// "rule/<rule id>", Value its JSON encoding.
type StateRecord struct {
	Key   string
	Value []byte
}

type engineRecord struct {
	Version  int             `json:"version"`
	Newest   time.Time       `json:"newest"`
	Arrivals uint64          `json:"arrivals"`
	Buffer   []bufferedJSON  `json:"buffer,omitempty"`
	Sessions []sessionRecord `json:"sessions,omitempty"`
}

type bufferedJSON struct {
	Event event.Event `json:"event"`
	Seq   uint64      `json:"seq"`
}

type sessionRecord struct {
	Key      string    `json:"key"`
	SourceIP string    `json:"source_ip"`
	EventID  string    `json:"event_id"`
	At       time.Time `json:"at"`
}

type ruleRecord struct {
	Version   int              `json:"version"`
	ID        string           `json:"id"`
	Hash      string           `json:"hash"`
	Sequence  []seqKeyRecord   `json:"sequence,omitempty"`
	Threshold []thrKeyRecord   `json:"threshold,omitempty"`
	NewTerms  *newTermsRecord  `json:"new_terms,omitempty"`
	Suppress  []suppressRecord `json:"suppress,omitempty"`
}

type seqKeyRecord struct {
	Key     string          `json:"key"`
	Last    time.Time       `json:"last"`
	Pending []partialRecord `json:"pending"` // one per waiting stage
}

type partialRecord struct {
	Waiting int           `json:"waiting"` // the stage it waits for
	Stage   int           `json:"stage"`   // the stage its newest event matched
	Chain   []chainRecord `json:"chain"`   // oldest first
}

// chainRecord is N consecutive matches of one event (a folded repeat).
type chainRecord struct {
	Event event.Event `json:"event"`
	T     time.Time   `json:"t"`
	N     int         `json:"n"`
}

type thrKeyRecord struct {
	Key     string           `json:"key"`
	Start   time.Time        `json:"start"`
	Entries []thrEntryRecord `json:"entries"`
}

type thrEntryRecord struct {
	T     time.Time   `json:"t"`
	N     int         `json:"n"`
	Value string      `json:"value,omitempty"`
	Event event.Event `json:"event,omitempty"` // the newest sampleSize entries only
}

type newTermsRecord struct {
	Started    bool         `json:"started"`
	LearnUntil time.Time    `json:"learn_until"`
	Terms      []termRecord `json:"terms"`
}

type termRecord struct {
	Term string    `json:"term"`
	Last time.Time `json:"last"`
}

type suppressRecord struct {
	Key   string    `json:"key"`
	Start time.Time `json:"start"`
	Count int       `json:"count"`
	First Alert     `json:"first"`
}

// Checkpoint returns the engine's state as records: the engine record
// first, then one per rule that holds state (rules without state have no
// record; a caller writing to a compacted topic tombstones the keys it
// wrote before and no longer gets).
func (e *Engine) Checkpoint() ([]StateRecord, error) {
	er := engineRecord{Version: CheckpointVersion, Newest: e.newest, Arrivals: e.arrivals}
	for _, b := range e.buffer {
		er.Buffer = append(er.Buffer, bufferedJSON{Event: b.ev, Seq: b.seq})
	}
	for _, k := range e.sessions.cache.Keys() {
		if s, ok := e.sessions.cache.Peek(k); ok {
			er.Sessions = append(er.Sessions, sessionRecord{Key: k, SourceIP: s.sourceIP, EventID: s.eventID, At: s.at})
		}
	}
	v, err := json.Marshal(er)
	if err != nil {
		return nil, fmt.Errorf("checkpoint engine: %w", err)
	}
	out := []StateRecord{{Key: EngineRecordKey, Value: v}}
	for _, c := range e.rules {
		rr := ruleRecord{Version: CheckpointVersion, ID: c.Rule.ID, Hash: c.hash}
		if st := e.seq[c]; st != nil {
			rr.Sequence = st.records(c)
		}
		if st := e.thr[c]; st != nil {
			rr.Threshold = st.records()
		}
		if st := e.nt[c]; st != nil && st.started {
			rr.NewTerms = st.record()
		}
		if st := e.sup[c]; st != nil {
			rr.Suppress = st.records()
		}
		if rr.Sequence == nil && rr.Threshold == nil && rr.NewTerms == nil && rr.Suppress == nil {
			continue
		}
		v, err := json.Marshal(rr)
		if err != nil {
			return nil, fmt.Errorf("checkpoint rule %s: %w", c.Rule.ID, err)
		}
		out = append(out, StateRecord{Key: "rule/" + c.Rule.ID, Value: v})
	}
	return out, nil
}

// RestoreRecords loads state written by Checkpoint into an engine that
// has processed nothing yet. Records of rules the engine does not run, or
// whose content changed since, are skipped; an empty Value (a tombstone)
// is skipped. A record that cannot be decoded, or of another version, is
// an error naming its key, and the other records are still restored.
func (e *Engine) RestoreRecords(recs []StateRecord) error {
	byID := map[string]*Compiled{}
	for _, c := range e.rules {
		byID[c.Rule.ID] = c
	}
	var errs []error
	for _, rec := range recs {
		if len(rec.Value) == 0 {
			continue
		}
		if err := e.restoreRecord(rec, byID); err != nil {
			errs = append(errs, fmt.Errorf("restore %s: %w", rec.Key, err))
		}
	}
	return errors.Join(errs...)
}

func (e *Engine) restoreRecord(rec StateRecord, byID map[string]*Compiled) error {
	var head struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(rec.Value, &head); err != nil {
		return err
	}
	if head.Version != CheckpointVersion {
		return fmt.Errorf("version %d, this engine reads %d", head.Version, CheckpointVersion)
	}
	if rec.Key == EngineRecordKey {
		var er engineRecord
		if err := json.Unmarshal(rec.Value, &er); err != nil {
			return err
		}
		e.newest, e.arrivals = er.Newest, er.Arrivals
		for _, b := range er.Buffer {
			t, ok := b.Event.Time()
			if !ok {
				continue
			}
			e.buffer.Push(buffered{ev: b.Event, t: t, seq: b.Seq})
		}
		initHeap(&e.buffer)
		for _, s := range er.Sessions {
			e.sessions.cache.Add(s.Key, session{sourceIP: s.SourceIP, eventID: s.EventID, at: s.At})
		}
		return nil
	}
	var rr ruleRecord
	if err := json.Unmarshal(rec.Value, &rr); err != nil {
		return err
	}
	c := byID[rr.ID]
	if c == nil || c.hash != rr.Hash {
		return nil // the rule is gone or changed: its state does not apply
	}
	if st := e.seq[c]; st != nil {
		e.restoreSequence(c, st, rr.Sequence)
	}
	if st := e.thr[c]; st != nil {
		e.restoreThreshold(c, st, rr.Threshold)
	}
	if st := e.nt[c]; st != nil && rr.NewTerms != nil {
		st.started, st.learnUntil = rr.NewTerms.Started, rr.NewTerms.LearnUntil
		for _, tr := range rr.NewTerms.Terms {
			st.seen.add(tr.Term, tr.Last)
		}
	}
	if st := e.sup[c]; st != nil {
		window := time.Duration(c.Rule.Suppress.For)
		for _, sr := range rr.Suppress {
			st.gen++
			st.keys.add(sr.Key, &suppressWindow{first: sr.First, start: sr.Start, count: sr.Count, gen: st.gen})
			e.timers.push(timer{at: sr.Start.Add(window), rule: c, key: sr.Key, gen: st.gen, kind: timerSuppress})
		}
	}
	return nil
}

func (st *sequenceState) records(c *Compiled) []seqKeyRecord {
	var out []seqKeyRecord
	for _, key := range st.keys.lru.Keys() { // least recently used first
		k, ok := st.keys.peek(key)
		if !ok {
			continue
		}
		kr := seqKeyRecord{Key: key, Last: k.last}
		for s, p := range k.pendingOf(c) {
			if p == nil {
				continue
			}
			pr := partialRecord{Waiting: s, Stage: int(p.stage)}
			for q := p; q != nil; q = q.prev {
				if n := len(pr.Chain); n > 0 && sameEvent(pr.Chain[n-1].Event, q.ev) && pr.Chain[n-1].T.Equal(q.t) {
					pr.Chain[n-1].N++
					continue
				}
				pr.Chain = append(pr.Chain, chainRecord{Event: q.ev, T: q.t, N: 1})
			}
			for i, j := 0, len(pr.Chain)-1; i < j; i, j = i+1, j-1 {
				pr.Chain[i], pr.Chain[j] = pr.Chain[j], pr.Chain[i]
			}
			kr.Pending = append(kr.Pending, pr)
		}
		if len(kr.Pending) > 0 {
			out = append(out, kr)
		}
	}
	return out
}

// sameEvent says whether two chain links are one event (a folded repeat
// is one event standing for several matches).
func sameEvent(a, b event.Event) bool {
	return a.ID() != "" && a.ID() == b.ID()
}

func (e *Engine) restoreSequence(c *Compiled, st *sequenceState, keys []seqKeyRecord) {
	n := len(c.stages)
	for _, kr := range keys {
		k := &sequenceKey{pending: make([]*partial, n), last: kr.Last}
		for _, pr := range kr.Pending {
			if pr.Waiting < 1 || pr.Waiting >= n || pr.Stage < 0 || pr.Stage >= n || len(pr.Chain) == 0 {
				continue // written by another version of the rule
			}
			var p *partial
			for _, link := range pr.Chain {
				for range max(link.N, 1) {
					if p == nil {
						p = &partial{ev: link.Event, t: link.T, first: link.T, len: 1}
						continue
					}
					p = &partial{ev: link.Event, t: link.T, first: p.first, prev: p, len: p.len + 1}
				}
			}
			p.stage = int32(pr.Stage)
			e.place(c, st, kr.Key, k, pr.Waiting, p)
		}
		st.keys.add(kr.Key, k)
	}
}

func (st *thresholdState) records() []thrKeyRecord {
	var out []thrKeyRecord
	for _, key := range st.keys.lru.Keys() {
		k, ok := st.keys.peek(key)
		if !ok {
			continue
		}
		kr := thrKeyRecord{Key: key, Start: k.start}
		for j := range k.size() {
			en := k.at(j)
			kr.Entries = append(kr.Entries, thrEntryRecord{T: en.t, N: en.n, Value: en.value, Event: en.ev})
		}
		out = append(out, kr)
	}
	return out
}

func (e *Engine) restoreThreshold(c *Compiled, st *thresholdState, keys []thrKeyRecord) {
	distinct := c.Rule.Threshold.Distinct != ""
	for _, kr := range keys {
		k := &thresholdKey{start: kr.Start}
		if distinct {
			k.distinct = map[string]int{}
		}
		for _, en := range kr.Entries {
			k.add(thresholdEntry{t: en.T, n: en.N, value: en.Value, ev: en.Event}, distinct)
		}
		if c.threshold.closing {
			st.gen++
			k.gen = st.gen
			e.timers.push(timer{at: k.start.Add(time.Duration(c.Rule.Threshold.Window)), rule: c, key: kr.Key, gen: k.gen, kind: timerThreshold})
		}
		st.keys.add(kr.Key, k)
	}
}

func (st *newTermsState) record() *newTermsRecord {
	r := &newTermsRecord{Started: st.started, LearnUntil: st.learnUntil, Terms: []termRecord{}}
	for _, term := range st.seen.lru.Keys() {
		if last, ok := st.seen.peek(term); ok {
			r.Terms = append(r.Terms, termRecord{Term: term, Last: last})
		}
	}
	return r
}

func (st *suppressState) records() []suppressRecord {
	var out []suppressRecord
	for _, key := range st.keys.lru.Keys() {
		if w, ok := st.keys.peek(key); ok {
			out = append(out, suppressRecord{Key: key, Start: w.start, Count: w.count, First: w.first})
		}
	}
	return out
}

type snapshot struct {
	Version int           `json:"version"`
	Records []StateRecord `json:"records"`
}

// Snapshot returns the whole checkpoint as one versioned JSON document.
func (e *Engine) Snapshot() ([]byte, error) {
	recs, err := e.Checkpoint()
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(snapshot{Version: CheckpointVersion, Records: recs})
	if err != nil {
		return nil, fmt.Errorf("encode snapshot: %w", err)
	}
	return b, nil
}

// Restore loads a document written by Snapshot (see RestoreRecords).
func (e *Engine) Restore(data []byte) error {
	var s snapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("decode snapshot: %w", err)
	}
	if s.Version != CheckpointVersion {
		return fmt.Errorf("decode snapshot: version %d, this engine reads %d", s.Version, CheckpointVersion)
	}
	return e.RestoreRecords(s.Records)
}
