package incidents

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/vigil-siem/vigil/indexer"
	"github.com/vigil-siem/vigil/rules"
	"github.com/vigil-siem/vigil/triage"
)

// Source says where the verdicts are: Elasticsearch when ES is set, else
// the NDJSON files in Dir.
type Source struct {
	ES  *indexer.ESConfig
	Dir string // index.output_dir, or --dir
	// DirFrom says where Dir came from ("--dir", "index.output_dir in
	// vigil.yaml", ...): when Dir holds no verdicts, the error names it,
	// since a responder who gets "no such file" cannot tell which setting
	// to change.
	DirFrom string
	// Analyst is recorded as triage.feedback.by (default $USER, else the
	// operating system's user).
	Analyst string
	// Now is the clock for --since and feedback times (default time.Now).
	Now func() time.Time
}

func (s Source) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// record is one verdict as stored: decoded, raw, and where it lives.
type record struct {
	v     triage.Verdict
	raw   map[string]any
	index string // Elasticsearch index; "" for files
}

// store reads and updates verdicts.
type store interface {
	// verdicts returns the verdicts f selects; a store may return more
	// (Filter.match is applied to its answer), never fewer.
	verdicts(ctx context.Context, f Filter) ([]record, error)
	// find returns the verdicts whose incident id starts with prefix, or
	// with byAlert those listing an alert id that starts with it; prefix
	// is lower-case hex. At most maxCandidates+1 for a store that searches.
	find(ctx context.Context, prefix string, byAlert bool) ([]record, error)
	alerts(ctx context.Context, ids []string) ([]rules.Alert, error)
	feedback(ctx context.Context, r record, fb map[string]any) error
	// where names the store in errors.
	where() string
	close() error
}

// open returns the store of src.
func open(src Source) (store, error) {
	if src.ES != nil {
		sink, err := indexer.NewESSink(*src.ES)
		if err != nil {
			return nil, err
		}
		return &esStore{sink: sink}, nil
	}
	if src.Dir == "" {
		return nil, errors.New("incidents: no source: pass --dir DIR (the index stage's output_dir, or the --out of vigil demo), " +
			"or configure index.output_dir or index.elasticsearch (-c vigil.yaml, VIGIL_INDEX_OUTPUT_DIR)")
	}
	return &fileStore{dir: src.Dir, from: src.DirFrom}, nil
}

// errNotFound is returned for an incident id no verdict has.
var errNotFound = errors.New("no verdict has this incident id")

// ErrNoVerdicts is returned when the directory of a Source holds no
// verdicts file.
var ErrNoVerdicts = errors.New("no verdicts")

// noVerdicts explains a missing verdicts file: where it looked, why
// there, and how to point the commands elsewhere.
func (f *fileStore) noVerdicts(path string, err error) error {
	from := f.from
	if from == "" {
		from = "index.output_dir"
	}
	shown := path
	if abs, aerr := filepath.Abs(path); aerr == nil && abs != path {
		shown += " (" + abs + ")"
	}
	why := "it does not exist"
	var pe *fs.PathError
	if errors.As(err, &pe) {
		why = pe.Err.Error()
	}
	return fmt.Errorf("incidents: %w: %s: %s (directory %s, from %s). Point the command at the directory "+
		"the index stage or vigil demo --out wrote with --dir DIR, or set index.output_dir (-c vigil.yaml) "+
		"or VIGIL_INDEX_OUTPUT_DIR; with index.elasticsearch configured it reads Elasticsearch instead",
		ErrNoVerdicts, shown, why, f.dir, from)
}

func decodeRecord(raw []byte, index string) (record, error) {
	var r record
	if err := json.Unmarshal(raw, &r.v); err != nil {
		return r, fmt.Errorf("decode verdict: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&r.raw); err != nil {
		return r, fmt.Errorf("decode verdict: %w", err)
	}
	r.index = index
	return r, nil
}

// fileStore reads the index stage's NDJSON output.
type fileStore struct {
	dir  string
	from string // Source.DirFrom
}

func (f *fileStore) close() error { return nil }

func (f *fileStore) where() string { return filepath.Join(f.dir, indexer.VerdictsFile) }

func (f *fileStore) verdicts(_ context.Context, _ Filter) ([]record, error) {
	path := filepath.Join(f.dir, indexer.VerdictsFile)
	docs, err := indexer.ReadLatest(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, f.noVerdicts(path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("incidents: %w", err)
	}
	out := make([]record, 0, len(docs))
	for i, d := range docs {
		r, err := decodeRecord(d, "")
		if err != nil {
			return nil, fmt.Errorf("incidents: %s: verdict %d: %w", path, i+1, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func (f *fileStore) find(ctx context.Context, prefix string, byAlert bool) ([]record, error) {
	all, err := f.verdicts(ctx, Filter{})
	if err != nil {
		return nil, err
	}
	var out []record
	for _, r := range all {
		if matchesID(r, prefix, byAlert) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (f *fileStore) alerts(_ context.Context, ids []string) ([]rules.Alert, error) {
	path := filepath.Join(f.dir, indexer.AlertsFile)
	docs, err := indexer.ReadLatest(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("incidents: %w", err)
	}
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var out []rules.Alert
	for i, d := range docs {
		var a rules.Alert
		if err := json.Unmarshal(d, &a); err != nil {
			return nil, fmt.Errorf("incidents: %s: alert %d: %w", path, i+1, err)
		}
		if want[a.Vigil.Alert.ID] {
			out = append(out, a)
		}
	}
	return out, nil
}

// feedback appends the updated verdict as a new line: readers take the
// latest line of an id. One write of one whole line, then fsync.
func (f *fileStore) feedback(_ context.Context, r record, fb map[string]any) error {
	setFeedback(r.raw, fb)
	line, err := json.Marshal(r.raw)
	if err != nil {
		return fmt.Errorf("incidents: encode verdict %s: %w", r.v.ID(), err)
	}
	path := filepath.Join(f.dir, indexer.VerdictsFile)
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("incidents: feedback: %w", err)
	}
	_, err = fh.Write(append(line, '\n'))
	if err == nil {
		err = fh.Sync()
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("incidents: feedback: append to %s: %w", path, err)
	}
	return nil
}

func setFeedback(raw map[string]any, fb map[string]any) {
	t, _ := raw["triage"].(map[string]any)
	if t == nil {
		t = map[string]any{}
		raw["triage"] = t
	}
	t["feedback"] = fb
}

// esStore searches Elasticsearch.
type esStore struct{ sink *indexer.ESSink }

func (e *esStore) close() error { return e.sink.Close() }

func (e *esStore) where() string {
	_, expr := e.sink.Index(indexer.KindVerdict)
	return "Elasticsearch " + expr
}

// hit is one search hit.
type hit struct {
	Index  string          `json:"_index"`
	ID     string          `json:"_id"`
	Source json.RawMessage `json:"_source"`
}

func (e *esStore) search(ctx context.Context, kind string, query map[string]any) ([]hit, error) {
	_, expr := e.sink.Index(kind)
	body, err := json.Marshal(query)
	if err != nil {
		return nil, err
	}
	path := "/" + url.PathEscape(expr) + "/_search?ignore_unavailable=true&allow_no_indices=true"
	status, raw, err := e.sink.Request(ctx, http.MethodPost, path, body)
	if err != nil {
		return nil, fmt.Errorf("incidents: %w", err)
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("incidents: search %s answered %d: %.300s", expr, status, raw)
	}
	var res struct {
		Hits struct {
			Hits []hit `json:"hits"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, fmt.Errorf("incidents: search %s: decode answer: %w", expr, err)
	}
	return res.Hits.Hits, nil
}

// verdicts asks for the incidents of one severity at a time, most
// severe first, each newest first, until the limit is reached: the order
// List prints in, so that the limit keeps the rows List would keep from
// all verdicts (one search sorted by last_seen would keep the newest,
// and could leave out an older critical incident).
func (e *esStore) verdicts(ctx context.Context, f Filter) ([]record, error) {
	base := f.esFilters()
	severities := []string{f.Severity}
	if f.Severity == "" {
		severities = slices.Clone(triage.Severities)
		slices.Reverse(severities)
		severities = append(severities, "") // any other value, ranked last as List ranks it
	}
	var out []record
	for _, sev := range severities {
		size := f.limit() - len(out)
		if size <= 0 {
			break
		}
		filters := slices.Clone(base)
		mustNot := []any{}
		if sev != "" {
			filters = append(filters, term("triage.severity", sev))
		} else {
			mustNot = append(mustNot, map[string]any{"terms": map[string]any{"triage.severity": triage.Severities}})
		}
		q := map[string]any{
			"size":  size,
			"query": map[string]any{"bool": map[string]any{"filter": filters, "must_not": mustNot}},
			"sort": []any{
				map[string]any{"vigil.incident.last_seen": map[string]any{"order": "desc", "unmapped_type": "date"}},
				map[string]any{"vigil.incident.id": map[string]any{"order": "asc", "unmapped_type": "keyword"}},
			},
		}
		hits, err := e.search(ctx, indexer.KindVerdict, q)
		if err != nil {
			return nil, err
		}
		recs, err := decodeHits(hits)
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
	}
	return out, nil
}

func decodeHits(hits []hit) ([]record, error) {
	out := make([]record, 0, len(hits))
	seen := map[string]bool{}
	for _, h := range hits {
		r, err := decodeRecord(h.Source, h.Index)
		if err != nil {
			return nil, fmt.Errorf("incidents: %s/%s: %w", h.Index, h.ID, err)
		}
		// The same incident in two indices (fixed, then monthly) is one
		// incident: the first hit stands for it.
		if seen[r.v.ID()] {
			continue
		}
		seen[r.v.ID()] = true
		out = append(out, r)
	}
	return out, nil
}

func term(field string, value any) map[string]any {
	return map[string]any{"term": map[string]any{field: value}}
}

func (e *esStore) find(ctx context.Context, prefix string, byAlert bool) ([]record, error) {
	field := "vigil.incident.id"
	if byAlert {
		field = "vigil.incident.alert_ids"
	}
	hits, err := e.search(ctx, indexer.KindVerdict, map[string]any{
		"size":  maxCandidates + 1,
		"query": map[string]any{"prefix": map[string]any{field: prefix}},
		"sort":  []any{map[string]any{"vigil.incident.last_seen": map[string]any{"order": "desc", "unmapped_type": "date"}}},
	})
	if err != nil {
		return nil, err
	}
	recs, err := decodeHits(hits)
	if err != nil {
		return nil, err
	}
	// The prefix query is exact on keywords; the check is for documents
	// indexed without the mapping (a text field matches by token).
	out := recs[:0]
	for _, r := range recs {
		if matchesID(r, prefix, byAlert) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (e *esStore) alerts(ctx context.Context, ids []string) ([]rules.Alert, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	hits, err := e.search(ctx, indexer.KindAlert, map[string]any{"size": len(ids), "query": map[string]any{"ids": map[string]any{"values": ids}}})
	if err != nil {
		return nil, err
	}
	var out []rules.Alert
	for _, h := range hits {
		var a rules.Alert
		if err := json.Unmarshal(h.Source, &a); err != nil {
			return nil, fmt.Errorf("incidents: alert %s/%s: %w", h.Index, h.ID, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// feedback records the feedback in the sink's feedback register
// (indexer.ESSink.RecordFeedback), then rewrites the verdict document
// with the feedback added, at the version it has: verdicts are versioned
// by their incident's alert count (indexer.Doc), and an update would
// raise the version above the count, so that the next verdict of the
// grown incident would be refused as stale. If the document changes
// between the read and the write (the incident was re-triaged), the
// write is refused, and the new version is read and written again. The
// register is what keeps the feedback on every later verdict, even one
// the sink wrote while this ran (see indexer's feedback.go).
func (e *esStore) feedback(ctx context.Context, r record, fb map[string]any) error {
	raw, err := json.Marshal(fb)
	if err != nil {
		return fmt.Errorf("incidents: feedback: encode: %w", err)
	}
	if err := e.sink.RecordFeedback(ctx, r.v.ID(), raw); err != nil {
		return fmt.Errorf("incidents: feedback: %w", err)
	}
	for range maxFeedbackWrites {
		if stored, err := e.writeFeedback(ctx, r, fb); err != nil || stored {
			return err
		}
	}
	return fmt.Errorf("incidents: feedback: incident %s was re-triaged %d times while the feedback was written; it is recorded and goes with the next verdict of the incident", r.v.ID(), maxFeedbackWrites)
}

// maxFeedbackWrites bounds how often feedback reads and writes the
// verdict document again after losing to a newer verdict.
const maxFeedbackWrites = 5

// writeFeedback reads the verdict document and writes it back with the
// feedback; stored is false when a newer verdict was written in between.
func (e *esStore) writeFeedback(ctx context.Context, r record, fb map[string]any) (stored bool, err error) {
	docPath := "/" + url.PathEscape(r.index) + "/_doc/" + url.PathEscape(r.v.ID())
	status, raw, err := e.sink.Request(ctx, http.MethodGet, docPath, nil)
	if err != nil {
		return false, fmt.Errorf("incidents: feedback: %w", err)
	}
	if status != http.StatusOK {
		return false, fmt.Errorf("incidents: feedback: read %s/%s answered %d: %.300s", r.index, r.v.ID(), status, raw)
	}
	var got struct {
		Version int64           `json:"_version"`
		Source  json.RawMessage `json:"_source"`
	}
	if err := json.Unmarshal(raw, &got); err != nil || got.Version <= 0 || len(got.Source) == 0 {
		return false, fmt.Errorf("incidents: feedback: read %s/%s: not a document with a _version and _source: %.300s", r.index, r.v.ID(), raw)
	}
	cur, err := decodeRecord(got.Source, r.index)
	if err != nil {
		return false, fmt.Errorf("incidents: feedback: %s/%s: %w", r.index, r.v.ID(), err)
	}
	setFeedback(cur.raw, fb)
	body, err := json.Marshal(cur.raw)
	if err != nil {
		return false, fmt.Errorf("incidents: feedback: encode verdict %s: %w", r.v.ID(), err)
	}
	q := url.Values{"version": {strconv.FormatInt(got.Version, 10)}, "version_type": {"external_gte"}, "refresh": {"wait_for"}}
	status, raw, err = e.sink.Request(ctx, http.MethodPut, docPath+"?"+q.Encode(), body)
	switch {
	case err != nil:
		return false, fmt.Errorf("incidents: feedback: %w", err)
	case status == http.StatusConflict:
		return false, nil
	case status/100 != 2:
		return false, fmt.Errorf("incidents: feedback: write %s/%s answered %d: %.300s", r.index, r.v.ID(), status, raw)
	}
	return true, nil
}
