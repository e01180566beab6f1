package wire

import (
	"sync"
	"sync/atomic"
)

// maxInterned bounds the field names a Codec keeps: events use a few
// hundred, and names are outside input, so a flood of new ones must not
// grow memory without end.
const maxInterned = 4096

// interner hands out one shared string per field name, so decoding an
// event does not allocate its keys. Reads take no lock: the table is
// replaced, never changed, when a name is added.
type interner struct {
	table atomic.Pointer[map[string]string]
	mu    sync.Mutex // serialises additions
}

func (in *interner) intern(b []byte) string {
	if t := in.table.Load(); t != nil {
		if s, ok := (*t)[string(b)]; ok {
			return s
		}
	}
	s := string(b)
	in.mu.Lock()
	defer in.mu.Unlock()
	old := in.table.Load()
	var n int
	if old != nil {
		n = len(*old)
	}
	if n >= maxInterned {
		return s
	}
	next := make(map[string]string, n+1)
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	next[s] = s
	in.table.Store(&next)
	return s
}
