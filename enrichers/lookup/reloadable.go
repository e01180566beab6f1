package lookup

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// Reloadable holds what an enricher read from its files, and reads them
// again when one changed on disk. When the new files are bad, the data
// read last stays in use and the error is counted.
type Reloadable[T any] struct {
	name    string
	files   []string
	load    func(files []string) (*T, error)
	mu      sync.Mutex
	watched *Watched
	current atomic.Pointer[T]
	reloads atomic.Uint64
	errors  atomic.Uint64
	lastErr atomic.Pointer[string]
}

// NewReloadable reads files with load; name prefixes its errors.
func NewReloadable[T any](name string, files []string, load func(files []string) (*T, error)) (*Reloadable[T], error) {
	r := &Reloadable[T]{name: name, files: files, load: load}
	data, err := load(files)
	if err != nil {
		return nil, err
	}
	r.current.Store(data)
	if r.watched, err = Watch(files); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return r, nil
}

// Load returns the data in use.
func (r *Reloadable[T]) Load() *T { return r.current.Load() }

// Reload reads the files again when one changed on disk and says whether
// it did.
func (r *Reloadable[T]) Reload() (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.watched.Check() {
		return false, nil
	}
	data, err := r.load(r.files)
	if err != nil {
		r.errors.Add(1)
		msg := err.Error()
		r.lastErr.Store(&msg)
		return false, fmt.Errorf("%s reload: %w", r.name, err)
	}
	r.current.Store(data)
	r.reloads.Add(1)
	return true, nil
}

// AddTo adds the reload counters and the last reload error to st.
func (r *Reloadable[T]) AddTo(st *Stats) {
	st.Reloads += r.reloads.Load()
	st.ReloadErrors += r.errors.Load()
	if p := r.lastErr.Load(); p != nil {
		st.LastReloadError = *p
	}
}
