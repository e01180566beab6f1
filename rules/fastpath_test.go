package rules

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/expr-lang/expr/vm"
	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/vigil-siem/vigil/event"
)

// The engine's fast paths must give the answers of the slow ones: these
// tests pin each against what it replaced.

// packTestEvents returns the inline events of the pack's own rule tests,
// after a brute force written here (the tests may not be loaded): twelve
// failed logins from one source, then a success as root.
func packTestEvents(t *testing.T, rules []*Compiled) []event.Event {
	t.Helper()
	var out []event.Event
	at := time.Date(2025, 12, 10, 9, 0, 0, 0, time.UTC)
	for i := range 13 {
		outcome, user := "failure", fmt.Sprint("user", i%4)
		if i == 12 {
			outcome, user = "success", "root"
		}
		ev := event.Event{
			"event.dataset": "system.auth", "event.category": []any{"authentication"},
			"event.action": "ssh_login", "event.outcome": outcome,
			"source.ip": "203.0.113.45", "user.name": user, "host.name": "web-01",
		}
		ev.SetTime(at.Add(time.Duration(i) * 10 * time.Second))
		out = append(out, ev)
	}
	for _, c := range rules {
		for _, rt := range c.Rule.Tests {
			for _, obj := range rt.Events {
				b, err := json.Marshal(obj)
				if err != nil {
					t.Fatalf("%s: %v", c.Rule.ID, err)
				}
				ev, err := event.Unmarshal(b)
				if err != nil {
					t.Fatalf("%s: %v", c.Rule.ID, err)
				}
				out = append(out, ev)
			}
		}
	}
	return out
}

// TestExactConditionsDecideAsTheExpression: a condition that is a
// conjunction of string equalities and memberships is decided without
// running it; on every event of the pack's tests, and on events whose
// fields are absent, arrays, numbers or other strings, the answer is the
// expression's.
func TestExactConditionsDecideAsTheExpression(t *testing.T) {
	rules := loadPack(t)
	events := packTestEvents(t, rules)
	// Each test event again with every field the exact conditions read
	// changed in type: an array holding the value, a number, absent.
	n := len(events)
	for _, ev := range events[:n] {
		for _, f := range []string{"event.action", "event.outcome", "event.dataset", "event.code", "user.name", "event.category"} {
			v, ok := ev[f]
			if !ok {
				continue
			}
			for _, other := range []any{[]any{v}, []string{fmt.Sprint(v)}, int64(4625), nil} {
				cp := ev.Clone()
				cp.Set(f, other)
				events = append(events, cp)
			}
		}
	}
	var machine vm.VM
	exact, decided, matched := 0, 0, 0
	for _, c := range ruleConditions(rules) {
		if c == nil || c.exact == nil {
			continue
		}
		exact++
		slow := &condition{source: c.source, program: c.program, needs: c.needs, matches: c.matches}
		for _, ev := range events {
			got, gotErr := c.eval(ev, &machine)
			want, wantErr := slow.eval(ev, &machine)
			if got != want || (gotErr == nil) != (wantErr == nil) {
				t.Errorf("%s on %v: %v (%v) decided, %v (%v) run", c.source, ev, got, gotErr, want, wantErr)
			}
			if _, ok := c.decide(ev); ok {
				decided++
			}
			if got {
				matched++
			}
		}
	}
	// The comparison proves something only if the fast path runs and
	// both answers occur.
	if exact < 20 || decided == 0 || matched == 0 {
		t.Errorf("%d exact conditions, %d decided evaluations, %d matches: the comparison proves too little", exact, decided, matched)
	}
}

// TestExactConjuncts: which expressions are decided from their conjuncts.
func TestExactConjuncts(t *testing.T) {
	tests := []struct {
		src   string
		exact bool
	}{
		{`event.action == "ssh_login" && event.outcome == "failure"`, true},
		{`"failure" == event.outcome`, true},
		{`event.action in ["sudo", "su"] and user.name == "root"`, true},
		{`event.action == "sudo" || event.action == "su"`, false},
		{`'authentication' in event.category`, false},
		{`event.action == "sudo" && !(user.name == "root")`, false},
		{`event.action == "sudo" && user.name != "root"`, false},
		{`event.code == 4625`, false},
		{`event.action in ["sudo", 1]`, false},
		{`event.action == "sudo" && re(message, "x")`, false},
	}
	for _, tc := range tests {
		c, err := compileCondition(tc.src)
		if err != nil {
			t.Fatalf("%s: %v", tc.src, err)
		}
		if got := c.exact != nil; got != tc.exact {
			t.Errorf("%s: exact %v, want %v", tc.src, got, tc.exact)
		}
	}
}

// TestKeyCacheKeepsTheLRUOrder: the memo of the most recently used key
// answers gets without touching the LRU; after any mix of gets, adds,
// peeks and removes, the keys, their order, their values and the
// evictions are those of the plain LRU.
func TestKeyCacheKeepsTheLRUOrder(t *testing.T) {
	for _, max := range []int{1, 2, 3, 8} {
		t.Run(fmt.Sprint("max", max), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(max), 7))
			kc := newKeyCache[int](max)
			var evicted int64
			ref, _ := simplelru.NewLRU[string, int](max, func(string, int) { evicted++ })
			for i := range 20000 {
				key := fmt.Sprint("k", rng.IntN(max+3))
				switch op := rng.IntN(10); {
				case op < 5:
					got, gotOK := kc.get(key)
					want, wantOK := ref.Get(key)
					if got != want || gotOK != wantOK {
						t.Fatalf("op %d get %s: %d %v, want %d %v", i, key, got, gotOK, want, wantOK)
					}
				case op < 8:
					kc.add(key, i)
					ref.Add(key, i)
				case op < 9:
					got, gotOK := kc.peek(key)
					want, wantOK := ref.Peek(key)
					if got != want || gotOK != wantOK {
						t.Fatalf("op %d peek %s: %d %v, want %d %v", i, key, got, gotOK, want, wantOK)
					}
				default:
					kc.remove(key)
					before := evicted
					ref.Remove(key)
					evicted = before // a removal is no eviction
				}
				if fmt.Sprint(kc.lru.Keys()) != fmt.Sprint(ref.Keys()) || kc.evicted != evicted {
					t.Fatalf("op %d: keys %v (%d evicted), want %v (%d evicted)", i, kc.lru.Keys(), kc.evicted, ref.Keys(), evicted)
				}
			}
			if evicted == 0 {
				t.Fatal("no evictions: the comparison proves too little")
			}
		})
	}
}

// TestEventCacheReadsAsTheEvent: the per-event cache of repeat counts and
// single-field group keys answers as the event does, and forgets the
// event at reset.
func TestEventCacheReadsAsTheEvent(t *testing.T) {
	events := []event.Event{
		{"source.ip": "192.0.2.1", "user.name": "root", event.FieldRepeat: int64(3)},
		{"source.ip": "192.0.2.2", "host.name": "web-01"},
		{"source.ip": int64(7), "user.name": "", event.FieldRepeat: float64(5000)},
		{},
	}
	bys := [][]string{{"source.ip"}, {"user.name"}, {"host.name"}, {"source.ip", "user.name"}, {}, {"source.ip"}}
	var ec eventCache
	for _, ev := range events {
		ec.reset()
		for _, by := range bys {
			got, gotOK := ec.groupKey(by, ev)
			want, wantOK := groupKey(by, ev)
			if got != want || gotOK != wantOK {
				t.Errorf("%v by %v: %q %v, want %q %v", ev, by, got, gotOK, want, wantOK)
			}
		}
		if got, want := ec.repeatCount(ev), repeatCount(ev); got != want {
			t.Errorf("%v: repeat %d, want %d", ev, got, want)
		}
	}
}

// TestSequenceScratchIsPerEvent: the reused scratch of sequence rules
// carries nothing from one event or rule to the next: interleaving the
// events of two sequence rules with different step counts gives the
// alerts each gives alone.
func TestSequenceScratchIsPerEvent(t *testing.T) {
	all := loadPack(t)
	var seqs []*Compiled
	for _, c := range all {
		if c.Rule.Kind == KindSequence {
			seqs = append(seqs, c)
		}
	}
	if len(seqs) < 2 {
		t.Skip("the pack has fewer than two sequence rules")
	}
	evs := packTestEvents(t, seqs)
	at := time.Date(2025, 12, 10, 9, 0, 0, 0, time.UTC)
	for i, ev := range evs {
		ev.SetTime(at.Add(time.Duration(i) * time.Second)) // one stream in time order
		ev[event.FieldID] = fmt.Sprintf("ev-%05d", i)
	}
	fixed := func() time.Time { return at }
	together := NewEngine(seqs, EngineConfig{Now: fixed})
	got := map[string]int{}
	for _, ev := range evs {
		for _, a := range together.Process(ev) {
			got[a.Rule.ID+" "+a.Vigil.Alert.ID]++
		}
	}
	for _, a := range together.Flush() {
		got[a.Rule.ID+" "+a.Vigil.Alert.ID]++
	}
	want := map[string]int{}
	for _, c := range seqs {
		alone := NewEngine([]*Compiled{c}, EngineConfig{Now: fixed})
		for _, ev := range evs {
			for _, a := range alone.Process(ev) {
				want[a.Rule.ID+" "+a.Vigil.Alert.ID]++
			}
		}
		for _, a := range alone.Flush() {
			want[a.Rule.ID+" "+a.Vigil.Alert.ID]++
		}
	}
	if len(want) == 0 {
		t.Fatal("no alerts at all: the comparison proves nothing")
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("together %v\nalone    %v", got, want)
	}
}

// sliceKey is the threshold key as it was before the gap buffer: one
// slice in event time, shifted on every insertion out of order.
type sliceKey struct {
	entries  []thresholdEntry
	total    int
	distinct map[string]int
}

func (k *sliceKey) add(en thresholdEntry) {
	i := len(k.entries)
	for i > 0 && k.entries[i-1].t.After(en.t) {
		i--
	}
	k.entries = append(k.entries, thresholdEntry{})
	copy(k.entries[i+1:], k.entries[i:])
	k.entries[i] = en
	k.total += en.n
	k.distinct[en.value]++
	if len(k.entries) > maxWindowEntries {
		k.drop(1)
	}
}

func (k *sliceKey) drop(n int) {
	for _, en := range k.entries[:n] {
		k.total -= en.n
		if k.distinct[en.value]--; k.distinct[en.value] == 0 {
			delete(k.distinct, en.value)
		}
	}
	k.entries = k.entries[n:]
}

func (k *sliceKey) slide(from time.Time) {
	n := 0
	for n < len(k.entries) && k.entries[n].t.Before(from) {
		n++
	}
	k.drop(n)
}

// TestThresholdGapBufferActsAsASlice: the entries of a threshold key,
// added in order, out of order and replayed, slid and capped at
// maxWindowEntries, are in the same order with the same counts as in a
// plain slice, the newest sampleSize with their events, and the slots the
// gap frees hold no event.
func TestThresholdGapBufferActsAsASlice(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		n       int
		late    int // one entry in late is out of order
		replays int // the times start over this many times
		window  time.Duration
	}{
		{"in order", 3000, 0, 1, time.Minute},
		{"some late", 3000, 7, 1, 2 * time.Minute},
		{"replayed log", 6000, 0, 6, time.Hour},
		{"over the cap", 3 * maxWindowEntries / 2, 3, 3, 100 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, uint64(tc.n)))
			k := &thresholdKey{distinct: map[string]int{}}
			ref := &sliceKey{distinct: map[string]int{}}
			per := tc.n / tc.replays
			for i := range tc.n {
				at := base.Add(time.Duration(i%per) * time.Second)
				if tc.late > 0 && rng.IntN(tc.late) == 0 {
					at = at.Add(-time.Duration(rng.IntN(300)) * time.Second)
				}
				en := thresholdEntry{t: at, n: 1 + rng.IntN(3), value: fmt.Sprint("u", rng.IntN(20)), ev: event.Event{"i": i}}
				k.add(en, true)
				ref.add(en)
				if rng.IntN(10) == 0 {
					k.slide(at.Add(-tc.window), true)
					ref.slide(at.Add(-tc.window))
				}
				if k.size() != len(ref.entries) || k.total != ref.total || fmt.Sprint(k.distinct) != fmt.Sprint(ref.distinct) {
					t.Fatalf("add %d: %d entries, total %d, %d distinct; want %d, %d, %d", i, k.size(), k.total, len(k.distinct), len(ref.entries), ref.total, len(ref.distinct))
				}
			}
			for j := range ref.entries {
				got, want := k.at(j), ref.entries[j]
				wantEv := want.ev["i"]
				if j < len(ref.entries)-sampleSize {
					wantEv = nil // only the newest sampleSize keep their events
				}
				if !got.t.Equal(want.t) || got.n != want.n || got.value != want.value || got.ev["i"] != wantEv {
					t.Fatalf("entry %d = %v %d %s %v, want %v %d %s %v", j, got.t, got.n, got.value, got.ev["i"], want.t, want.n, want.value, wantEv)
				}
			}
			for j := k.gap; j < k.gap+k.free; j++ {
				if k.buf[j].ev != nil {
					t.Fatalf("free slot %d holds event %v", j, k.buf[j].ev["i"])
				}
			}
		})
	}
}
