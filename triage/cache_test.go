package triage

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/triage/openaitest"
)

func TestCachedIdenticalIncidentCostsNothing(t *testing.T) {
	srv := openaitest.NewServer(t, openaitest.Config{})
	e := NewCached(llmEngine(t, srv, nil), 16, time.Hour)
	ctx := context.Background()

	orig := llmIncident("203.0.113.7", llmBaseTime, "")
	first, err := e.Triage(ctx, orig)
	if err != nil {
		t.Fatal(err)
	}
	if first.Cached || first.Tokens.Total == 0 {
		t.Fatalf("first answer cached=%v tokens=%+v, want a paid fresh answer", first.Cached, first.Tokens)
	}
	// The same pattern a day later: other timestamps, event and alert ids.
	replay := llmIncident("203.0.113.7", llmBaseTime.Add(24*time.Hour+17*time.Second), "")
	if replay.ID == orig.ID || replay.AlertIDs[0] == orig.AlertIDs[0] {
		t.Fatal("fixture: the replay should differ in ids")
	}
	again, err := e.Triage(ctx, replay)
	if err != nil {
		t.Fatal(err)
	}
	if srv.Calls() != 1 {
		t.Errorf("%d calls to the API, want 1: the identical incident must come from the cache", srv.Calls())
	}
	if !again.Cached || again.Tokens != (Tokens{}) || again.Verdict != first.Verdict || again.Notes != first.Notes || again.Engine != first.Engine {
		t.Errorf("cache hit %+v, want the stored verdict with cached=true and no tokens", again)
	}

	other, err := e.Triage(ctx, llmIncident("198.51.100.23", llmBaseTime, ""))
	if err != nil {
		t.Fatal(err)
	}
	if srv.Calls() != 2 || other.Cached {
		t.Errorf("a different incident: %d calls, cached=%v; want a second call", srv.Calls(), other.Cached)
	}
}

func TestCachedHitCannotBeChangedByCaller(t *testing.T) {
	stub := &llmStub{name: "s", triage: Triage{Verdict: Benign, Attack: []string{"T1110"}}}
	e := NewCached(stub, 4, 0)
	inc := llmIncident("203.0.113.7", llmBaseTime, "")
	t1, _ := e.Triage(context.Background(), inc)
	t1.Attack[0] = "T9999"
	t2, _ := e.Triage(context.Background(), inc)
	if t2.Attack[0] != "T1110" || stub.Calls() != 1 {
		t.Errorf("hit %v after the caller edited its copy (calls %d)", t2.Attack, stub.Calls())
	}
}

func TestCachedDoesNotStoreFailures(t *testing.T) {
	inc := llmIncident("203.0.113.7", llmBaseTime, "")
	tests := []struct {
		name string
		stub *llmStub
	}{
		{"error", &llmStub{name: "s", err: errors.New("boom")}},
		{"fallback answer", &llmStub{name: "s", triage: Triage{Verdict: Suspicious, Flags: []string{FlagLLMFailed}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewCached(tt.stub, 4, time.Hour)
			for range 2 {
				if tr, _ := e.Triage(context.Background(), inc); tr.Cached {
					t.Errorf("a failure was served from the cache")
				}
			}
			if tt.stub.Calls() != 2 {
				t.Errorf("engine called %d times, want 2 (failures are not cached)", tt.stub.Calls())
			}
		})
	}
}

func TestCachedConcurrentIdenticalCallsShareOneEngineCall(t *testing.T) {
	stub := &llmStub{name: "s", triage: Triage{Verdict: Malicious, Tokens: Tokens{Total: 10}},
		gate: make(chan struct{}), entered: make(chan struct{}, 4)}
	e := NewCached(stub, 4, time.Hour).(*cachedEngine)
	inc := llmIncident("203.0.113.7", llmBaseTime, "")
	key := Fingerprint(inc)

	type result struct {
		t   Triage
		err error
	}
	results := make(chan result, 2)
	run := func() {
		t, err := e.Triage(context.Background(), inc)
		results <- result{t, err}
	}
	go run()
	<-stub.entered // the leader is inside the engine
	go run()
	for { // wait until the second caller waits on the leader
		e.mu.Lock()
		n := e.inflight[key].waiters
		e.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(stub.gate)
	var cached, fresh int
	for range 2 {
		r := <-results
		if r.err != nil || r.t.Verdict != Malicious {
			t.Fatalf("got %+v, %v", r.t, r.err)
		}
		if r.t.Cached {
			cached++
		} else {
			fresh++
		}
	}
	if stub.Calls() != 1 || cached != 1 || fresh != 1 {
		t.Errorf("engine called %d times, %d fresh and %d cached answers; want 1, 1, 1", stub.Calls(), fresh, cached)
	}
}

func TestFingerprint(t *testing.T) {
	base := func() *Incident { return llmIncident("203.0.113.7", llmBaseTime, "") }
	withCount := func(n int) *Incident {
		inc := base()
		inc.Rules[0].Count = n
		return inc
	}
	tests := []struct {
		name  string
		a, b  *Incident
		equal bool
	}{
		{"replay with other times and ids", base(), func() *Incident {
			inc := llmIncident("203.0.113.7", llmBaseTime.Add(72*time.Hour), "")
			inc.ID, inc.AlertIDs = "other", []string{"x", "y"}
			return inc
		}(), true},
		{"users in another order, repeated", base(), func() *Incident {
			inc := base()
			inc.Users = []string{"root", "admin", "root"}
			return inc
		}(), true},
		{"counts in the same bucket", withCount(2), withCount(4), true},
		{"counts in the same bucket 10-99", withCount(10), withCount(99), true},
		{"counts across buckets 1 vs 2", withCount(1), withCount(2), false},
		{"counts across buckets 4 vs 5", withCount(4), withCount(5), false},
		{"counts across buckets 99 vs 100", withCount(99), withCount(100), false},
		{"other entity value", base(), llmIncident("203.0.113.8", llmBaseTime, ""), false},
		{"other entity field", base(), func() *Incident {
			inc := base()
			inc.Entity.Field = "destination.ip"
			return inc
		}(), false},
		{"other severity", base(), func() *Incident {
			inc := base()
			inc.Severity = "critical"
			return inc
		}(), false},
		{"extra host", base(), func() *Incident {
			inc := base()
			inc.Hosts = append(inc.Hosts, "db-1")
			return inc
		}(), false},
		{"extra rule", base(), func() *Incident {
			inc := base()
			inc.Rules = append(inc.Rules, RuleSummary{ID: "ssh_success_after_failures", Count: 1})
			return inc
		}(), false},
		{"user and host swapped", func() *Incident {
			inc := base()
			inc.Users, inc.Hosts = []string{"web-1"}, nil
			return inc
		}(), func() *Incident {
			inc := base()
			inc.Users, inc.Hosts = nil, []string{"web-1"}
			return inc
		}(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fa, fb := Fingerprint(tt.a), Fingerprint(tt.b)
			if (fa == fb) != tt.equal {
				t.Errorf("fingerprints %s and %s: equal=%v, want %v", fa, fb, fa == fb, tt.equal)
			}
		})
	}
	// Fingerprint must not sort the caller's slices in place.
	inc := base()
	inc.Users = []string{"root", "admin"}
	Fingerprint(inc)
	if !slices.Equal(inc.Users, []string{"root", "admin"}) {
		t.Errorf("Fingerprint modified the incident: %v", inc.Users)
	}
}
