package estest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/vigil-siem/vigil/indexer/estest"
)

// mget posts a multi-get body to target (a path and query under the
// server) and returns the status and decoded answer.
func mget(t *testing.T, srv *estest.Server, target, body string) (int, map[string]any) {
	t.Helper()
	status, _, resp := call(t, http.MethodPost, srv.URL()+target, "application/json", []byte(body))
	return status, resp
}

// rawMget is mget returning the answer's bytes, for exact comparisons.
func rawMget(t *testing.T, srv *estest.Server, target, body string) (int, []byte) {
	t.Helper()
	res, err := http.Post(srv.URL()+target, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, raw
}

// getDoc answers GET /{index}/_doc/{id}.
func getDoc(t *testing.T, srv *estest.Server, index, id string) map[string]any {
	t.Helper()
	status, _, resp := call(t, http.MethodGet, srv.URL()+"/"+index+"/_doc/"+id, "", nil)
	if status != http.StatusOK {
		t.Fatalf("GET %s/%s: %d %v", index, id, status, resp)
	}
	return resp
}

func TestMgetFoundMissingAndMissingIndexInRequestOrder(t *testing.T) {
	srv := estest.NewServer()
	defer srv.Close()
	bulkOne(t, srv, "a", "1", `{"n":1}`)
	bulkOne(t, srv, "a", "2", `{"n":2}`)
	bulkOne(t, srv, "b", "9", `{"n":9}`)

	status, raw := rawMget(t, srv, "/_mget", `{"docs":[
		{"_index":"a","_id":"2"},
		{"_index":"a","_id":"404"},
		{"_index":"nope","_id":"1"},
		{"_index":"b","_id":"9"},
		{"_index":"a","_id":"1"}]}`)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, raw)
	}
	var resp struct {
		Docs []map[string]any `json:"docs"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.Docs) != 5 {
		t.Fatalf("%d docs, want 5: %s", len(resp.Docs), raw)
	}
	// Found documents are exactly what GET /{index}/_doc/{id} answers.
	for i, want := range []map[string]any{getDoc(t, srv, "a", "2"), nil, nil, getDoc(t, srv, "b", "9"), getDoc(t, srv, "a", "1")} {
		if want != nil && !reflect.DeepEqual(resp.Docs[i], want) {
			t.Errorf("doc %d = %v, want the GET answer %v", i, resp.Docs[i], want)
		}
	}
	if got := resp.Docs[0]["_source"]; !reflect.DeepEqual(got, map[string]any{"n": float64(2)}) {
		t.Errorf("doc 0 _source = %v", got)
	}
	wantMissing := map[string]any{"_index": "a", "_id": "404", "found": false}
	if !reflect.DeepEqual(resp.Docs[1], wantMissing) {
		t.Errorf("missing doc = %v, want %v", resp.Docs[1], wantMissing)
	}
	cause := map[string]any{
		"type": "index_not_found_exception", "reason": "no such index [nope]",
		"resource.type": "index_expression", "resource.id": "nope", "index_uuid": "_na_", "index": "nope",
	}
	wantErr := map[string]any{"_index": "nope", "_id": "1", "error": map[string]any{
		"root_cause": []any{cause},
		"type":       "index_not_found_exception", "reason": "no such index [nope]",
		"resource.type": "index_expression", "resource.id": "nope", "index_uuid": "_na_", "index": "nope",
	}}
	if !reflect.DeepEqual(resp.Docs[2], wantErr) {
		t.Errorf("doc in a missing index = %v,\nwant %v", resp.Docs[2], wantErr)
	}
	if srv.Indices()[0] != "a" || len(srv.Indices()) != 2 {
		t.Errorf("indices %v: a multi-get must not create one", srv.Indices())
	}
}

func TestMgetIndexInPath(t *testing.T) {
	srv := estest.NewServer()
	defer srv.Close()
	bulkOne(t, srv, "a", "1", `{"n":1}`)
	bulkOne(t, srv, "a", "3", `{"n":3}`)
	bulkOne(t, srv, "b", "1", `{"n":"b1"}`)

	status, resp := mget(t, srv, "/a/_mget", `{"ids":["3","2","1"]}`)
	if status != http.StatusOK {
		t.Fatalf("ids: %d %v", status, resp)
	}
	for i, want := range []struct {
		id    string
		found bool
	}{{"3", true}, {"2", false}, {"1", true}} {
		if path(resp, "docs."+strconv.Itoa(i)+"._id") != want.id || path(resp, "docs."+strconv.Itoa(i)+"._index") != "a" ||
			path(resp, "docs."+strconv.Itoa(i)+".found") != want.found {
			t.Errorf("ids doc %d = %v, want a/%s found=%v", i, path(resp, "docs."+strconv.Itoa(i)), want.id, want.found)
		}
	}
	if path(resp, "docs.0._source.n") != float64(3) || path(resp, "docs.2._source.n") != float64(1) {
		t.Errorf("ids sources: %v", resp)
	}

	// The path's index is the default; a document's own _index wins.
	status, resp = mget(t, srv, "/a/_mget", `{"docs":[{"_id":"1"},{"_index":"b","_id":"1"}]}`)
	if status != http.StatusOK || path(resp, "docs.0._source.n") != float64(1) ||
		path(resp, "docs.1._index") != "b" || path(resp, "docs.1._source.n") != "b1" {
		t.Errorf("docs with a path index: %d %v", status, resp)
	}

	// A path index that does not exist fails each document, not the request.
	status, resp = mget(t, srv, "/nope/_mget", `{"ids":["1","2"]}`)
	if status != http.StatusOK || path(resp, "docs.1.error.type") != "index_not_found_exception" ||
		path(resp, "docs.1._index") != "nope" || path(resp, "docs.1._id") != "2" {
		t.Errorf("missing path index: %d %v", status, resp)
	}

	// The index parameter is the path's index.
	status, resp = mget(t, srv, "/_mget?index=a", `{"ids":["3"]}`)
	if status != http.StatusOK || path(resp, "docs.0._index") != "a" || path(resp, "docs.0.found") != true {
		t.Errorf("index parameter: %d %v", status, resp)
	}

	// A gzip-encoded body is read like a plain one.
	status, _, resp = call(t, http.MethodPost, srv.URL()+"/a/_mget", "application/json",
		gzipped(t, []byte(`{"ids":["3"]}`)), "Content-Encoding", "gzip")
	if status != http.StatusOK || path(resp, "docs.0._source.n") != float64(3) || srv.Requests().Gzip != 1 {
		t.Errorf("gzip body: %d %v, %d gzip requests", status, resp, srv.Requests().Gzip)
	}

	// docs and ids may come together, in body order.
	status, resp = mget(t, srv, "/a/_mget", `{"ids":["3"],"docs":[{"_index":"b","_id":"1"}]}`)
	if status != http.StatusOK || path(resp, "docs.0._id") != "3" || path(resp, "docs.1._index") != "b" {
		t.Errorf("ids then docs: %d %v", status, resp)
	}
}

func TestMgetSourceFiltering(t *testing.T) {
	srv := estest.NewServer()
	defer srv.Close()
	doc := `{"z":1,"triage":{"verdict":"malicious","feedback":{"by":"ana","note":"fp"},"score":0.50},"vigil":{"incident":{"id":"i-1"}},"tags":[{"k":"a","v":1},{"k":"b"}]}`
	if st, _, resp := call(t, http.MethodPut, srv.URL()+"/a/_doc/1", "application/json", []byte(doc)); st != http.StatusCreated {
		t.Fatalf("put: %d %v", st, resp)
	}
	one := func(target, body string) string {
		t.Helper()
		status, raw := rawMget(t, srv, target, body)
		if status != http.StatusOK {
			t.Fatalf("%s %s: %d %s", target, body, status, raw)
		}
		var resp struct {
			Docs []map[string]json.RawMessage `json:"docs"`
		}
		if err := json.Unmarshal(raw, &resp); err != nil || len(resp.Docs) != 1 {
			t.Fatalf("%s: %v %s", target, err, raw)
		}
		if string(resp.Docs[0]["found"]) != "true" {
			t.Fatalf("%s %s: not found: %s", target, body, raw)
		}
		src, ok := resp.Docs[0]["_source"]
		if !ok {
			return "<none>"
		}
		return string(src)
	}
	tests := []struct {
		name, target, body, want string
	}{
		{"default", "/_mget", `{"docs":[{"_index":"a","_id":"1"}]}`, doc},
		{"true", "/_mget", `{"docs":[{"_index":"a","_id":"1","_source":true}]}`, doc},
		{"false", "/_mget", `{"docs":[{"_index":"a","_id":"1","_source":false}]}`, "<none>"},
		{"one field", "/_mget", `{"docs":[{"_index":"a","_id":"1","_source":"triage.feedback"}]}`,
			`{"triage":{"feedback":{"by":"ana","note":"fp"}}}`},
		{"list keeps source order and number literals", "/_mget", `{"docs":[{"_index":"a","_id":"1","_source":["vigil.incident.id","triage.score","z"]}]}`,
			`{"z":1,"triage":{"score":0.50},"vigil":{"incident":{"id":"i-1"}}}`},
		{"wildcard within a name", "/_mget", `{"docs":[{"_index":"a","_id":"1","_source":["tri*.v*"]}]}`,
			`{"triage":{"verdict":"malicious"}}`},
		{"objects in arrays", "/_mget", `{"docs":[{"_index":"a","_id":"1","_source":["tags.k"]}]}`,
			`{"tags":[{"k":"a"},{"k":"b"}]}`},
		{"includes and excludes", "/_mget", `{"docs":[{"_index":"a","_id":"1","_source":{"includes":["triage"],"excludes":["triage.feedback.note","triage.score"]}}]}`,
			`{"triage":{"verdict":"malicious","feedback":{"by":"ana"}}}`},
		{"excludes only", "/_mget", `{"docs":[{"_index":"a","_id":"1","_source":{"excludes":"triage"}}]}`,
			`{"z":1,"vigil":{"incident":{"id":"i-1"}},"tags":[{"k":"a","v":1},{"k":"b"}]}`},
		{"double wildcard", "/_mget", `{"docs":[{"_index":"a","_id":"1","_source":"**.id"}]}`,
			`{"vigil":{"incident":{"id":"i-1"}}}`},
		{"nothing matches", "/_mget", `{"docs":[{"_index":"a","_id":"1","_source":["nope"]}]}`, `{}`},
		{"param includes", "/a/_mget?_source=triage.feedback", `{"ids":["1"]}`, `{"triage":{"feedback":{"by":"ana","note":"fp"}}}`},
		{"param false", "/a/_mget?_source=false", `{"ids":["1"]}`, "<none>"},
		{"param includes and excludes", "/a/_mget?_source_includes=triage,z&_source_excludes=triage.feedback", `{"ids":["1"]}`,
			`{"z":1,"triage":{"verdict":"malicious","score":0.50}}`},
		{"a document's own _source replaces the parameters", "/_mget?_source=false", `{"docs":[{"_index":"a","_id":"1","_source":"z"}]}`, `{"z":1}`},
		{"documents without their own take the parameters", "/_mget?_source_includes=z", `{"docs":[{"_index":"a","_id":"1"}]}`, `{"z":1}`},
		{"stored_fields leave _source out", "/_mget?stored_fields=x", `{"docs":[{"_index":"a","_id":"1"}]}`, "<none>"},
		{"unless they name it", "/_mget?stored_fields=x,_source", `{"docs":[{"_index":"a","_id":"1"}]}`, doc},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := one(tc.target, tc.body); got != tc.want {
				t.Errorf("_source = %s\nwant      %s", got, tc.want)
			}
		})
	}
	// A field name with dots in it matches the path it spells.
	if st, _, resp := call(t, http.MethodPut, srv.URL()+"/a/_doc/2", "application/json", []byte(`{"x.y":1,"x":{"z":2},"w":3}`)); st != http.StatusCreated {
		t.Fatalf("put: %d %v", st, resp)
	}
	if got := one("/a/_mget?_source=x.y,w", `{"ids":["2"]}`); got != `{"x.y":1,"w":3}` {
		t.Errorf("dotted name: _source = %s", got)
	}
	// Filtering does not touch the stored document.
	if got := string(srv.Docs("a")["1"]); got != doc {
		t.Errorf("stored document changed: %s", got)
	}
}

func TestMgetRejectsBadRequests(t *testing.T) {
	srv := estest.NewServer()
	defer srv.Close()
	bulkOne(t, srv, "a", "1", `{"n":1}`)
	tests := []struct {
		name, method, target, body string
		status                     int
		typ, reason                string
	}{
		{"no index", "POST", "/_mget", `{"docs":[{"_id":"1"}]}`, 400,
			"action_request_validation_exception", "Validation Failed: 1: index is missing for doc 0;"},
		{"ids without an index", "POST", "/_mget", `{"ids":["1","2"]}`, 400,
			"action_request_validation_exception", "Validation Failed: 1: index is missing for doc 0;2: index is missing for doc 1;"},
		{"every problem listed", "POST", "/_mget", `{"docs":[{"_index":"a","_id":"1"},{"_id":"2"},{"_index":"a"}]}`, 400,
			"action_request_validation_exception", "Validation Failed: 1: index is missing for doc 1;2: id is missing for doc 2;"},
		{"empty docs", "POST", "/_mget", `{"docs":[]}`, 400,
			"action_request_validation_exception", "Validation Failed: 1: no documents to get;"},
		{"empty ids", "POST", "/a/_mget", `{"ids":[]}`, 400,
			"action_request_validation_exception", "Validation Failed: 1: no documents to get;"},
		{"empty object", "POST", "/a/_mget", `{}`, 400,
			"action_request_validation_exception", "Validation Failed: 1: no documents to get;"},
		{"no body", "GET", "/a/_mget", ``, 400, "parse_exception", "request body or source parameter is required"},
		{"unknown key", "POST", "/a/_mget", `{"id":["1"]}`, 400,
			"parsing_exception", "unknown key [id] for a START_ARRAY, expected [docs] or [ids]"},
		{"docs not an array", "POST", "/a/_mget", `{"docs":{"_id":"1"}}`, 400,
			"parsing_exception", "unexpected token [START_OBJECT], expected [FIELD_NAME] or [START_ARRAY]"},
		{"body not an object", "POST", "/a/_mget", `["1"]`, 400,
			"parsing_exception", "unexpected token [START_ARRAY], expected [START_OBJECT]"},
		{"doc not an object", "POST", "/a/_mget", `{"docs":["1"]}`, 400,
			"illegal_argument_exception", "docs array element should include an object"},
		{"id not a value", "POST", "/a/_mget", `{"ids":[{"_id":"1"}]}`, 400,
			"illegal_argument_exception", "ids array element should only contain ids"},
		{"unknown doc field", "POST", "/a/_mget", `{"docs":[{"_id":"1","_type":"_doc"}]}`, 400,
			"parse_exception", "failed to parse multi get request. unknown field [_type]"},
		{"bad _source", "POST", "/a/_mget", `{"docs":[{"_id":"1","_source":1}]}`, 400,
			"parse_exception", "illegal type for _source: [VALUE_NUMBER]"},
		{"bad _source object", "POST", "/a/_mget", `{"docs":[{"_id":"1","_source":{"fields":["a"]}}]}`, 400,
			"parse_exception", "source definition may not contain [fields]"},
		{"unknown parameter", "POST", "/a/_mget?realtim=true", `{"ids":["1"]}`, 400,
			"illegal_argument_exception", "request [/a/_mget] contains unrecognized parameter: [realtim] -> did you mean [realtime]?"},
		{"unknown parameters", "POST", "/_mget?zzz=1&_source_include=a", `{"ids":["1"]}`, 400,
			"illegal_argument_exception", "request [/_mget] contains unrecognized parameters: [_source_include] -> did you mean any of [_source_includes, _source_excludes]?, [zzz]"},
		{"bad boolean", "POST", "/a/_mget?realtime=yes", `{"ids":["1"]}`, 400,
			"illegal_argument_exception", "Failed to parse value [yes] as only [true] or [false] are allowed."},
		{"fields parameter", "POST", "/a/_mget?fields=a", `{"ids":["1"]}`, 400,
			"illegal_argument_exception", "The parameter [fields] is no longer supported, please use [stored_fields] to retrieve stored fields or _source filtering if the field is not stored"},
		{"wrong method", "PUT", "/a/_mget", `{"ids":["1"]}`, 405,
			"illegal_argument_exception", "Incorrect HTTP method for uri [/a/_mget] and method [PUT], allowed: [GET, POST]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, _, resp := call(t, tc.method, srv.URL()+tc.target, "application/json", []byte(tc.body))
			if status != tc.status || path(resp, "status") != float64(tc.status) ||
				path(resp, "error.type") != tc.typ || path(resp, "error.reason") != tc.reason ||
				path(resp, "error.root_cause.0.type") != tc.typ {
				t.Errorf("got %d %v\nwant %d %s %q", status, resp, tc.status, tc.typ, tc.reason)
			}
		})
	}

	// Malformed JSON gets the parse error other estest endpoints give.
	for _, body := range []string{`{"ids":["1"]`, `{"ids":["1"]}}`, `{ids:["1"]}`} {
		status, _, resp := call(t, http.MethodPost, srv.URL()+"/a/_mget", "application/json", []byte(body))
		reason, _ := path(resp, "error.reason").(string)
		if status != 400 || path(resp, "error.type") != "x_content_parse_exception" || !strings.HasPrefix(reason, "failed to parse the mget request: ") {
			t.Errorf("%s: %d %v", body, status, resp)
		}
	}
	// Known parameters pass, and the body may come in the source parameter.
	status, resp := mget(t, srv, "/a/_mget?realtime=false&refresh=true&routing=r&preference=_local&pretty&filter_path=docs", `{"ids":["1"]}`)
	if status != 200 || path(resp, "docs.0.found") != true {
		t.Errorf("known parameters: %d %v", status, resp)
	}
	status, _, resp = call(t, http.MethodGet, srv.URL()+`/a/_mget?source={"ids":["1"]}&source_content_type=application/json`, "", nil)
	if status != 200 || path(resp, "docs.0._source.n") != float64(1) {
		t.Errorf("source parameter: %d %v", status, resp)
	}
}

// A document is there for a multi-get as soon as its write was answered,
// without a refresh, with the _version, _seq_no and _primary_term GET gives.
func TestMgetIsRealtime(t *testing.T) {
	srv := estest.NewServer()
	defer srv.Close()
	u := srv.URL()
	bulk := "{\"index\":{\"_index\":\"rt\",\"_id\":\"b\"}}\n{\"via\":\"bulk\"}\n{\"create\":{\"_index\":\"rt\",\"_id\":\"c\"}}\n{\"via\":\"bulk create\"}\n"
	if status, _, resp := call(t, http.MethodPost, u+"/_bulk", "application/x-ndjson", []byte(bulk)); status != 200 || resp["errors"] != false {
		t.Fatalf("bulk: %d %v", status, resp)
	}
	for i, body := range []string{`{"via":"put","n":1}`, `{"via":"put","n":2}`} {
		if status, _, resp := call(t, http.MethodPut, u+"/rt/_doc/p", "application/json", []byte(body)); status != 201 && status != 200 {
			t.Fatalf("put %d: %d %v", i, status, resp)
		}
	}
	status, resp := mget(t, srv, "/rt/_mget", `{"ids":["b","c","p"]}`)
	if status != 200 {
		t.Fatalf("mget: %d %v", status, resp)
	}
	docs, _ := resp["docs"].([]any)
	if len(docs) != 3 {
		t.Fatalf("docs: %v", resp)
	}
	for i, id := range []string{"b", "c", "p"} {
		seqNo := []float64{0, 1, 3}[i] // p was written twice
		got := docs[i].(map[string]any)
		want := getDoc(t, srv, "rt", id)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("mget %s = %v\nGET gives %v", id, got, want)
		}
		if got["found"] != true || got["_primary_term"] != float64(1) || got["_seq_no"] != seqNo {
			t.Errorf("mget %s: found=%v _seq_no=%v _primary_term=%v, want found, seq_no %v, term 1", id, got["found"], got["_seq_no"], got["_primary_term"], seqNo)
		}
	}
	if path(resp, "docs.2._version") != float64(2) || path(resp, "docs.2._source.n") != float64(2) {
		t.Errorf("overwritten doc: %v, want version 2 with the second body", docs[2])
	}

	// A version that differs from the document's fails that document.
	status, resp = mget(t, srv, "/rt/_mget", `{"docs":[{"_id":"p","version":1},{"_id":"p","version":2},{"_id":"zz","version":5}]}`)
	if status != 200 || path(resp, "docs.0.error.type") != "version_conflict_engine_exception" ||
		path(resp, "docs.0.error.reason") != "[p]: version conflict, current version [2] is different than the one provided [1]" ||
		path(resp, "docs.1.found") != true || path(resp, "docs.2.found") != false {
		t.Errorf("versions: %d %v", status, resp)
	}
}

func TestMgetFaultInjection(t *testing.T) {
	srv := estest.NewServer()
	defer srv.Close()
	bulkOne(t, srv, "a", "1", `{"n":1}`)
	body := `{"docs":[{"_index":"a","_id":"1"}]}`

	srv.FailRequests(1, http.StatusTooManyRequests)
	status, hdr, resp := call(t, http.MethodPost, srv.URL()+"/_mget", "application/json", []byte(body))
	if status != 429 || hdr.Get("Retry-After") != "1" || path(resp, "error.type") != "es_rejected_execution_exception" {
		t.Fatalf("injected 429: %d %v %v", status, hdr, resp)
	}
	srv.SetOutage(estest.OutageUnavailable)
	if status, resp := mget(t, srv, "/a/_mget", `{"ids":["1"]}`); status != 503 || path(resp, "error.type") != "cluster_block_exception" {
		t.Fatalf("outage: %d %v", status, resp)
	}
	srv.SetOutage(estest.OutageNone)
	if status, resp := mget(t, srv, "/_mget", body); status != 200 || path(resp, "docs.0.found") != true {
		t.Fatalf("after the faults: %d %v", status, resp)
	}
	if c := srv.Requests(); c.RequestFaults != 2 || c.Mget != 1 {
		t.Errorf("counters %+v, want 2 faults and 1 multi-get answered", c)
	}
}

func TestMgetOfficialClient(t *testing.T) {
	srv := estest.NewServer()
	defer srv.Close()
	es := newClient(t, srv.URL())
	bulkOne(t, srv, "vigil-feedback", "inc-1", `{"vigil":{"incident":{"id":"inc-1"}},"triage":{"feedback":{"label":"fp"}}}`)

	res, err := es.Mget(strings.NewReader(`{"ids":["inc-1","inc-2"]}`), es.Mget.WithIndex("vigil-feedback"),
		es.Mget.WithSource("triage.feedback"), es.Mget.WithRealtime(true))
	if err != nil {
		t.Fatal(err)
	}
	if res.IsError() {
		t.Fatalf("mget: %s", res)
	}
	var out struct {
		Docs []struct {
			ID     string          `json:"_id"`
			Found  bool            `json:"found"`
			Source json.RawMessage `json:"_source"`
		} `json:"docs"`
	}
	decode(t, res, &out)
	if len(out.Docs) != 2 || !out.Docs[0].Found || string(out.Docs[0].Source) != `{"triage":{"feedback":{"label":"fp"}}}` ||
		out.Docs[1].ID != "inc-2" || out.Docs[1].Found {
		t.Errorf("mget: %+v", out.Docs)
	}
}
