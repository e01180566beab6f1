package estest_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"
	"github.com/elastic/go-elasticsearch/v8/esutil"

	"github.com/vigil-siem/vigil/indexer/estest"
)

func newClient(t *testing.T, url string) *elasticsearch.Client {
	t.Helper()
	c, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{url}, MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// decode reads an esapi response body into v and closes it.
func decode(t *testing.T, res *esapi.Response, v any) {
	t.Helper()
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatalf("decode %s: %v", res.Status(), err)
	}
}

// call sends a raw HTTP request and returns the status, headers and body.
func call(t *testing.T, method, url, contentType string, body []byte, hdr ...string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s %s: answer is not a JSON object: %v\n%s", method, url, err, raw)
		}
	}
	return res.StatusCode, res.Header, m
}

// path reads a dotted path out of a decoded JSON object ("error.type",
// "items.0.index.status").
func path(v any, p string) any {
	for _, k := range strings.Split(p, ".") {
		switch t := v.(type) {
		case map[string]any:
			v = t[k]
		case []any:
			var i int
			if _, err := fmt.Sscan(k, &i); err != nil || i >= len(t) {
				return nil
			}
			v = t[i]
		default:
			return nil
		}
	}
	return v
}

func TestOfficialClientNeedsProductHeader(t *testing.T) {
	srv := estest.NewServer()
	defer srv.Close()
	notES := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"name":"n","cluster_name":"c","version":{"number":"8.15.0"},"tagline":"You Know, for Search"}`)
	}))
	defer notES.Close()

	if _, err := newClient(t, notES.URL).Info(); err == nil || !strings.Contains(err.Error(), "not Elasticsearch") {
		t.Fatalf("client against a server without X-Elastic-Product: err = %v, want the product check to refuse", err)
	}
	res, err := newClient(t, srv.URL()).Info()
	if err != nil {
		t.Fatalf("client against estest: %v", err)
	}
	var info struct {
		Version struct {
			Number string `json:"number"`
		} `json:"version"`
		Tagline string `json:"tagline"`
	}
	decode(t, res, &info)
	if !strings.HasPrefix(info.Version.Number, "8.") || info.Tagline != "You Know, for Search" {
		t.Errorf("info = %+v, want an 8.x cluster", info)
	}
	// Errors carry the header too.
	_, hdr, _ := call(t, http.MethodGet, srv.URL()+"/missing/_doc/1", "", nil)
	if hdr.Get("X-Elastic-Product") != "Elasticsearch" {
		t.Error("error answer lacks X-Elastic-Product")
	}
}

func TestOfficialClientIndexGetSearchDelete(t *testing.T) {
	srv := estest.NewServer()
	defer srv.Close()
	es := newClient(t, srv.URL())
	ctx := context.Background()
	doc := `{"@timestamp":"2024-12-10T06:55:48.000Z","vigil":{"incident":{"id":"inc-1"}},"triage":{"verdict":"malicious","confidence":0.9}}`

	for i, want := range []struct {
		status int
		result string
	}{{201, "created"}, {200, "updated"}} {
		res, err := es.Index("vigil-verdicts", strings.NewReader(doc), es.Index.WithDocumentID("inc-1"),
			es.Index.WithRefresh("true"), es.Index.WithContext(ctx))
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Result  string `json:"result"`
			Version int    `json:"_version"`
			ID      string `json:"_id"`
		}
		status := res.StatusCode
		decode(t, res, &out)
		if status != want.status || out.Result != want.result || out.Version != i+1 || out.ID != "inc-1" {
			t.Fatalf("index #%d: %d %+v, want %d %s version %d", i+1, status, out, want.status, want.result, i+1)
		}
	}

	res, err := es.Get("vigil-verdicts", "inc-1")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Found  bool            `json:"found"`
		Source json.RawMessage `json:"_source"`
	}
	decode(t, res, &got)
	if !got.Found || string(got.Source) != doc {
		t.Fatalf("get: found=%v source=%s", got.Found, got.Source)
	}

	res, err = es.Search(es.Search.WithIndex("vigil-verdicts*"),
		es.Search.WithBody(strings.NewReader(`{"query":{"bool":{"filter":[{"term":{"triage.verdict":"malicious"}},{"range":{"@timestamp":{"gte":"2024-12-01"}}}]}}}`)))
	if err != nil {
		t.Fatal(err)
	}
	var sr struct {
		Hits struct {
			Total struct {
				Value int `json:"value"`
			} `json:"total"`
			Hits []struct {
				Index string `json:"_index"`
				ID    string `json:"_id"`
			} `json:"hits"`
		} `json:"hits"`
	}
	decode(t, res, &sr)
	if sr.Hits.Total.Value != 1 || len(sr.Hits.Hits) != 1 || sr.Hits.Hits[0].ID != "inc-1" || sr.Hits.Hits[0].Index != "vigil-verdicts" {
		t.Fatalf("search: %+v", sr.Hits)
	}

	res, err = es.Delete("vigil-verdicts", "inc-1")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("delete: %v %v", res, err)
	}
	res.Body.Close()
	res, err = es.Get("vigil-verdicts", "inc-1")
	if err != nil {
		t.Fatal(err)
	}
	decode(t, res, &got)
	if res.StatusCode != 404 || got.Found {
		t.Fatalf("get after delete: %d found=%v", res.StatusCode, got.Found)
	}
}

func TestBulkItemResults(t *testing.T) {
	srv := estest.NewServer()
	defer srv.Close()
	body := strings.Join([]string{
		`{"index":{"_index":"a","_id":"1"}}`, `{"n":1}`,
		`{"index":{"_index":"a"}}`, `{"n":2}`, // auto id
		`{"create":{"_index":"a","_id":"1"}}`, `{"n":3}`, // exists
		`{"update":{"_index":"a","_id":"1"}}`, `{"doc":{"m":"x"}}`,
		`{"update":{"_index":"a","_id":"1"}}`, `{"doc":{"m":"x"}}`, // no change
		`{"update":{"_index":"a","_id":"9"}}`, `{"doc":{"m":"x"}}`, // missing
		`{"update":{"_index":"a","_id":"8"}}`, `{"doc":{"m":"y"},"doc_as_upsert":true}`,
		`{"delete":{"_index":"a","_id":"8"}}`,
		`{"delete":{"_index":"a","_id":"8"}}`,           // gone
		`{"index":{"_id":"2"}}`, `{"n":"not a number"}`, // _index from the path; mapping conflict
		`{"index":{"_index":"a","_id":"3"}}`, `{"n":`, // broken source
	}, "\n") + "\n"
	status, _, resp := call(t, http.MethodPost, srv.URL()+"/a/_bulk", "application/x-ndjson", []byte(body))
	if status != 200 {
		t.Fatalf("status %d: %v", status, resp)
	}
	want := []struct {
		op, result string
		status     int
		errType    string
	}{
		{"index", "created", 201, ""},
		{"index", "created", 201, ""},
		{"create", "", 409, "version_conflict_engine_exception"},
		{"update", "updated", 200, ""},
		{"update", "noop", 200, ""},
		{"update", "", 404, "document_missing_exception"},
		{"update", "created", 201, ""},
		{"delete", "deleted", 200, ""},
		{"delete", "not_found", 404, ""},
		{"index", "", 400, "document_parsing_exception"},
		{"index", "", 400, "document_parsing_exception"},
	}
	items, _ := resp["items"].([]any)
	if len(items) != len(want) {
		t.Fatalf("%d items, want %d: %v", len(items), len(want), resp)
	}
	if resp["errors"] != true {
		t.Error(`"errors" is not true although items failed`)
	}
	for i, w := range want {
		it := path(items[i], w.op)
		if it == nil {
			t.Fatalf("item %d: no %q key: %v", i, w.op, items[i])
		}
		if got := path(it, "status"); got != float64(w.status) {
			t.Errorf("item %d (%s): status %v, want %d", i, w.op, got, w.status)
		}
		if got, _ := path(it, "result").(string); got != w.result {
			t.Errorf("item %d (%s): result %q, want %q", i, w.op, got, w.result)
		}
		if got, _ := path(it, "error.type").(string); got != w.errType {
			t.Errorf("item %d (%s): error type %q, want %q", i, w.op, got, w.errType)
		}
		if id, _ := path(it, "_id").(string); id == "" {
			t.Errorf("item %d has no _id", i)
		}
	}
	if id, _ := path(items[1], "index._id").(string); len(id) != 20 {
		t.Errorf("auto-generated id %q, want 20 characters", id)
	}
	// The official client's decoder reads the same answer.
	var blk esutil.BulkIndexerResponse
	raw, _ := json.Marshal(resp)
	if err := json.Unmarshal(raw, &blk); err != nil || !blk.HasErrors || len(blk.Items) != len(want) {
		t.Fatalf("esutil decode: %v %+v", err, blk)
	}
	if got := srv.Docs("a")["1"]; string(got) != `{"n":1,"m":"x"}` && string(got) != `{"m":"x","n":1}` {
		t.Errorf("updated source = %s", got)
	}
	if srv.Count("a") != 2 {
		t.Errorf("count = %d, want 2 (doc 1 and the auto-id doc)", srv.Count("a"))
	}
}

func gzipped(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestBulkGzip(t *testing.T) {
	srv := estest.NewServer()
	defer srv.Close()
	body := []byte("{\"index\":{\"_index\":\"z\",\"_id\":\"1\"}}\n{\"a\":1}\n{\"index\":{\"_index\":\"z\",\"_id\":\"2\"}}\n{\"a\":2}\n")
	status, _, resp := call(t, http.MethodPost, srv.URL()+"/_bulk", "application/x-ndjson", gzipped(t, body), "Content-Encoding", "gzip")
	if status != 200 || resp["errors"] != false || srv.Count("z") != 2 {
		t.Fatalf("gzip bulk: %d %v, count %d", status, resp, srv.Count("z"))
	}
	status, _, resp = call(t, http.MethodPost, srv.URL()+"/_bulk", "application/x-ndjson", body[:20], "Content-Encoding", "gzip")
	if status != 400 || path(resp, "error.type") != "parse_exception" {
		t.Fatalf("corrupt gzip: %d %v", status, resp)
	}
	// Through the official client with compression on.
	es, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{srv.URL()}, CompressRequestBody: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := es.Bulk(bytes.NewReader([]byte("{\"index\":{\"_index\":\"z\",\"_id\":\"3\"}}\n{\"a\":3}\n")))
	if err != nil || res.IsError() {
		t.Fatalf("client gzip bulk: %v %v", res, err)
	}
	res.Body.Close()
	if c := srv.Requests(); c.Gzip != 3 || srv.Count("z") != 3 {
		t.Fatalf("gzip requests %d, count %d", c.Gzip, srv.Count("z"))
	}
}

func TestBulkRejectsMalformedRequests(t *testing.T) {
	tests := []struct {
		name        string
		path        string
		contentType string
		body        string
		status      int
		errType     string
		reason      string
	}{
		{"action not JSON", "/_bulk", "application/x-ndjson", "{\"index\":\n{}\n", 400, "x_content_parse_exception", "line [1]"},
		{"unknown action", "/_bulk", "application/x-ndjson", "{\"upsert\":{\"_index\":\"a\"}}\n{}\n", 400, "illegal_argument_exception", "expected one of [create, delete, index, update] but found [upsert]"},
		{"two actions on a line", "/_bulk", "application/x-ndjson", "{\"index\":{},\"delete\":{}}\n{}\n", 400, "illegal_argument_exception", "Malformed action/metadata line [1]"},
		{"metadata not an object", "/_bulk", "application/x-ndjson", "{\"index\":\"a\"}\n{}\n", 400, "illegal_argument_exception", "expected START_OBJECT but found [VALUE_STRING]"},
		{"unknown metadata", "/_bulk", "application/x-ndjson", "{\"index\":{\"_index\":\"a\",\"_type\":\"doc\"}}\n{}\n", 400, "illegal_argument_exception", "unknown parameter [_type]"},
		{"no final newline", "/_bulk", "application/x-ndjson", "{\"index\":{\"_index\":\"a\"}}\n{}", 400, "illegal_argument_exception", "terminated by a newline"},
		{"source missing", "/_bulk", "application/x-ndjson", "{\"index\":{\"_index\":\"a\"}}\n", 400, "action_request_validation_exception", "source is missing"},
		{"index missing", "/_bulk", "application/x-ndjson", "{\"index\":{}}\n{}\n", 400, "action_request_validation_exception", "index is missing"},
		{"empty body", "/_bulk", "application/x-ndjson", "", 400, "action_request_validation_exception", "no requests added"},
		{"invalid index name", "/_bulk", "application/x-ndjson", "{\"index\":{\"_index\":\"Vigil\"}}\n{}\n", 200, "", ""},
		{"wrong content type", "/_bulk", "text/plain", "{\"index\":{\"_index\":\"a\"}}\n{}\n", 406, "", ""},
		{"wrong method", "/_bulk", "application/x-ndjson", "", 405, "illegal_argument_exception", "Incorrect HTTP method"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := estest.NewServer()
			defer srv.Close()
			method := http.MethodPost
			if tc.status == 405 {
				method = http.MethodGet
			}
			status, _, resp := call(t, method, srv.URL()+tc.path, tc.contentType, []byte(tc.body))
			if status != tc.status {
				t.Fatalf("status %d, want %d: %v", status, tc.status, resp)
			}
			if tc.status == 406 {
				if s, _ := resp["error"].(string); !strings.Contains(s, "Content-Type header [text/plain] is not supported") {
					t.Fatalf("406 body = %v", resp)
				}
				return
			}
			if tc.status == 200 { // a bad index name fails only its item
				if path(resp, "items.0.index.error.type") != "invalid_index_name_exception" {
					t.Fatalf("item = %v", resp)
				}
				return
			}
			if got := path(resp, "error.type"); got != tc.errType {
				t.Errorf("error.type = %v, want %s", got, tc.errType)
			}
			if got, _ := path(resp, "error.reason").(string); !strings.Contains(got, tc.reason) {
				t.Errorf("error.reason = %q, want %q", got, tc.reason)
			}
			if path(resp, "error.root_cause.0.type") != tc.errType || path(resp, "status") != float64(tc.status) {
				t.Errorf("not Elasticsearch's error shape: %v", resp)
			}
			if srv.Count("a") != 0 {
				t.Error("a rejected request stored documents")
			}
		})
	}
}

// bulkOne indexes one document through _bulk and returns the item.
func bulkOne(t *testing.T, srv *estest.Server, index, id, doc string) map[string]any {
	t.Helper()
	body := fmt.Sprintf("{\"index\":{\"_index\":%q,\"_id\":%q}}\n%s\n", index, id, doc)
	status, _, resp := call(t, http.MethodPost, srv.URL()+"/_bulk", "application/json", []byte(body))
	if status != 200 {
		t.Fatalf("bulk status %d: %v", status, resp)
	}
	it, _ := path(resp, "items.0.index").(map[string]any)
	return it
}

func TestMappingConflicts(t *testing.T) {
	tests := []struct {
		name   string
		setup  [][3]string // method, path, body
		docs   []string    // indexed in order into "m"
		status []int
		reason string // in the last item's error reason
	}{
		{
			name:   "number then string",
			docs:   []string{`{"triage":{"confidence":0.9}}`, `{"triage":{"confidence":"high"}}`},
			status: []int{201, 400},
			reason: "failed to parse field [triage.confidence] of type [float]",
		},
		{
			name:   "numeric string is coerced",
			docs:   []string{`{"count":1}`, `{"count":"42"}`},
			status: []int{201, 201},
		},
		{
			name:   "number into a text field is accepted",
			docs:   []string{`{"user":"root"}`, `{"user":42}`},
			status: []int{201, 201},
		},
		{
			name:   "object then value",
			docs:   []string{`{"source":{"ip":"10.0.0.1"}}`, `{"source":"10.0.0.1"}`},
			status: []int{201, 400},
			reason: "object mapping for [source] tried to parse field [source] as object, but found a concrete value",
		},
		{
			name:   "value then object",
			docs:   []string{`{"host":"web-1"}`, `{"host":{"name":"web-1"}}`},
			status: []int{201, 400},
			reason: "failed to parse field [host] of type [text]",
		},
		{
			name:   "date field gets a non-date",
			docs:   []string{`{"@timestamp":"2024-12-10T06:55:48Z"}`, `{"@timestamp":"yesterday"}`},
			status: []int{201, 400},
			reason: "failed to parse field [@timestamp] of type [date]",
		},
		{
			name:   "dotted key conflicts with nested object",
			docs:   []string{`{"a":{"b":1}}`, `{"a.b":"x"}`},
			status: []int{201, 400},
			reason: "[a.b] of type [long]",
		},
		{
			name: "template maps a field long",
			setup: [][3]string{
				{"PUT", "/_component_template/vigil-base", `{"template":{"mappings":{"properties":{"vigil":{"properties":{"incident":{"properties":{"risk_score":{"type":"long"}}}}}}}}}`},
				{"PUT", "/_index_template/vigil", `{"index_patterns":["m*"],"composed_of":["vigil-base"],"priority":10,"template":{"mappings":{"properties":{"source.ip":{"type":"ip"}}}}}`},
			},
			docs:   []string{`{"vigil":{"incident":{"risk_score":"47"}}}`, `{"source":{"ip":"203.0.113.9"}}`, `{"vigil":{"incident":{"risk_score":"high"}}}`},
			status: []int{201, 201, 400},
			reason: "failed to parse field [vigil.incident.risk_score] of type [long]",
		},
		{
			name:   "ip field rejects a hostname",
			setup:  [][3]string{{"PUT", "/m", `{"mappings":{"properties":{"source":{"properties":{"ip":{"type":"ip"}}}}}}`}},
			docs:   []string{`{"source":{"ip":"n219076184117.netvigator.com"}}`},
			status: []int{400},
			reason: "is not an IP string literal",
		},
		{
			name:   "strict mapping refuses new fields",
			setup:  [][3]string{{"PUT", "/m", `{"mappings":{"dynamic":"strict","properties":{"a":{"type":"keyword"}}}}`}},
			docs:   []string{`{"a":"x"}`, `{"a":"x","b":1}`},
			status: []int{201, 400},
			reason: "mapping set to strict, dynamic introduction of [b] within [_doc] is not allowed",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := estest.NewServer()
			defer srv.Close()
			for _, s := range tc.setup {
				if status, _, resp := call(t, s[0], srv.URL()+s[1], "application/json", []byte(s[2])); status != 200 {
					t.Fatalf("%s %s: %d %v", s[0], s[1], status, resp)
				}
			}
			var last map[string]any
			for i, d := range tc.docs {
				last = bulkOne(t, srv, "m", fmt.Sprint(i), d)
				if got := last["status"]; got != float64(tc.status[i]) {
					t.Fatalf("doc %d %s: status %v, want %d: %v", i, d, got, tc.status[i], last)
				}
			}
			if tc.reason != "" {
				got, _ := path(last, "error.reason").(string)
				if cause, _ := path(last, "error.caused_by.reason").(string); cause != "" {
					got += " caused by: " + cause
				}
				if !strings.Contains(got, tc.reason) {
					t.Fatalf("reason %q, want %q", got, tc.reason)
				}
			}
		})
	}
}

func TestTemplatesAndMappingsReadBack(t *testing.T) {
	srv := estest.NewServer()
	defer srv.Close()
	tmpl := `{"index_patterns":["vigil-verdicts*"],"priority":5,"template":{"mappings":{"properties":{"vigil":{"properties":{"incident":{"properties":{"id":{"type":"keyword"}}}}},"triage":{"properties":{"confidence":{"type":"float"}}}}}}}`
	if status, _, resp := call(t, "PUT", srv.URL()+"/_index_template/vigil-verdicts", "application/json", []byte(tmpl)); status != 200 || resp["acknowledged"] != true {
		t.Fatalf("put template: %d %v", status, resp)
	}
	status, _, resp := call(t, "GET", srv.URL()+"/_index_template/vigil-verdicts", "", nil)
	if status != 200 || path(resp, "index_templates.0.name") != "vigil-verdicts" ||
		path(resp, "index_templates.0.index_template.template.mappings.properties.triage.properties.confidence.type") != "float" {
		t.Fatalf("get template: %d %v", status, resp)
	}
	if status, _, _ := call(t, "GET", srv.URL()+"/_index_template/nope", "", nil); status != 404 {
		t.Errorf("missing template: %d, want 404", status)
	}
	if status, _, resp := call(t, "PUT", srv.URL()+"/_index_template/bad", "application/json", []byte(`{"index_patterns":["x*"],"composed_of":["missing"]}`)); status != 400 || path(resp, "error.type") != "invalid_index_template_exception" {
		t.Errorf("template with missing component: %d %v", status, resp)
	}
	if status, _, resp := call(t, "PUT", srv.URL()+"/_index_template/bad", "application/json", []byte(`{"index_patterns":["x*"],"template":{"mappings":{"properties":{"f":{"type":"strang"}}}}}`)); status != 400 || path(resp, "error.type") != "mapper_parsing_exception" {
		t.Errorf("template with unknown type: %d %v", status, resp)
	}

	bulkOne(t, srv, "vigil-verdicts-2024.12", "i1", `{"vigil":{"incident":{"id":"i1"}},"triage":{"confidence":1,"verdict":"benign"}}`)
	status, _, resp = call(t, "GET", srv.URL()+"/vigil-verdicts-2024.12/_mapping", "", nil)
	// The index name has dots, so step into it before using path.
	props := resp["vigil-verdicts-2024.12"]
	for p, want := range map[string]string{
		"vigil.properties.incident.properties.id.type":  "keyword", // from the template
		"triage.properties.confidence.type":             "float",   // template wins over the integer in the doc
		"triage.properties.verdict.type":                "text",    // dynamic
		"triage.properties.verdict.fields.keyword.type": "keyword",
	} {
		if got := path(props, "mappings.properties."+p); got != want {
			t.Errorf("mapping %s = %v, want %s (status %d)", p, got, want, status)
		}
	}
}

// searchIDs runs a search and returns the hit ids in order.
func searchIDs(t *testing.T, srv *estest.Server, index, body string) ([]string, int, map[string]any) {
	t.Helper()
	status, _, resp := call(t, http.MethodPost, srv.URL()+"/"+index+"/_search", "application/json", []byte(body))
	if status != 200 {
		return nil, status, resp
	}
	var ids []string
	hits, _ := path(resp, "hits.hits").([]any)
	for _, h := range hits {
		ids = append(ids, path(h, "_id").(string))
	}
	return ids, status, resp
}

func TestSearch(t *testing.T) {
	srv := estest.NewServer()
	defer srv.Close()
	docs := []struct{ index, id, doc string }{
		{"vigil-verdicts-2024.11", "v1", `{"@timestamp":"2024-11-30T23:00:00Z","triage":{"verdict":"benign","confidence":0.2,"summary":"Cron job on web-1"},"vigil":{"incident":{"id":"v1","risk_score":10,"ips":["10.0.0.5"]}}}`},
		{"vigil-verdicts-2024.12", "v2", `{"@timestamp":"2024-12-10T06:55:48Z","triage":{"verdict":"malicious","confidence":0.95,"summary":"SSH brute force from 183.62.140.253"},"vigil":{"incident":{"id":"v2","risk_score":73,"ips":["183.62.140.253"]}}}`},
		{"vigil-verdicts-2024.12", "v3", `{"@timestamp":"2024-12-10T09:12:48Z","triage":{"verdict":"suspicious","confidence":0.6,"summary":"Username spraying"},"vigil":{"incident":{"id":"v3","risk_score":47,"ips":["187.141.143.180","103.99.0.122"]}}}`},
		{"vigil-verdicts-2024.12", "v4", `{"@timestamp":"2024-12-10T11:04:45Z","triage":{"verdict":"malicious","confidence":0.8,"summary":"Password guessing, admin accounts"},"vigil":{"incident":{"id":"v4","risk_score":47}}}`},
		{"vigil-alerts-2024.12", "a1", `{"@timestamp":"2024-12-10T06:55:48Z","triage":{"verdict":"malicious"}}`},
	}
	for _, d := range docs {
		if it := bulkOne(t, srv, d.index, d.id, d.doc); it["status"] != float64(201) {
			t.Fatalf("index %s: %v", d.id, it)
		}
	}
	tests := []struct {
		name  string
		index string
		body  string
		want  string
	}{
		{"match_all over a pattern", "vigil-verdicts*", `{"query":{"match_all":{}}}`, "v1,v2,v3,v4"},
		{"no body", "vigil-verdicts*", ``, "v1,v2,v3,v4"},
		{"term on text matches a token", "vigil-verdicts*", `{"query":{"term":{"triage.verdict":"malicious"}}}`, "v2,v4"},
		{"term on keyword sub-field", "vigil-verdicts*", `{"query":{"term":{"triage.verdict.keyword":{"value":"suspicious"}}}}`, "v3"},
		{"term on analyzed text is not analyzed", "vigil-verdicts*", `{"query":{"term":{"triage.summary":"SSH"}}}`, ""},
		{"match analyzes", "vigil-verdicts*", `{"query":{"match":{"triage.summary":"SSH Brute"}}}`, "v2"},
		{"match and", "vigil-verdicts*", `{"query":{"match":{"triage.summary":{"query":"password admin","operator":"and"}}}}`, "v4"},
		{"match_phrase in order", "vigil-verdicts*", `{"query":{"match_phrase":{"triage.summary":"brute force from"}}}`, "v2"},
		{"match_phrase not reordered", "vigil-verdicts*", `{"query":{"match_phrase":{"triage.summary":{"query":"force brute"}}}}`, ""},
		{"match_phrase not apart", "vigil-verdicts*", `{"query":{"match_phrase":{"triage.summary":"password admin"}}}`, ""},
		{"match_phrase across punctuation", "vigil-verdicts*", `{"query":{"match_phrase":{"triage.summary":"guessing admin"}}}`, "v4"},
		{"terms", "vigil-verdicts*", `{"query":{"terms":{"vigil.incident.id.keyword":["v1","v3","zz"]}}}`, "v1,v3"},
		{"term in array", "vigil-verdicts*", `{"query":{"term":{"vigil.incident.ips.keyword":"103.99.0.122"}}}`, "v3"},
		{"range on number", "vigil-verdicts*", `{"query":{"range":{"triage.confidence":{"gte":0.6,"lt":0.95}}}}`, "v3,v4"},
		{"range on date", "vigil-verdicts*", `{"query":{"range":{"@timestamp":{"gte":"2024-12-10T07:00:00Z","lte":"2024-12-10"}}}}`, ""},
		{"range on date with math", "vigil-verdicts*", `{"query":{"range":{"@timestamp":{"gte":"2024-12-10||/d","lt":"2024-12-10T06:00:00Z||+4h"}}}}`, "v2,v3"},
		{"range relative to now", "vigil-verdicts*", `{"query":{"range":{"@timestamp":{"gte":"now-1d"}}}}`, ""},
		{"bool filter and must_not", "vigil-verdicts*", `{"query":{"bool":{"filter":[{"range":{"vigil.incident.risk_score":{"gte":40}}}],"must_not":{"term":{"triage.verdict":"suspicious"}}}}}`, "v2,v4"},
		{"bool should", "vigil-verdicts*", `{"query":{"bool":{"should":[{"term":{"_id":"v1"}},{"term":{"_id":"v4"}}]}}}`, "v1,v4"},
		{"exists", "vigil-verdicts*", `{"query":{"exists":{"field":"vigil.incident.ips"}}}`, "v1,v2,v3"},
		{"ids", "vigil-verdicts*", `{"query":{"ids":{"values":["v4","v2"]}}}`, "v2,v4"},
		{"unmapped field matches nothing", "vigil-verdicts*", `{"query":{"term":{"nope":"x"}}}`, ""},
		{"sort desc on date", "vigil-verdicts*", `{"sort":[{"@timestamp":{"order":"desc"}}]}`, "v4,v3,v2,v1"},
		{"sort on number then date", "vigil-verdicts*", `{"sort":[{"vigil.incident.risk_score":"asc"},{"@timestamp":"desc"}]}`, "v1,v4,v3,v2"},
		{"sort on keyword", "vigil-verdicts*", `{"sort":["triage.verdict.keyword"]}`, "v1,v2,v4,v3"},
		{"size and from", "vigil-verdicts*", `{"sort":[{"@timestamp":"asc"}],"size":2,"from":1}`, "v2,v3"},
		{"comma-separated indices", "vigil-verdicts-2024.11,vigil-alerts-2024.12", `{}`, "v1,a1"},
		{"pattern without indices", "nothing*", `{}`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ids, status, resp := searchIDs(t, srv, tc.index, tc.body)
			if status != 200 {
				t.Fatalf("status %d: %v", status, resp)
			}
			if got := strings.Join(ids, ","); got != tc.want {
				t.Errorf("hits %q, want %q", got, tc.want)
			}
			if total := path(resp, "hits.total.value"); tc.name != "size and from" && total != float64(len(ids)) {
				t.Errorf("hits.total.value %v for %d hits", total, len(ids))
			}
		})
	}
	// _count agrees with _search.
	status, _, resp := call(t, http.MethodGet, srv.URL()+"/vigil-verdicts*/_count", "application/json", []byte(`{"query":{"term":{"triage.verdict":"malicious"}}}`))
	if status != 200 || resp["count"] != float64(2) {
		t.Errorf("_count: %d %v", status, resp)
	}
	// URL parameters as the CLI may send them.
	status, _, resp = call(t, http.MethodGet, srv.URL()+"/vigil-verdicts*/_search?size=1&sort=@timestamp:desc", "", nil)
	if status != 200 || path(resp, "hits.hits.0._id") != "v4" || path(resp, "hits.total.value") != float64(4) {
		t.Errorf("URL params: %d %v", status, resp)
	}
}

func TestSearchErrors(t *testing.T) {
	srv := estest.NewServer()
	defer srv.Close()
	bulkOne(t, srv, "v", "1", `{"triage":{"verdict":"benign"}}`)
	tests := []struct {
		name, index, body string
		status            int
		errType, reason   string
	}{
		{"sort on text", "v", `{"sort":["triage.verdict"]}`, 400, "search_phase_execution_exception", "Text fields are not optimised"},
		{"sort on unmapped", "v", `{"sort":["nope"]}`, 400, "search_phase_execution_exception", "No mapping found for [nope]"},
		{"unknown query", "v", `{"query":{"fuzzy_match":{}}}`, 400, "parsing_exception", "unknown query [fuzzy_match]"},
		{"unknown key", "v", `{"querry":{}}`, 400, "parsing_exception", "Unknown key for a START_OBJECT in [querry]"},
		{"aggregations", "v", `{"aggs":{"x":{"terms":{"field":"a"}}}}`, 400, "illegal_argument_exception", "aggregations are not supported"},
		{"window too large", "v", `{"size":10001}`, 400, "search_phase_execution_exception", "Result window is too large"},
		{"missing index", "nope", `{}`, 404, "index_not_found_exception", "no such index [nope]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, status, resp := searchIDs(t, srv, tc.index, tc.body)
			if status != tc.status || path(resp, "error.type") != tc.errType {
				t.Fatalf("%d %v, want %d %s", status, resp, tc.status, tc.errType)
			}
			reason, _ := path(resp, "error.reason").(string)
			if cause, _ := path(resp, "error.caused_by.reason").(string); cause != "" {
				reason += " " + cause
			}
			if !strings.Contains(reason, tc.reason) {
				t.Errorf("reason %q, want %q", reason, tc.reason)
			}
		})
	}
}

func TestFaultInjection(t *testing.T) {
	srv := estest.NewServer()
	defer srv.Close()
	u := srv.URL() + "/"

	srv.FailRequests(1, http.StatusTooManyRequests)
	status, hdr, resp := call(t, http.MethodGet, u, "", nil)
	if status != 429 || hdr.Get("Retry-After") != "1" || path(resp, "error.type") != "es_rejected_execution_exception" {
		t.Fatalf("FailRequests 429: %d %v %v", status, hdr, resp)
	}
	if status, _, _ := call(t, http.MethodGet, u, "", nil); status != 200 {
		t.Fatalf("after the injected failure: %d", status)
	}

	srv.SetOutage(estest.OutageUnavailable)
	if status, _, resp := call(t, http.MethodGet, u, "", nil); status != 503 || path(resp, "status") != float64(503) {
		t.Fatalf("outage 503: %d %v", status, resp)
	}
	srv.SetOutage(estest.OutageRefuse)
	// A fresh connection: on a reused one net/http would retry the GET.
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if res, err := fresh.Get(u); err == nil {
		res.Body.Close()
		t.Fatalf("outage refuse: got an answer %s", res.Status)
	}
	srv.SetOutage(estest.OutageNone)
	if status, _, _ := call(t, http.MethodGet, u, "", nil); status != 200 {
		t.Fatalf("after the outage: %d", status)
	}
	if c := srv.Requests(); c.RequestFaults != 3 || c.Total != 5 {
		t.Errorf("counters %+v, want 3 faults in 5 requests", c)
	}

	// A fraction of bulk items, with a fixed seed.
	srv.SetItemFaultRate(0.3, http.StatusTooManyRequests, 42)
	var body strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&body, "{\"index\":{\"_index\":\"f\",\"_id\":\"%d\"}}\n{\"n\":%d}\n", i, i)
	}
	status, _, resp = call(t, http.MethodPost, u+"_bulk", "application/x-ndjson", []byte(body.String()))
	if status != 200 || resp["errors"] != true {
		t.Fatalf("bulk: %d", status)
	}
	rejected := 0
	for _, it := range resp["items"].([]any) {
		if path(it, "index.status") == float64(429) {
			rejected++
			if path(it, "index.error.type") != "es_rejected_execution_exception" {
				t.Fatalf("429 item without the rejection error: %v", it)
			}
		}
	}
	if rejected < 250 || rejected > 350 || srv.Count("f") != 1000-rejected || srv.Requests().ItemFaults != int64(rejected) {
		t.Errorf("%d of 1000 items rejected (want about 300), %d stored", rejected, srv.Count("f"))
	}
}

func TestAuthentication(t *testing.T) {
	srv := estest.NewServer()
	defer srv.Close()
	srv.RequireBasicAuth("analyst", "not-a-real-password")
	status, hdr, resp := call(t, http.MethodGet, srv.URL(), "", nil)
	if status != 401 || path(resp, "error.type") != "security_exception" || hdr.Get("WWW-Authenticate") == "" {
		t.Fatalf("no credentials: %d %v", status, resp)
	}
	es, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{srv.URL()}, Username: "analyst", Password: "not-a-real-password"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := es.Info()
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("with credentials: %v %v", res, err)
	}
	res.Body.Close()
}
