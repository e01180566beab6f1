package indexer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// File names inside FileConfig.Dir.
const (
	AlertsFile   = "alerts.ndjson"
	VerdictsFile = "verdicts.ndjson"
)

// FileConfig configures a FileSink.
type FileConfig struct {
	// Dir holds alerts.ndjson and verdicts.ndjson; it is created if missing.
	Dir string
}

// FileSink appends documents to one NDJSON file per kind. A re-triaged
// verdict is appended again under the same id, so the files read "last
// line of the highest version per id wins" (ReadLatest) until Close
// compacts them. It is safe for
// concurrent use, but only one FileSink may write a directory at a time.
type FileSink struct {
	mu     sync.Mutex
	dir    string
	files  map[string]*ndjsonFile // by kind
	closed bool
}

type ndjsonFile struct {
	path string
	f    *os.File
	size int64 // bytes known to hold whole lines
}

// fileKinds lists the kinds in the order their files are written.
var fileKinds = []struct{ kind, name string }{
	{KindAlert, AlertsFile},
	{KindVerdict, VerdictsFile},
}

// NewFileSink opens (creating if needed) the NDJSON files in cfg.Dir. A
// torn last line left by a crash during a write is cut off: its batch was
// never acknowledged, so the caller replays it.
func NewFileSink(cfg FileConfig) (*FileSink, error) {
	if cfg.Dir == "" {
		return nil, errors.New("indexer: file sink: output directory is empty (index.output_dir)")
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("indexer: file sink: create %s: %w", cfg.Dir, err)
	}
	s := &FileSink{dir: cfg.Dir, files: make(map[string]*ndjsonFile, len(fileKinds))}
	for _, k := range fileKinds {
		path := filepath.Join(cfg.Dir, k.name)
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o640)
		if err != nil {
			s.closeFiles()
			return nil, fmt.Errorf("indexer: file sink: open %s: %w", path, err)
		}
		s.files[k.kind] = &ndjsonFile{path: path, f: f}
		size, err := cutTornLine(f)
		if err != nil {
			s.closeFiles()
			return nil, fmt.Errorf("indexer: file sink: repair %s: %w", path, err)
		}
		s.files[k.kind].size = size
	}
	if err := syncDir(cfg.Dir); err != nil {
		s.closeFiles()
		return nil, fmt.Errorf("indexer: file sink: %w", err)
	}
	return s, nil
}

// cutTornLine truncates f after its last newline and returns its size.
func cutTornLine(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := st.Size()
	const chunk = 64 << 10
	buf := make([]byte, chunk)
	end := size
	for end > 0 {
		start := max(end-chunk, 0)
		n, err := f.ReadAt(buf[:end-start], start)
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			end = start + int64(i) + 1
			break
		}
		end = start
	}
	if end == size {
		return size, nil
	}
	if err := f.Truncate(end); err != nil {
		return 0, err
	}
	return end, f.Sync()
}

// Write appends each document as one line to its kind's file and fsyncs
// before returning. A document of unknown kind, one that is not a JSON
// object, or one whose id is missing or differs from Doc.ID, is returned
// in failed.
func (s *FileSink) Write(ctx context.Context, docs []Doc) ([]Failed, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("indexer: file sink: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("indexer: file sink: write after Close")
	}
	var failed []Failed
	bufs := make(map[string]*bytes.Buffer, len(fileKinds))
	for _, d := range docs {
		if _, ok := s.files[d.Kind]; !ok {
			failed = append(failed, Failed{Doc: d, Reason: fmt.Sprintf("unknown document kind %q (want %q or %q)", d.Kind, KindAlert, KindVerdict)})
			continue
		}
		buf := bufs[d.Kind]
		if buf == nil {
			buf = new(bytes.Buffer)
			bufs[d.Kind] = buf
		}
		if reason := appendLine(buf, d); reason != "" {
			failed = append(failed, Failed{Doc: d, Reason: reason})
		}
	}
	for _, k := range fileKinds {
		if buf := bufs[k.kind]; buf != nil && buf.Len() > 0 {
			if err := s.files[k.kind].append(buf.Bytes()); err != nil {
				return nil, fmt.Errorf("indexer: file sink: %w", err)
			}
		}
	}
	return failed, nil
}

// appendLine adds d's body to buf as one compact line, or explains why it
// cannot be stored.
func appendLine(buf *bytes.Buffer, d Doc) string {
	start := buf.Len()
	if err := json.Compact(buf, d.Body); err != nil {
		buf.Truncate(start)
		return fmt.Sprintf("document %q is not valid JSON: %v", d.ID, err)
	}
	id, err := docID(buf.Bytes()[start:])
	if err != nil {
		buf.Truncate(start)
		return fmt.Sprintf("document %q: %v", d.ID, err)
	}
	if d.ID != "" && id != d.ID {
		buf.Truncate(start)
		return fmt.Sprintf("document id %q differs from the id %q in its body", d.ID, id)
	}
	buf.WriteByte('\n')
	return ""
}

// append writes whole lines and fsyncs; on failure it cuts the file back
// so no partial line is left for the next write to glue onto.
func (f *ndjsonFile) append(b []byte) error {
	_, err := f.f.Write(b)
	if err == nil {
		err = f.f.Sync()
	}
	if err != nil {
		_ = f.f.Truncate(f.size)
		return fmt.Errorf("append to %s: %w", f.path, err)
	}
	f.size += int64(len(b))
	return nil
}

// Close closes the files and compacts each so it holds exactly one line
// per id, the latest, in first-seen order (written to a temporary file,
// then renamed over the original).
func (s *FileSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	errs := []error{s.closeFiles()}
	for _, k := range fileKinds {
		if err := compact(filepath.Join(s.dir, k.name)); err != nil {
			errs = append(errs, fmt.Errorf("indexer: file sink: %w", err))
		}
	}
	return errors.Join(errs...)
}

func (s *FileSink) closeFiles() error {
	var errs []error
	for _, f := range s.files {
		if err := f.f.Close(); err != nil {
			errs = append(errs, fmt.Errorf("indexer: file sink: close %s: %w", f.path, err))
		}
	}
	return errors.Join(errs...)
}

// compact rewrites path with the latest line per id (as ReadLatest), unless it already
// has one line per id.
func compact(path string) error {
	docs, lines, err := readLatest(path)
	if err != nil {
		return err
	}
	if lines == len(docs) {
		return nil
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".compact-*")
	if err != nil {
		return fmt.Errorf("compact %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	w := bufio.NewWriterSize(tmp, 256<<10)
	for _, d := range docs {
		_, _ = w.Write(d)
		_ = w.WriteByte('\n')
	}
	err = w.Flush()
	if err == nil {
		err = tmp.Chmod(0o640)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("compact %s: %w", path, err)
	}
	return nil
}

// ReadLatest reads an NDJSON file of alerts or verdicts and returns the
// latest document per id (vigil.incident.id, else vigil.alert.id) in
// first-seen order: the last line of the id's highest version (see Doc),
// so a stale smaller verdict appended after a bigger one does not win. Blank lines are skipped; a line that is not a JSON
// object or has no id is an error naming the file and line.
func ReadLatest(path string) ([]json.RawMessage, error) {
	docs, _, err := readLatest(path)
	return docs, err
}

// readLatest is ReadLatest that also counts the document lines.
func readLatest(path string) ([]json.RawMessage, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("indexer: read %w", err)
	}
	defer f.Close()
	var (
		docs     []json.RawMessage
		versions []int64 // of docs
		pos      = make(map[string]int)
		lines    int
		r        = bufio.NewReaderSize(f, 256<<10)
	)
	for n := 1; ; n++ {
		line, rerr := r.ReadBytes('\n')
		if rerr != nil && !errors.Is(rerr, io.EOF) {
			return nil, 0, fmt.Errorf("indexer: read %s:%d: %w", path, n, rerr)
		}
		if doc := bytes.TrimSpace(line); len(doc) > 0 {
			id, version, err := docIdentity(doc)
			if err != nil {
				return nil, 0, fmt.Errorf("indexer: %s:%d: %w", path, n, err)
			}
			lines++
			if i, seen := pos[id]; !seen {
				pos[id] = len(docs)
				docs = append(docs, json.RawMessage(doc))
				versions = append(versions, version)
			} else if version >= versions[i] {
				// A newer verdict keeps the analyst's feedback on the
				// incident (see carryFeedback).
				if fb := feedbackOf(docs[i]); fb != nil {
					if merged, err := withFeedback(doc, fb); err == nil {
						doc = merged
					}
				}
				docs[i], versions[i] = json.RawMessage(doc), version
			}
		}
		if rerr != nil {
			return docs, lines, nil
		}
	}
}

// syncDir makes a directory's entries (created or renamed files) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
