package enrichers

import (
	"context"
	"fmt"
	"reflect"
	"testing"
)

// TestMemoMatchesEachEnricher: whatever the memo holds (sizes from one
// slot, where every value evicts the one before, to the default), in any
// order of values, the planned path writes exactly what the enrichers
// write one by one, and every lookup is counted once as a hit or a miss.
func TestMemoMatchesEachEnricher(t *testing.T) {
	events := variedEvents()
	for _, size := range []int{1, 2, 3, 64, 0} {
		t.Run(fmt.Sprintf("cache_size=%d", size), func(t *testing.T) {
			cfg := fullConfig(nil)
			cfg.CacheSize = size
			s, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			// Forward, backward, then with a stride: values meet slots
			// filled by others.
			order := make([]int, 0, 3*len(events))
			for i := range events {
				order = append(order, i)
			}
			for i := range events {
				order = append(order, len(events)-1-i)
			}
			for i := range events {
				order = append(order, (i*7)%len(events))
			}
			for n, i := range order {
				want, got := events[i].Clone(), events[i].Clone()
				s.enrichEach(ctx, want)
				s.Enrich(ctx, got)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("step %d, event %d %v:\nplanned    %v\none by one %v", n, i, events[i], got, want)
				}
			}
			st := s.Stats()[CacheName]
			if st.Lookups != st.CacheHits+st.CacheMisses || st.CacheHits == 0 {
				t.Errorf("cache stats %+v: want hits, and lookups = hits + misses", st)
			}
		})
	}
}

// TestMemoAnswersRepeats: a value seen before is answered by the memo
// (one more hit, no more misses), on each side and for names alike.
func TestMemoAnswersRepeats(t *testing.T) {
	s := newFullSet(t)
	ctx := context.Background()
	ev := sshEvent()
	s.Enrich(ctx, ev.Clone())
	before := s.Stats()[CacheName]
	s.Enrich(ctx, ev.Clone())
	after := s.Stats()[CacheName]
	// source.ip, destination.ip, host.name and user.name.
	if after.CacheHits != before.CacheHits+4 || after.CacheMisses != before.CacheMisses {
		t.Errorf("a repeated event: hits %d -> %d, misses %d -> %d; want 4 more hits, no miss",
			before.CacheHits, after.CacheHits, before.CacheMisses, after.CacheMisses)
	}
	if p := s.plans.addrMemo.slot(addrHash(s.plans.seed, sideSource, "81.2.69.142")).Load(); p == nil || p.ip != "81.2.69.142" {
		t.Errorf("the source address's slot holds %+v", p)
	}
}

// TestReloadEmptiesMemo: after a reload no slot holds a plan.
func TestReloadEmptiesMemo(t *testing.T) {
	path := writeFile(t, "list.txt", "192.0.2.1\n")
	s := newSetWithFeed(t, path)
	s.Enrich(context.Background(), sshEvent())
	replaceFile(t, path, "192.0.2.1\n81.2.69.142\n")
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	filled := 0
	for _, m := range []*memo[namePlan]{s.plans.hostMemo, s.plans.userMemo} {
		for i := range m.slots {
			if m.slots[i].Load() != nil {
				filled++
			}
		}
	}
	for i := range s.plans.addrMemo.slots {
		if s.plans.addrMemo.slots[i].Load() != nil {
			filled++
		}
	}
	if filled != 0 {
		t.Errorf("%d slots still filled after a reload", filled)
	}
	ev := sshEvent()
	s.Enrich(context.Background(), ev)
	if list, _ := ev["threat.enrichments"].([]any); len(list) != 1 {
		t.Errorf("the address added to the feed: threat.enrichments = %v, want one", ev["threat.enrichments"])
	}
}

func TestNewMemoSize(t *testing.T) {
	tests := []struct{ size, want int }{{0, maxMemoSlots}, {-1, maxMemoSlots}, {1, 1}, {3, 2}, {64, 64}, {10000, maxMemoSlots}}
	for _, tt := range tests {
		if got := len(newMemo[namePlan](tt.size).slots); got != tt.want {
			t.Errorf("newMemo(%d): %d slots, want %d", tt.size, got, tt.want)
		}
	}
}
