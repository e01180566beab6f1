package enrichers

import (
	"context"
	"sync/atomic"
)

// Shared hands the Set a stage runs to readers in the same process: the
// detect stage stores its Set (again after each reload), and triage looks
// entities up through it, reading the same data and caches. The zero
// value is ready to use and answers nothing until a Set is stored. It is
// safe for concurrent use.
type Shared struct {
	set atomic.Pointer[Set]
}

// Store makes s the Set lookups go to. A Set replaced here may be closed:
// Close stops its reloads, and lookups still in flight finish on its data.
func (sh *Shared) Store(s *Set) { sh.set.Store(s) }

// Load returns the Set stored last, or nil.
func (sh *Shared) Load() *Set { return sh.set.Load() }

// Lookup is Set.Lookup on the Set stored last; nil before one is stored.
func (sh *Shared) Lookup(ctx context.Context, field, value string) map[string]any {
	if s := sh.set.Load(); s != nil {
		return s.Lookup(ctx, field, value)
	}
	return nil
}
