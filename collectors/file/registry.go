package file

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/vigil-siem/vigil/collectors/input"
)

// A file is known by its device and inode, whatever its name, plus a
// fingerprint of its first bytes that tells a truncated or replaced file
// (same inode, new content) from the file it was.
const (
	fingerprintBytes = 1024
	// minFingerprint is the least a fingerprint must cover before a file
	// with another inode is taken for a copy of it (copytruncate).
	minFingerprint = 64
	maxOrphans     = 32
)

type fileID struct{ dev, ino uint64 }

func (id fileID) String() string { return fmt.Sprintf("%d:%d", id.dev, id.ino) }

func parseFileID(s string) (fileID, error) {
	var id fileID
	if _, err := fmt.Sscanf(s, "%d:%d", &id.dev, &id.ino); err != nil {
		return id, fmt.Errorf("bad file key %q", s)
	}
	return id, nil
}

// fingerprint is the SHA-256 of a file's first n bytes.
type fingerprint struct {
	n   int
	sum [sha256.Size]byte
}

func readFingerprint(f *os.File, n int) (fingerprint, error) {
	buf := make([]byte, n)
	got, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return fingerprint{}, err
	}
	return fingerprint{n: got, sum: sha256.Sum256(buf[:got])}, nil
}

// matches says whether f still starts with the fingerprinted bytes.
func (fp fingerprint) matches(f *os.File) (bool, error) {
	if fp.n == 0 {
		return true, nil
	}
	now, err := readFingerprint(f, fp.n)
	if err != nil {
		return false, err
	}
	return now.n == fp.n && now.sum == fp.sum, nil
}

// entry is one file in the registry.
type entry struct {
	Path   string `json:"path"`
	Offset int64  `json:"offset"`
	FPLen  int    `json:"fp_len"`
	FP     string `json:"fp"`
}

func (e entry) fingerprint() fingerprint {
	var fp fingerprint
	if b, err := hex.DecodeString(e.FP); err == nil && len(b) == len(fp.sum) {
		fp.n = e.FPLen
		copy(fp.sum[:], b)
	} else {
		fp.n = -1 // never matches
	}
	return fp
}

func newEntry(path string, offset int64, fp fingerprint) entry {
	return entry{Path: path, Offset: offset, FPLen: fp.n, FP: hex.EncodeToString(fp.sum[:])}
}

// registryDoc is the registry file.
type registryDoc struct {
	Version int              `json:"version"`
	Files   map[string]entry `json:"files"` // key: device:inode
	// Orphans are offsets into content that was truncated away while it
	// was being read: a copy of it (copytruncate) resumes there.
	Orphans []entry `json:"orphans,omitempty"`
}

// state is what Run knows about the files.
type state struct {
	in      *Input
	reg     *input.StateFile
	tails   map[fileID]*tail
	order   []*tail
	kept    map[fileID]entry // offsets of files not open
	orphans []entry
	dirty   bool
	saved   time.Time
	lastRun time.Time // last discovery
	// settle waits for the batches in flight and counts the acknowledged
	// ones (see flight.settle); stopping says Run's context is done. Both
	// are set by Run.
	settle   func() error
	stopping func() bool
}

func (in *Input) newState() (*state, error) {
	st := &state{in: in, tails: map[fileID]*tail{}, kept: map[fileID]entry{}}
	if in.cfg.RegistryPath == "" {
		return st, nil
	}
	st.reg = &input.StateFile{Path: in.cfg.RegistryPath}
	var doc registryDoc
	if _, err := st.reg.Load(&doc); err != nil {
		return nil, fmt.Errorf("file input: %w", err)
	}
	for k, e := range doc.Files {
		id, err := parseFileID(k)
		if err != nil {
			return nil, fmt.Errorf("file input: registry %s: %w", in.cfg.RegistryPath, err)
		}
		st.kept[id] = e
	}
	st.orphans = doc.Orphans
	return st, nil
}

func (st *state) closeAll() {
	for _, t := range st.tails {
		t.f.Close()
	}
}

// save writes the registry when something changed and, unless forced,
// registry_flush has passed since the last write. A forced save first
// settles the batches in flight; their error is returned after the
// registry is written with what was acknowledged.
func (st *state) save(force bool) error {
	var settled error
	if force && st.settle != nil {
		settled = st.settle()
		if st.stopping() {
			settled = nil // Run reports ctx.Err() itself
		}
	}
	if st.reg == nil || !st.dirty || (!force && time.Since(st.saved) < st.in.cfg.RegistryFlush) {
		return settled
	}
	doc := registryDoc{Version: 1, Files: make(map[string]entry, len(st.kept)+len(st.tails)), Orphans: st.orphans}
	for id, e := range st.kept {
		doc.Files[id.String()] = e
	}
	for id, t := range st.tails {
		t.extendFingerprint()
		doc.Files[id.String()] = newEntry(t.path, t.committed, t.fp)
	}
	if err := st.reg.Save(doc); err != nil {
		return errors.Join(settled, fmt.Errorf("file input: %w", err))
	}
	st.dirty, st.saved = false, time.Now()
	return settled
}

// extendFingerprint makes the fingerprint cover up to fingerprintBytes of
// the file, if the file still starts with what it covers.
func (t *tail) extendFingerprint() {
	if t.fp.n >= fingerprintBytes {
		return
	}
	if ok, err := t.fp.matches(t.f); err != nil || !ok {
		return
	}
	if fp, err := readFingerprint(t.f, fingerprintBytes); err == nil {
		t.fp = fp
	}
}

// found is a file a configured path names.
type found struct {
	path string
	fi   os.FileInfo
	id   fileID
}

// discover looks up the configured paths and globs, notes the new name of
// files already open and opens new files. Without Follow, a missing file
// or a glob matching nothing is an error; with Follow they are looked for
// again at the next poll.
func (st *state) discover() error {
	cfg := st.in.cfg
	var list []found
	seen := map[string]bool{}
	for _, pattern := range cfg.Paths {
		matches := []string{pattern}
		if isGlob(pattern) {
			m, err := filepath.Glob(pattern)
			if err != nil {
				return fmt.Errorf("file input: path %q: %w", pattern, err)
			}
			if len(m) == 0 && !cfg.Follow {
				return fmt.Errorf("file input: no file matches %q", pattern)
			}
			matches = m
		}
		for _, p := range matches {
			p = filepath.Clean(p)
			if seen[p] {
				continue
			}
			seen[p] = true
			fi, err := os.Stat(p)
			if err != nil {
				if cfg.Follow && errors.Is(err, os.ErrNotExist) {
					continue
				}
				return fmt.Errorf("file input: %w", err)
			}
			if fi.IsDir() {
				if isGlob(pattern) {
					continue
				}
				return fmt.Errorf("file input: %s: is a directory", p)
			}
			id, _ := identityOf(fi)
			list = append(list, found{path: p, fi: fi, id: id})
		}
	}
	now := time.Now()
	st.lastRun = now
	var fresh []found
	for _, f := range list {
		if t := st.tails[f.id]; t != nil {
			if t.path != f.path {
				t.path = f.path
				st.dirty = true
			}
			t.matched, t.closing = now, false
			continue
		}
		fresh = append(fresh, f)
	}
	// Files the registry knows first: their changed content becomes an
	// orphan offset before a copy of it is looked for.
	slices.SortStableFunc(fresh, func(a, b found) int {
		_, ka := st.kept[a.id]
		_, kb := st.kept[b.id]
		switch {
		case ka && !kb:
			return -1
		case kb && !ka:
			return 1
		}
		return 0
	})
	for _, f := range fresh {
		if err := st.open(f, now); err != nil {
			return err
		}
	}
	st.prune(list)
	return nil
}

// open starts reading a newly found file at the offset the registry (or
// an orphan it is a copy of) gives it, else at 0.
func (st *state) open(f found, now time.Time) error {
	fh, err := os.Open(f.path)
	if err != nil {
		if st.in.cfg.Follow && errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("file input: %w", err)
	}
	fi, err := fh.Stat()
	if err != nil {
		fh.Close()
		return fmt.Errorf("file input: %s: %w", f.path, err)
	}
	id, _ := identityOf(fi)
	if st.tails[id] != nil { // replaced between stat and open, and already open
		fh.Close()
		return nil
	}
	t := &tail{
		id: id, path: f.path, f: fh, max: st.in.cfg.MaxLineBytes,
		r: bufio.NewReaderSize(fh, 64<<10), matched: now, grewAt: now,
	}
	if st.in.joiner != nil {
		j := *st.in.joiner
		t.j = &j
	}
	start, err := st.startOffset(t, fi.Size())
	if err != nil {
		fh.Close()
		return fmt.Errorf("file input: %s: %w", f.path, err)
	}
	if start > 0 {
		if _, err := fh.Seek(start, io.SeekStart); err != nil {
			fh.Close()
			return fmt.Errorf("file input: %s: seek to %d: %w", f.path, start, err)
		}
	}
	t.committed, t.next = start, start
	if t.fp, err = readFingerprint(fh, fingerprintBytes); err != nil {
		fh.Close()
		return fmt.Errorf("file input: %s: %w", f.path, err)
	}
	st.tails[id] = t
	st.order = append(st.order, t)
	st.dirty = true
	st.in.mu.Lock()
	st.in.offsets[t.path] = start
	st.in.mu.Unlock()
	return nil
}

func (st *state) startOffset(t *tail, size int64) (int64, error) {
	if e, ok := st.kept[t.id]; ok {
		delete(st.kept, t.id)
		same, err := e.fingerprint().matches(t.f)
		if err != nil {
			return 0, err
		}
		if same && e.Offset <= size {
			return e.Offset, nil
		}
		// Truncated, or the inode now holds another file.
		st.addOrphan(e)
	}
	for i, o := range st.orphans {
		fp := o.fingerprint()
		if fp.n < minFingerprint || int64(fp.n) > size || o.Offset > size {
			continue
		}
		same, err := fp.matches(t.f)
		if err != nil {
			return 0, err
		}
		if same {
			st.orphans = slices.Delete(st.orphans, i, i+1)
			return o.Offset, nil
		}
	}
	return 0, nil
}

func (st *state) addOrphan(e entry) {
	if e.Offset == 0 {
		return
	}
	st.orphans = append(st.orphans, e)
	if len(st.orphans) > maxOrphans {
		st.orphans = st.orphans[len(st.orphans)-maxOrphans:]
	}
}

// prune forgets registry entries of files that are gone: their path no
// longer exists or names another file, and no configured path found them.
func (st *state) prune(list []found) {
	named := map[fileID]bool{}
	for _, f := range list {
		named[f.id] = true
	}
	for id, e := range st.kept {
		if named[id] {
			continue
		}
		fi, err := os.Stat(e.Path)
		if err == nil {
			if now, _ := identityOf(fi); now == id {
				continue
			}
		}
		delete(st.kept, id)
		st.dirty = true
	}
}

// check looks at every followed file: a truncated file is read again from
// 0 (see truncated); a file no path names any more is closed once it is
// deleted or inactive.
func (st *state) check() error {
	for _, t := range st.order {
		fi, err := t.f.Stat()
		if err != nil {
			return fmt.Errorf("file input: %s: %w", t.path, err)
		}
		if _, err := st.truncated(t, fi); err != nil {
			return err
		}
		t.extendFingerprint()
		_, deleted := identityOf(fi)
		unnamed := t.matched.Before(st.lastRun)
		if unnamed && t.eof && (deleted || time.Since(t.grewAt) >= st.in.cfg.CloseInactive) {
			t.closing = true
		}
	}
	return nil
}

// truncated rewinds t when the file is now shorter than what was read of
// it, or no longer starts with its fingerprinted bytes (truncated, then
// maybe written again past the old size). The offset reached in the old
// content is kept as an orphan, for a copy of it to resume at.
func (st *state) truncated(t *tail, fi os.FileInfo) (bool, error) {
	if fi == nil {
		var err error
		if fi, err = t.f.Stat(); err != nil {
			return false, fmt.Errorf("file input: %s: %w", t.path, err)
		}
	}
	same, err := t.fp.matches(t.f)
	if err != nil {
		return false, fmt.Errorf("file input: %s: %w", t.path, err)
	}
	if fi.Size() >= t.next+t.pendLen && same {
		return false, nil
	}
	// The batches in flight count against the old content.
	if st.settle != nil {
		if err := st.settle(); err != nil {
			return false, err
		}
	}
	st.addOrphan(newEntry(t.path, t.committed, t.fp))
	if err := t.rewind(); err != nil {
		return false, err
	}
	if t.fp, err = readFingerprint(t.f, fingerprintBytes); err != nil {
		return false, fmt.Errorf("file input: %s: %w", t.path, err)
	}
	st.dirty = true
	st.in.mu.Lock()
	st.in.offsets[t.path] = 0
	st.in.mu.Unlock()
	return true, nil
}

// finish closes a file read to its end, once its batches in flight are
// settled. Its offset stays in the registry unless the file was deleted.
func (st *state) finish(t *tail, closing bool) error {
	if st.settle != nil {
		if err := st.settle(); err != nil {
			return err
		}
	}
	fi, err := t.f.Stat()
	deleted := err != nil
	if err == nil {
		_, deleted = identityOf(fi)
	}
	t.extendFingerprint()
	t.f.Close()
	delete(st.tails, t.id)
	st.order = slices.DeleteFunc(st.order, func(x *tail) bool { return x == t })
	if !(closing && deleted) {
		st.kept[t.id] = newEntry(t.path, t.committed, t.fp)
	}
	st.dirty = true
	return nil
}
