package lookup

import (
	"fmt"
	"os"
)

// FileState is what a poll remembers of a file to notice it was replaced:
// the file itself (inode), its size and modification time.
type FileState struct {
	info os.FileInfo
}

// Stat reads the current state of path.
func Stat(path string) (FileState, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return FileState{}, fmt.Errorf("stat %s: %w", path, err)
	}
	return FileState{info: fi}, nil
}

// Changed says whether path differs from s: replaced by another file
// (rename over it), rewritten with another size, or touched. A file that
// cannot be read now counts as unchanged, so a feed being rewritten does
// not empty the loaded data; the next poll sees the new file.
func (s FileState) Changed(path string) (FileState, bool) {
	fi, err := os.Stat(path)
	if err != nil || s.info == nil {
		return s, false
	}
	if os.SameFile(fi, s.info) && fi.Size() == s.info.Size() && fi.ModTime().Equal(s.info.ModTime()) {
		return s, false
	}
	return FileState{info: fi}, true
}

// Watched is a set of files loaded together: Check reports whether any of
// them changed since the last load.
type Watched struct {
	paths  []string
	states []FileState
}

// Watch records the current state of paths. A file that cannot be
// stat'ed is an error naming it.
func Watch(paths []string) (*Watched, error) {
	w := &Watched{paths: paths, states: make([]FileState, len(paths))}
	for i, p := range paths {
		st, err := Stat(p)
		if err != nil {
			return nil, err
		}
		w.states[i] = st
	}
	return w, nil
}

// Check reports whether any file changed since Watch or the last Check
// that returned true, and remembers the new states.
func (w *Watched) Check() bool {
	changed := false
	for i, p := range w.paths {
		if st, ok := w.states[i].Changed(p); ok {
			w.states[i] = st
			changed = true
		}
	}
	return changed
}
