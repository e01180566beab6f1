package indexer_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/vigil-siem/vigil/indexer"
	"github.com/vigil-siem/vigil/triage"
)

// bulkAnswerer is a minimal Elasticsearch bulk endpoint for measuring the
// client: it reads every NDJSON line of a request, decodes each action
// line and answers each item with the status and result Elasticsearch
// would give it (201 created the first time an index/_id pair is seen,
// 200 updated afterwards, 400 for an action it does not know or a
// missing document line). It skips what estest does on top (decoding the
// documents, checking them against the mappings, storing them), so the
// number it gives is the client's: serialization, BulkIndexer, HTTP and
// the response decoding.
type bulkAnswerer struct {
	mu       sync.Mutex
	versions map[string]int64 // by index + "\x00" + id
	items    int64
}

func newBulkAnswerer(tb testing.TB) (*bulkAnswerer, string) {
	tb.Helper()
	a := &bulkAnswerer{versions: make(map[string]int64)}
	srv := httptest.NewServer(a)
	tb.Cleanup(srv.Close)
	return a, srv.URL
}

func (a *bulkAnswerer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	w.Header().Set("Content-Type", "application/json")
	if r.Method == http.MethodGet && r.URL.Path == "/" {
		fmt.Fprint(w, `{"name":"bench","cluster_name":"bench","version":{"number":"8.15.0","build_flavor":"default"},"tagline":"You Know, for Search"}`)
		return
	}
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/_search") {
		// The sink's look-up of analysts' feedback on the verdicts of a
		// batch, answered as in the usual case: none has any.
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		fmt.Fprint(w, `{"took":1,"timed_out":false,"hits":{"total":{"value":0,"relation":"eq"},"max_score":null,"hits":[]}}`)
		return
	}
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/_mget") {
		// The sink's read of the feedback register after a write,
		// answered as in the usual case: no incident has any.
		// The body is {"ids":["…",…]} of hex ids: read as the bulk body
		// is, without a JSON decoder, so the answering stays cheap.
		body, err := io.ReadAll(r.Body)
		list, ok := bytes.CutPrefix(body, []byte(`{"ids":[`))
		if err != nil || !ok {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		list, _, _ = bytes.Cut(list, []byte("]"))
		out := []byte(`{"docs":[`)
		for i, id := range bytes.Split(list, []byte(",")) {
			id = bytes.Trim(id, `"`)
			if i > 0 {
				out = append(out, ',')
			}
			// As filter_path asks; incident ids are hex, quoted as they are.
			out = append(out, `{"_id":"`...)
			out = append(out, id...)
			out = append(out, `","found":false}`...)
		}
		w.Write(append(out, `]}`...))
		return
	}
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/_bulk") {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"error":{"type":"bench_unsupported","reason":%q},"status":404}`, r.Method+" "+r.URL.Path)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"error":{"type":"parse_exception","reason":%q},"status":400}`, err.Error())
			return
		}
		body = zr
	}
	out, err := a.answer(body, itemFilter(r.URL.Query().Get("filter_path")))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":{"type":"illegal_argument_exception","reason":%q},"status":400}`, err.Error())
		return
	}
	_, _ = w.Write(out)
}

// bulkAction is an action line of a bulk request.
type bulkAction struct {
	Index, Create, Update, Delete *actionMeta
}

type actionMeta struct {
	Index string `json:"_index"`
	ID    string `json:"_id"`
}

// flatAction reads the common shape of an action line,
// {"op":{"key":"value",...}} with plain strings (no escapes) or unsigned
// integers (a verdict's version), as encoding/json would; ok is false for anything else, which the caller
// then decodes with encoding/json.
func flatAction(line []byte) (op, index, id string, ok bool) {
	s := string(line)
	str := func() (string, bool) {
		if !strings.HasPrefix(s, `"`) {
			return "", false
		}
		end := strings.IndexByte(s[1:], '"')
		if end < 0 || strings.ContainsAny(s[1:1+end], `\`) {
			return "", false
		}
		v := s[1 : 1+end]
		s = s[end+2:]
		return v, true
	}
	eat := func(c string) bool {
		if !strings.HasPrefix(s, c) {
			return false
		}
		s = s[len(c):]
		return true
	}
	if !eat("{") {
		return "", "", "", false
	}
	if op, ok = str(); !ok || !eat(":{") {
		return "", "", "", false
	}
	for first := true; !eat("}"); first = false {
		if !first && !eat(",") {
			return "", "", "", false
		}
		k, ok := str()
		if !ok || !eat(":") {
			return "", "", "", false
		}
		if n := len(s) - len(strings.TrimLeft(s, "0123456789")); n > 0 {
			s = s[n:] // a number ("version"): nothing the answer needs
			continue
		}
		v, ok := str()
		if !ok {
			return "", "", "", false
		}
		switch k {
		case "_index":
			index = v
		case "_id":
			id = v
		}
	}
	if s != "}" {
		return "", "", "", false
	}
	return op, index, id, true
}

// one returns the line's only action.
func (a bulkAction) one() (string, *actionMeta, error) {
	var op string
	var meta *actionMeta
	n := 0
	for _, c := range []struct {
		op   string
		meta *actionMeta
	}{{"index", a.Index}, {"create", a.Create}, {"update", a.Update}, {"delete", a.Delete}} {
		if c.meta != nil {
			op, meta = c.op, c.meta
			n++
		}
	}
	if n != 1 {
		return "", nil, fmt.Errorf("want exactly one of index, create, update, delete; got %d", n)
	}
	return op, meta, nil
}

// itemFields says which fields of a bulk answer and its items it holds.
type itemFields struct{ took, meta, status, errors bool }

// itemFilter reads the item part of a filter_path: Elasticsearch keeps
// only the listed fields ("items.*.status"); no filter keeps them all.
func itemFilter(filterPath string) itemFields {
	if filterPath == "" {
		return itemFields{took: true, meta: true, status: true, errors: true}
	}
	var f itemFields
	for _, p := range strings.Split(filterPath, ",") {
		switch p {
		case "took":
			f.took = true
		case "items", "items.*":
			f.meta, f.status, f.errors = true, true, true
		case "items.*.status":
			f.status = true
		case "items.*.error":
			f.errors = true
		case "items.*._index", "items.*._id", "items.*.result", "items.*._version":
			f.meta = true
		}
	}
	return f
}

// answer builds the bulk response for one request body, with the item
// fields the filter keeps.
func (a *bulkAnswerer) answer(body io.Reader, keep itemFields) ([]byte, error) {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	out := make([]byte, 0, 64<<10)
	// Elasticsearch leaves "took" out when a filter_path does not ask
	// for it (the filter of Write keeps errors and the items' status and
	// error only).
	if keep.took {
		out = append(out, `{"took":1,"errors":`...)
	} else {
		out = append(out, `{"errors":`...)
	}
	errPos := len(out)
	out = append(out, `false,"items":[`...)
	hasErrors := false
	n := 0
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		op, index, id, ok := flatAction(line)
		if !ok {
			var action bulkAction
			if err := json.Unmarshal(line, &action); err != nil {
				return nil, fmt.Errorf("malformed action line %d: %q", n+1, line)
			}
			var meta *actionMeta
			var err error
			if op, meta, err = action.one(); err != nil {
				return nil, fmt.Errorf("action line %d: %w", n+1, err)
			}
			index, id = meta.Index, meta.ID
		}
		if n > 0 {
			out = append(out, ',')
		}
		n++
		status, result := 0, ""
		switch {
		case op != "index" && op != "create":
			status = http.StatusBadRequest
		case !sc.Scan() || len(bytes.TrimSpace(sc.Bytes())) == 0 || sc.Bytes()[0] != '{':
			status = http.StatusBadRequest
		case index == "" || id == "":
			status = http.StatusBadRequest
		}
		var version int64
		if status == 0 {
			key := index + "\x00" + id
			a.mu.Lock()
			a.versions[key]++
			version = a.versions[key]
			a.items++
			a.mu.Unlock()
			status, result = http.StatusCreated, "created"
			if version > 1 {
				status, result = http.StatusOK, "updated"
			}
		}
		out = append(out, `{"`...)
		out = append(out, op...)
		out = append(out, `":{`...)
		sep := ""
		if keep.meta {
			out = append(out, `"_index":`...)
			out = strconv.AppendQuote(out, index)
			out = append(out, `,"_id":`...)
			out = strconv.AppendQuote(out, id)
			if status < 400 {
				out = append(out, `,"_version":`...)
				out = strconv.AppendInt(out, version, 10)
				out = append(out, `,"result":"`...)
				out = append(out, result...)
				out = append(out, `","_shards":{"total":1,"successful":1,"failed":0},"_seq_no":`...)
				out = strconv.AppendInt(out, version-1, 10)
				out = append(out, `,"_primary_term":1`...)
			}
			sep = ","
		}
		if keep.status {
			out = append(out, sep...)
			out = append(out, `"status":`...)
			out = strconv.AppendInt(out, int64(status), 10)
			sep = ","
		}
		if status >= 400 {
			hasErrors = true
			if keep.errors {
				out = append(out, sep...)
				out = append(out, `"error":{"type":"illegal_argument_exception","reason":"bench server: unsupported action or missing document"}`...)
			}
		}
		out = append(out, `}}`...)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading bulk body: %w", err)
	}
	out = append(out, `]}`...)
	if hasErrors {
		copy(out[errPos:], "true ") // same length as "false": JSON allows the space
	}
	return out, nil
}

// benchVerdicts returns batch distinct verdict documents from the real
// SSH log, and their total size.
func benchVerdicts(b *testing.B, batch int) ([]indexer.Doc, int) {
	att := sshAttempts(b)
	docs := make([]indexer.Doc, 0, batch)
	size := 0
	for i := range batch {
		d := verdictDoc(b, att[i%len(att)], triage.Suspicious)
		d.ID, d.Body = uniqueVerdict(b, d, i)
		d.Version = storedVersion(b, d, 0) // as the index stage hands them over: ids and version read
		docs = append(docs, d)
		size += len(d.Body)
	}
	return docs, size
}

// BenchmarkESSinkClient measures the client side of indexing: verdict
// documents checked, serialized into bulk requests by the BulkIndexer,
// sent over HTTP and their per-item answers decoded, against a server
// that answers the bulk protocol without estest's document work. Run it
// with -cpu 1 for docs/s/core (the answering server shares the core).
func BenchmarkESSinkClient(b *testing.B) {
	for _, batch := range []int{500, 5000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			srv, url := newBulkAnswerer(b)
			docs, size := benchVerdicts(b, batch)
			s := newESSink(b, url, nil)
			b.SetBytes(int64(size))
			n := 0
			cpu0 := cpuTime()
			for b.Loop() {
				failed, err := s.Write(context.Background(), docs)
				if err != nil || len(failed) != 0 {
					b.Fatalf("Write: failed=%v err=%v", failed, err)
				}
				n += len(docs)
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "docs/s")
			// Per second of CPU used by the whole process (client and
			// answering server): docs/s/core even on a busy machine.
			if cpu := cpuTime() - cpu0; cpu > 0 {
				b.ReportMetric(float64(n)/cpu.Seconds(), "docs/cpu-s")
			}
			b.ReportMetric(float64(size)/float64(batch), "bytes/doc")
			srv.mu.Lock()
			defer srv.mu.Unlock()
			if srv.items != int64(n) {
				b.Fatalf("server acknowledged %d items for %d documents written", srv.items, n)
			}
		})
	}
}
