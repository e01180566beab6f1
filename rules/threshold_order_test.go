package rules

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestThresholdAddKeepsTimeOrder checks that entries added out of order
// land where a walk back from the newest puts them: in time order, an
// entry after the entries of its own time.
func TestThresholdAddKeepsTimeOrder(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		n      int
		spread int // distinct seconds the times are drawn from
	}{
		{"in order with ties", 50, 1},
		{"few distinct times", 200, 5},
		{"wide spread", 500, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(tc.n)))
			k := &thresholdKey{}
			var want []thresholdEntry
			for i := range tc.n {
				en := thresholdEntry{t: base.Add(time.Duration(rng.IntN(tc.spread)) * time.Second), n: i + 1}
				k.add(en, false)
				// The old insertion: walk back past the entries after it.
				j := len(want)
				for j > 0 && want[j-1].t.After(en.t) {
					j--
				}
				want = append(want, thresholdEntry{})
				copy(want[j+1:], want[j:])
				want[j] = en
			}
			if k.size() != len(want) {
				t.Fatalf("%d entries, want %d", k.size(), len(want))
			}
			for i := range want {
				if got := k.at(i); !got.t.Equal(want[i].t) || got.n != want[i].n {
					t.Fatalf("entry %d = (%v, %d), want (%v, %d)", i, got.t, got.n, want[i].t, want[i].n)
				}
			}
		})
	}
}
