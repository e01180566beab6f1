package input

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// StateFile is a JSON document on disk (a registry of file offsets, a
// journald cursor) replaced atomically: Save writes a temporary file in
// the same directory, fsyncs it, renames it over Path and fsyncs the
// directory, so a crash leaves either the old or the new state, never a
// torn one.
type StateFile struct {
	Path string
}

// Load decodes the state into v. It returns false (and no error) when the
// file does not exist yet.
func (s StateFile) Load(v any) (bool, error) {
	data, err := os.ReadFile(s.Path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("registry %s: %w", s.Path, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, fmt.Errorf("registry %s: not a registry (delete it to start over): %w", s.Path, err)
	}
	return true, nil
}

// Save replaces the state with v, atomically and durably.
func (s StateFile) Save(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("registry %s: encode: %w", s.Path, err)
	}
	dir := filepath.Dir(s.Path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("registry %s: %w", s.Path, err)
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(s.Path)+".tmp*")
	if err != nil {
		return fmt.Errorf("registry %s: %w", s.Path, err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("registry %s: write: %w", s.Path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("registry %s: fsync: %w", s.Path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("registry %s: %w", s.Path, err)
	}
	if err := os.Rename(tmp.Name(), s.Path); err != nil {
		return fmt.Errorf("registry %s: %w", s.Path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() // make the rename durable; not all file systems support it
		d.Close()
	}
	return nil
}
