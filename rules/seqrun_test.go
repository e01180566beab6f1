package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/event"
)

// runRules are sequences that start with a run (seqrun.go) in every
// arrangement the engine tells apart, and two that do not.
func runRules(t testing.TB) []*Compiled {
	const head = "name: r\nkind: sequence\nseverity: high\nwhere: event.dataset == \"test\"\nby: [user.name]\nmaxspan: 5m\n"
	srcs := map[string]string{
		"whole":   "steps:\n  - {condition: 'event.action == \"a\"', count: 3}\n",
		"then_b":  "steps:\n  - {condition: 'event.action == \"a\"', count: 3}\n  - {condition: 'event.action == \"b\"'}\n",
		"then_bc": "steps:\n  - {condition: 'event.action == \"a\"', count: 2}\n  - {condition: 'event.action == \"b\"'}\n  - {condition: 'event.action == \"c\"'}\n",
		"b_missing_last": "steps:\n  - {condition: 'event.action == \"a\"', count: 2}\n  - {condition: 'event.action == \"b\"'}\n" +
			"  - {condition: 'event.action == \"c\"', missing: true}\n",
		"until":    "until: {condition: 'event.action == \"logout\"'}\nsteps:\n  - {condition: 'event.action == \"a\"', count: 4}\n  - {condition: 'event.action == \"b\"'}\n",
		"overlap":  "steps:\n  - {condition: 'event.action in [\"a\", \"ab\"]', count: 3}\n  - {condition: 'event.action in [\"b\", \"ab\"]'}\n  - {condition: 'event.action == \"c\"'}\n",
		"per_step": "steps:\n  - {condition: 'event.action == \"a\"', count: 2, by: [host.name]}\n  - {condition: 'event.action == \"b\"', by: [user.target.name]}\n",
		"count_b":  "steps:\n  - {condition: 'event.action == \"a\"', count: 2}\n  - {condition: 'event.action == \"b\"', count: 2}\n",
		// No run: the step after it is missing, or the first has count 1.
		"missing_after": "steps:\n  - {condition: 'event.action == \"a\"', count: 2}\n  - {condition: 'event.action == \"b\"', missing: true}\n  - {condition: 'event.action == \"c\"'}\n",
		"plain":         "steps:\n  - {condition: 'event.action == \"a\"'}\n  - {condition: 'event.action == \"b\"'}\n",
	}
	var out []*Compiled
	for _, id := range []string{"whole", "then_b", "then_bc", "b_missing_last", "until", "overlap", "per_step", "count_b", "missing_after", "plain"} {
		out = append(out, parseRule(t, "id: t."+id+"\n"+head+srcs[id]))
	}
	return out
}

func TestRunLength(t *testing.T) {
	want := map[string]int{"t.whole": 3, "t.then_b": 3, "t.then_bc": 2, "t.b_missing_last": 2, "t.until": 4, "t.overlap": 3,
		"t.per_step": 2, "t.count_b": 2, "t.missing_after": 0, "t.plain": 0}
	for _, c := range runRules(t) {
		if c.run != want[c.Rule.ID] {
			t.Errorf("%s: run %d, want %d", c.Rule.ID, c.run, want[c.Rule.ID])
		}
	}
}

// randomStream is n events of two users, mostly in time order, with jumps
// back, repeats and every action the run rules read.
func randomStream(rnd *rand.Rand, n int) []event.Event {
	actions := []string{"a", "a", "a", "b", "c", "ab", "logout", "other"}
	at := time.Duration(0)
	var out []event.Event
	for i := range n {
		switch rnd.IntN(10) {
		case 0:
			at -= time.Duration(rnd.IntN(300)) * time.Second // out of order
		case 1, 2:
			// the same time
		default:
			at += time.Duration(rnd.IntN(150)) * time.Second
		}
		e := act(fmt.Sprint(i), at, actions[rnd.IntN(len(actions))], []string{"u", "v"}[rnd.IntN(2)], []string{"h1", "h2"}[rnd.IntN(2)])
		e["host.name"] = []string{"h1", "h2"}[rnd.IntN(2)]
		if rnd.IntN(8) == 0 {
			e[event.FieldRepeat] = int64(2 + rnd.IntN(2))
		}
		out = append(out, e)
	}
	return out
}

// runBoth feeds the events to an engine with runs and one without, with
// a checkpoint and a restart into new engines after cut events, and
// fails at the first difference in alerts or in the checkpointed state.
func runBoth(t *testing.T, evs []event.Event, cut int, lateness time.Duration) {
	t.Helper()
	cfg := EngineConfig{AllowedLateness: lateness, Now: func() time.Time { return t0 }}
	engines := func() (*Engine, *Engine) {
		runs, general := NewEngine(runRules(t), cfg), NewEngine(runRules(t), cfg)
		general.noRuns = true
		return runs, general
	}
	runs, general := engines()
	for i, ev := range evs {
		if i == cut {
			rs, err := runs.Checkpoint()
			if err != nil {
				t.Fatal(err)
			}
			gs, err := general.Checkpoint()
			if err != nil {
				t.Fatal(err)
			}
			if !sameRecords(rs, gs) {
				t.Fatalf("after %d events the checkpoints differ:\nruns:    %s\ngeneral: %s", i, recordsText(rs), recordsText(gs))
			}
			runs, general = engines()
			if err := runs.RestoreRecords(rs); err != nil {
				t.Fatal(err)
			}
			if err := general.RestoreRecords(gs); err != nil {
				t.Fatal(err)
			}
		}
		got, want := alertIDs(runs.Process(ev.Clone())), alertIDs(general.Process(ev.Clone()))
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("event %d (%s at %s): runs raised %v, the general form %v", i, ev.String("event.action"), ev.String(event.FieldTimestamp), got, want)
		}
	}
	got, want := alertIDs(runs.Flush()), alertIDs(general.Flush())
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("flush: runs raised %v, the general form %v", got, want)
	}
}

func sameRecords(a, b []StateRecord) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || !bytes.Equal(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}

func recordsText(rs []StateRecord) string {
	b, _ := json.Marshal(rs)
	return string(b)
}

func TestRunsMatchTheGeneralForm(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	alerts := 0
	for round := range 300 {
		evs := randomStream(rnd, 20+rnd.IntN(200))
		lateness := time.Duration(0)
		if round%3 == 0 {
			lateness = 2 * time.Minute
		}
		runBoth(t, evs, rnd.IntN(len(evs)+1), lateness)
		if t.Failed() {
			return
		}
		e := NewEngine(runRules(t), EngineConfig{AllowedLateness: lateness})
		for _, ev := range evs {
			alerts += len(e.Process(ev))
		}
	}
	// The comparison is worth something only if the rules fired.
	if alerts < 300 {
		t.Fatalf("only %d alerts in 300 streams", alerts)
	}
}

func FuzzRunsMatchTheGeneralForm(f *testing.F) {
	f.Add(uint64(1), uint16(50), uint16(10), false)
	f.Add(uint64(7), uint16(300), uint16(0), true)
	f.Fuzz(func(t *testing.T, seed uint64, n, cut uint16, late bool) {
		rnd := rand.New(rand.NewPCG(seed, 0))
		evs := randomStream(rnd, int(n%400))
		lateness := time.Duration(0)
		if late {
			lateness = 2 * time.Minute
		}
		runBoth(t, evs, int(cut)%(len(evs)+1), lateness)
	})
}

func TestAppendChainTellsAChainItCannotRebuild(t *testing.T) {
	a, b := act("1", 0, "a", "u", ""), act("2", time.Second, "a", "u", "")
	built := &partial{ev: b, t: t0.Add(time.Second), first: t0, len: 2, prev: &partial{ev: a, t: t0, first: t0, len: 1}}
	if events, ok := appendChain(nil, built); !ok || len(events) != 2 || !sameEventRef(events[0].ev, a) {
		t.Fatalf("appendChain(a chain built by extension) = %d events, %v", len(events), ok)
	}
	for name, p := range map[string]*partial{
		"length":     {ev: b, t: t0.Add(time.Second), first: t0, len: 3, prev: built.prev},
		"first time": {ev: b, t: t0.Add(time.Second), first: t0.Add(-time.Minute), len: 2, prev: built.prev},
	} {
		if _, ok := appendChain(nil, p); ok {
			t.Errorf("appendChain accepted a chain with a wrong %s", name)
		}
	}
}
