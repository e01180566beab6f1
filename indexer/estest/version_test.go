package estest_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/vigil-siem/vigil/indexer/estest"
)

// External versioning as Elasticsearch applies it: the writer's version
// is stored, external needs a higher one, external_gte a higher or equal
// one, and a lower one is a 409 that leaves the stored document alone.
func TestExternalVersioningInBulk(t *testing.T) {
	srv := estest.NewServer()
	defer srv.Close()
	body := strings.Join([]string{
		`{"index":{"_index":"v","_id":"1","version":3,"version_type":"external_gte"}}`, `{"n":3}`,
		`{"index":{"_index":"v","_id":"1","version":3,"version_type":"external_gte"}}`, `{"n":33}`, // equal: gte takes it
		`{"index":{"_index":"v","_id":"1","version":2,"version_type":"external_gte"}}`, `{"n":2}`, // lower: conflict
		`{"index":{"_index":"v","_id":"1","version":3,"version_type":"external"}}`, `{"n":-3}`, // equal: external refuses
		`{"index":{"_index":"v","_id":"1","version":5,"version_type":"external"}}`, `{"n":5}`,
	}, "\n") + "\n"
	status, _, resp := call(t, http.MethodPost, srv.URL()+"/_bulk", "application/x-ndjson", []byte(body))
	if status != 200 {
		t.Fatalf("status %d: %v", status, resp)
	}
	want := []struct {
		status  int
		version float64
		reason  string
	}{
		{201, 3, ""},
		{200, 3, ""},
		{409, 0, "[1]: version conflict, current version [3] is higher than the one provided [2]"},
		{409, 0, "[1]: version conflict, current version [3] is higher or equal to the one provided [3]"},
		{200, 5, ""},
	}
	for i, w := range want {
		item := path(resp, "items."+strconv.Itoa(i)+".index")
		if got := path(item, "status"); got != float64(w.status) {
			t.Errorf("item %d: status %v, want %d (%v)", i, got, w.status, item)
		}
		if w.reason != "" {
			if got := path(item, "error.type"); got != "version_conflict_engine_exception" {
				t.Errorf("item %d: error type %v", i, got)
			}
			if got := path(item, "error.reason"); got != w.reason {
				t.Errorf("item %d: reason %q, want %q", i, got, w.reason)
			}
			continue
		}
		if got := path(item, "_version"); got != w.version {
			t.Errorf("item %d: _version %v, want %v", i, got, w.version)
		}
	}
	if v := srv.Version("v", "1"); v != 5 {
		t.Errorf("stored version %d, want 5", v)
	}
	if got := storedField(t, srv, "v", "1", "n"); got != float64(5) {
		t.Errorf("stored document n=%v, want the version-5 write", got)
	}
}

// A version without an external version type, a missing or negative
// version with one, and an unknown type are refused before anything is
// written, for bulk and for the document API.
func TestVersionValidation(t *testing.T) {
	srv := estest.NewServer()
	defer srv.Close()
	for _, c := range []struct {
		name, method, url, body, errType, reason string
	}{
		{"bulk internal with version", http.MethodPost, "/_bulk",
			`{"index":{"_index":"v","_id":"1","version":3}}` + "\n{}\n", "action_request_validation_exception", "internal versioning can not be used"},
		{"bulk external without version", http.MethodPost, "/_bulk",
			`{"index":{"_index":"v","_id":"1","version_type":"external"}}` + "\n{}\n", "action_request_validation_exception", "illegal version value [-3] for version type [EXTERNAL]"},
		{"bulk unknown type", http.MethodPost, "/_bulk",
			`{"index":{"_index":"v","_id":"1","version":1,"version_type":"force"}}` + "\n{}\n", "illegal_argument_exception", "No version type match [force]"},
		{"doc internal with version", http.MethodPut, "/v/_doc/1?version=2", `{}`, "action_request_validation_exception", "internal versioning can not be used"},
		{"doc negative external", http.MethodPut, "/v/_doc/1?version=-1&version_type=external_gte", `{}`, "action_request_validation_exception", "illegal version value [-1] for version type [EXTERNAL_GTE]"},
		{"doc bad version", http.MethodPut, "/v/_doc/1?version=x&version_type=external", `{}`, "illegal_argument_exception", "Failed to parse long parameter [version]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, _, resp := call(t, c.method, srv.URL()+c.url, "application/json", []byte(c.body))
			if status != 400 {
				t.Fatalf("status %d, want 400: %v", status, resp)
			}
			if got := path(resp, "error.type"); got != c.errType {
				t.Errorf("error type %v, want %s", got, c.errType)
			}
			if got, _ := path(resp, "error.reason").(string); !strings.Contains(got, c.reason) {
				t.Errorf("reason %q, want it to contain %q", got, c.reason)
			}
		})
	}
	if n := srv.Count("v"); n != 0 {
		t.Errorf("%d documents stored by refused requests", n)
	}
}

// The document API takes version and version_type as parameters.
func TestExternalVersioningDocAPI(t *testing.T) {
	srv := estest.NewServer()
	defer srv.Close()
	put := func(q, body string) (int, map[string]any) {
		status, _, resp := call(t, http.MethodPut, srv.URL()+"/v/_doc/7?"+q, "application/json", []byte(body))
		return status, resp
	}
	if st, resp := put("version=4&version_type=external_gte", `{"n":4}`); st != 201 || path(resp, "_version") != float64(4) {
		t.Fatalf("first write: %d %v", st, resp)
	}
	if st, resp := put("version=3&version_type=external_gte", `{"n":3}`); st != 409 || path(resp, "error.type") != "version_conflict_engine_exception" {
		t.Fatalf("older write: %d %v", st, resp)
	}
	if st, resp := put("version=4&version_type=external_gte", `{"n":44}`); st != 200 || path(resp, "result") != "updated" {
		t.Fatalf("equal write: %d %v", st, resp)
	}
	if got := storedField(t, srv, "v", "7", "n"); got != float64(44) {
		t.Errorf("stored n=%v, want 44", got)
	}
}

// storedField reads one top-level field of a stored document.
func storedField(t *testing.T, srv *estest.Server, index, id, field string) any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(srv.Docs(index)[id], &doc); err != nil {
		t.Fatalf("stored %s/%s: %v", index, id, err)
	}
	return doc[field]
}
