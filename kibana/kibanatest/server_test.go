package kibanatest

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
)

// upload builds a multipart import body holding ndjson as field/filename.
func upload(t *testing.T, field, filename, ndjson string) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	part, err := mw.CreateFormFile(field, filename)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = part.Write([]byte(ndjson))
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf, mw.FormDataContentType()
}

const dataView = `{"type":"index-pattern","id":"dv","attributes":{"title":"logs-*"},"references":[]}`
const search = `{"type":"search","id":"s","attributes":{"title":"Search"},"references":[{"name":"kibanaSavedObjectMeta.searchSourceJSON.index","type":"index-pattern","id":"dv"}]}`

func TestImportProtocol(t *testing.T) {
	tests := []struct {
		name        string
		method      string
		path        string
		xsrf        bool
		auth        string
		field, file string
		body        string
		contentType string
		wantStatus  int
		wantBody    string
	}{
		{name: "imports", path: "/api/saved_objects/_import?overwrite=true", xsrf: true, auth: "ApiKey test-key",
			body: dataView + "\n" + search + "\n", wantStatus: 200, wantBody: `"successCount":2`},
		{name: "into a space", path: "/s/blue/api/saved_objects/_import", xsrf: true, auth: "ApiKey test-key",
			body: dataView, wantStatus: 200, wantBody: `"success":true`},
		{name: "export summary line skipped", path: "/api/saved_objects/_import", xsrf: true, auth: "ApiKey test-key",
			body:       dataView + "\n" + `{"excludedObjects":[],"excludedObjectsCount":0,"exportedCount":1,"missingRefCount":0,"missingReferences":[]}`,
			wantStatus: 200, wantBody: `"successCount":1`},
		{name: "missing reference", path: "/api/saved_objects/_import", xsrf: true, auth: "ApiKey test-key",
			body: search, wantStatus: 200, wantBody: `"error":{"references":[{"id":"dv","type":"index-pattern"}],"type":"missing_references"}`},
		{name: "unknown type", path: "/api/saved_objects/_import", xsrf: true, auth: "ApiKey test-key",
			body: `{"type":"nope","id":"x","attributes":{}}`, wantStatus: 200, wantBody: `"type":"unsupported_type"`},
		{name: "no attributes", path: "/api/saved_objects/_import", xsrf: true, auth: "ApiKey test-key",
			body: `{"type":"lens","id":"x"}`, wantStatus: 200, wantBody: `expected value of type [object]`},
		{name: "no id", path: "/api/saved_objects/_import", xsrf: true, auth: "ApiKey test-key",
			body: `{"type":"lens","attributes":{}}`, wantStatus: 200, wantBody: `saved object has no id`},
		{name: "from a newer Kibana", path: "/api/saved_objects/_import", xsrf: true, auth: "ApiKey test-key",
			body: `{"type":"lens","id":"x","attributes":{},"coreMigrationVersion":"9.1.0"}`, wantStatus: 200, wantBody: `more recent version of Kibana`},
		{name: "no kbn-xsrf", path: "/api/saved_objects/_import", auth: "ApiKey test-key", body: dataView,
			wantStatus: 400, wantBody: "kbn-xsrf"},
		{name: "no credentials", path: "/api/saved_objects/_import", xsrf: true, body: dataView,
			wantStatus: 401, wantBody: "missing authentication credentials"},
		{name: "wrong credentials", path: "/api/saved_objects/_import", xsrf: true, auth: "Basic dXNlcjpwdw==", body: dataView,
			wantStatus: 401, wantBody: "unable to authenticate"},
		{name: "not multipart", path: "/api/saved_objects/_import", xsrf: true, auth: "ApiKey test-key", body: dataView,
			contentType: "application/json", wantStatus: 400, wantBody: "multipart/form-data"},
		{name: "truncated multipart", path: "/api/saved_objects/_import", xsrf: true, auth: "ApiKey test-key", body: dataView,
			contentType: "multipart/form-data; boundary=xyz", wantStatus: 400, wantBody: "multipart"},
		{name: "no file field", path: "/api/saved_objects/_import", xsrf: true, auth: "ApiKey test-key", field: "upload", body: dataView,
			wantStatus: 400, wantBody: "[request body.file]"},
		{name: "wrong extension", path: "/api/saved_objects/_import", xsrf: true, auth: "ApiKey test-key", file: "x.json", body: dataView,
			wantStatus: 400, wantBody: "Invalid file extension .json"},
		{name: "not NDJSON", path: "/api/saved_objects/_import", xsrf: true, auth: "ApiKey test-key", body: "{\"type\":",
			wantStatus: 400, wantBody: "line 1"},
		{name: "bad overwrite", path: "/api/saved_objects/_import?overwrite=maybe", xsrf: true, auth: "ApiKey test-key", body: dataView,
			wantStatus: 400, wantBody: "query.overwrite"},
		{name: "GET on import", method: "GET", path: "/api/saved_objects/_import", auth: "ApiKey test-key", wantStatus: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := NewServer(Config{APIKey: "test-key"})
			defer srv.Close()
			field, file := tt.field, tt.file
			if field == "" {
				field = "file"
			}
			if file == "" {
				file = "export.ndjson"
			}
			var body io.Reader
			ct := tt.contentType
			if tt.method != "GET" {
				b, mct := upload(t, field, file, tt.body)
				body = b
				if ct == "" {
					ct = mct
				}
			}
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			req, _ := http.NewRequest(method, srv.URL+tt.path, body)
			if ct != "" {
				req.Header.Set("Content-Type", ct)
			}
			if tt.xsrf {
				req.Header.Set("kbn-xsrf", "true")
			}
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus || !strings.Contains(string(got), tt.wantBody) {
				t.Errorf("status %d body %s, want %d containing %s", resp.StatusCode, got, tt.wantStatus, tt.wantBody)
			}
		})
	}
}

func post(t *testing.T, srv *Server, path, ndjson string) map[string]any {
	t.Helper()
	b, ct := upload(t, "file", "x.ndjson", ndjson)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+path, b)
	req.Header.Set("Content-Type", ct)
	req.Header.Set("kbn-xsrf", "true")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("status %d: %v", resp.StatusCode, err)
	}
	return out
}

func TestStoredObjects(t *testing.T) {
	srv := NewServer(Config{})
	defer srv.Close()
	post(t, srv, "/api/saved_objects/_import", dataView)
	// A later import may reference what is already stored.
	if got := post(t, srv, "/api/saved_objects/_import", search); got["success"] != true {
		t.Errorf("search referencing a stored data view: %v", got)
	}
	// Without overwrite an existing object is a conflict; with it, it is
	// replaced and reported as overwritten.
	if got := post(t, srv, "/api/saved_objects/_import", dataView); !strings.Contains(toJSON(got), `"type":"conflict"`) {
		t.Errorf("re-import without overwrite: %v", got)
	}
	if got := post(t, srv, "/api/saved_objects/_import?overwrite=true", dataView); !strings.Contains(toJSON(got), `"overwrite":true`) {
		t.Errorf("re-import with overwrite: %v", got)
	}
	for path, want := range map[string]int{
		"/api/saved_objects/search/s":         200,
		"/api/saved_objects/index-pattern/dv": 200,
		"/api/saved_objects/lens/s":           404,
		"/s/other/api/saved_objects/search/s": 404,
		"/api/saved_objects/search":           404,
		"/api/status":                         404,
	} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	srv.FailNext(2, http.StatusServiceUnavailable)
	for i, want := range []int{503, 503, 200} {
		resp, err := http.Get(srv.URL + "/api/saved_objects/search/s")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("request %d after FailNext(2): %d, want %d", i, resp.StatusCode, want)
		}
	}
	if srv.Imports() != 4 {
		t.Errorf("Imports() = %d, want 4", srv.Imports())
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func FuzzParseNDJSON(f *testing.F) {
	f.Add([]byte(dataView + "\n" + search + "\n"))
	f.Add([]byte(`{"exportedCount":1}`))
	f.Add([]byte("{\"type\":\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := parseNDJSON(data)
		if err != nil && objs != nil {
			t.Fatalf("objects returned with an error")
		}
	})
}
