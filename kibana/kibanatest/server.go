package kibanatest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"path"
	"strconv"
	"strings"
	"sync"
)

// Config sets the credentials the server accepts. With none set it
// accepts requests without credentials (Kibana without security).
type Config struct {
	// APIKey is the value accepted in "Authorization: ApiKey <APIKey>".
	APIKey string
	// Username and Password are accepted as basic auth.
	Username string
	Password string
	// Version is the Kibana version the server claims (default 8.15.0);
	// an object whose coreMigrationVersion is newer is refused, as Kibana
	// refuses objects exported from a newer release.
	Version string
}

// Object is a stored saved object.
type Object struct {
	Type                 string          `json:"type"`
	ID                   string          `json:"id"`
	Attributes           json.RawMessage `json:"attributes"`
	References           []Reference     `json:"references"`
	CoreMigrationVersion string          `json:"coreMigrationVersion,omitempty"`
	TypeMigrationVersion string          `json:"typeMigrationVersion,omitempty"`
	Managed              bool            `json:"managed"`
	Namespaces           []string        `json:"namespaces,omitempty"`
}

// Reference is a saved object's reference to another.
type Reference struct {
	Name string `json:"name"`
	Type string `json:"type"`
	ID   string `json:"id"`
}

// knownTypes are the saved-object types the server accepts.
var knownTypes = map[string]string{
	"index-pattern": "indexPatternApp", "search": "discoverApp", "lens": "lensApp",
	"visualization": "visualizeApp", "dashboard": "dashboardApp", "map": "gisApp",
	"tag": "tag", "config": "advancedSettings",
}

// Server is a running test server.
type Server struct {
	*httptest.Server
	cfg Config

	mu       sync.Mutex
	objects  map[string]map[string]Object // space → type/id → object
	failLeft int
	failCode int
	imports  int
	requests int
}

// NewServer starts a server; Close stops it.
func NewServer(cfg Config) *Server {
	if cfg.Version == "" {
		cfg.Version = "8.15.0"
	}
	s := &Server{cfg: cfg, objects: map[string]map[string]Object{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// FailNext makes the next n requests answer status (e.g. 503) with a
// Kibana-style error body, before anything else is checked.
func (s *Server) FailNext(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failLeft, s.failCode = n, status
}

// Requests returns how many requests the server received.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Imports returns how many import requests were answered 200.
func (s *Server) Imports() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.imports
}

// Objects returns the objects stored in space ("" or "default" for the
// default space), by "type/id".
func (s *Server) Objects(space string) map[string]Object {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]Object{}
	for k, v := range s.objects[spaceKey(space)] {
		out[k] = v
	}
	return out
}

func spaceKey(space string) string {
	if space == "" {
		return "default"
	}
	return space
}

// kibanaError writes Kibana's error body.
func kibanaError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"statusCode": status, "error": http.StatusText(status), "message": msg})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	fail := s.failLeft > 0
	code := s.failCode
	if fail {
		s.failLeft--
	}
	s.mu.Unlock()
	if fail {
		kibanaError(w, code, "injected failure")
		return
	}
	p := r.URL.Path
	space := "default"
	if rest, ok := strings.CutPrefix(p, "/s/"); ok {
		sp, tail, found := strings.Cut(rest, "/")
		if !found || sp == "" {
			kibanaError(w, http.StatusNotFound, "Not Found")
			return
		}
		space, p = sp, "/"+tail
	}
	if !s.authorized(w, r) {
		return
	}
	switch {
	case p == "/api/saved_objects/_import":
		if r.Method != http.MethodPost {
			kibanaError(w, http.StatusNotFound, "Not Found")
			return
		}
		s.handleImport(w, r, space)
	case strings.HasPrefix(p, "/api/saved_objects/") && r.Method == http.MethodGet:
		typ, id, ok := strings.Cut(strings.TrimPrefix(p, "/api/saved_objects/"), "/")
		if !ok || typ == "" || id == "" || strings.Contains(id, "/") {
			kibanaError(w, http.StatusNotFound, "Not Found")
			return
		}
		s.mu.Lock()
		o, found := s.objects[space][typ+"/"+id]
		s.mu.Unlock()
		if !found {
			kibanaError(w, http.StatusNotFound, fmt.Sprintf("Saved object [%s/%s] not found", typ, id))
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_ = json.NewEncoder(w).Encode(o)
	default:
		kibanaError(w, http.StatusNotFound, "Not Found")
	}
}

// authorized checks the credentials like Kibana with security enabled.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	if s.cfg.APIKey == "" && s.cfg.Username == "" {
		return true
	}
	auth := r.Header.Get("Authorization")
	if auth == "" {
		kibanaError(w, http.StatusUnauthorized, "[security_exception]: missing authentication credentials for REST request")
		return false
	}
	if key, ok := strings.CutPrefix(auth, "ApiKey "); ok && s.cfg.APIKey != "" && key == s.cfg.APIKey {
		return true
	}
	if u, pw, ok := r.BasicAuth(); ok && s.cfg.Username != "" && u == s.cfg.Username && pw == s.cfg.Password {
		return true
	}
	kibanaError(w, http.StatusUnauthorized, "[security_exception]: unable to authenticate user for REST request")
	return false
}

// importError is one per-object error in the answer.
type importError struct {
	Type  string         `json:"type"`
	ID    string         `json:"id"`
	Title string         `json:"title,omitempty"`
	Meta  map[string]any `json:"meta"`
	Error map[string]any `json:"error"`
}

// importSuccess is one per-object success in the answer.
type importSuccess struct {
	Type      string         `json:"type"`
	ID        string         `json:"id"`
	Meta      map[string]any `json:"meta"`
	Overwrite bool           `json:"overwrite,omitempty"`
	Managed   bool           `json:"managed"`
}

func (s *Server) handleImport(w http.ResponseWriter, r *http.Request, space string) {
	if r.Header.Get("kbn-xsrf") == "" {
		kibanaError(w, http.StatusBadRequest, "Request must contain a kbn-xsrf header.")
		return
	}
	overwrite := false
	if v := r.URL.Query().Get("overwrite"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			kibanaError(w, http.StatusBadRequest, fmt.Sprintf("[request query.overwrite]: expected value of type [boolean] but got [%s]", v))
			return
		}
		overwrite = b
	}
	ndjson, filename, err := importFile(r)
	if err != nil {
		kibanaError(w, http.StatusBadRequest, err.Error())
		return
	}
	if ext := path.Ext(filename); ext != ".ndjson" {
		kibanaError(w, http.StatusBadRequest, fmt.Sprintf("Invalid file extension %s", ext))
		return
	}
	objs, err := parseNDJSON(ndjson)
	if err != nil {
		kibanaError(w, http.StatusBadRequest, err.Error())
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	stored := s.objects[space]
	if stored == nil {
		stored = map[string]Object{}
		s.objects[space] = stored
	}
	inFile := map[string]bool{}
	for _, o := range objs {
		if o.Type != "" && o.ID != "" {
			inFile[o.Type+"/"+o.ID] = true
		}
	}
	successes := []importSuccess{}
	var errs []importError
	for _, o := range objs {
		meta := map[string]any{"title": title(o)}
		if icon, ok := knownTypes[o.Type]; ok {
			meta["icon"] = icon
		}
		fail := func(cause map[string]any) {
			errs = append(errs, importError{Type: o.Type, ID: o.ID, Title: title(o), Meta: meta, Error: cause})
		}
		if _, ok := knownTypes[o.Type]; !ok {
			fail(map[string]any{"type": "unsupported_type"})
			continue
		}
		if o.ID == "" {
			fail(map[string]any{"type": "unknown", "message": "saved object has no id", "statusCode": 400})
			continue
		}
		if len(o.Attributes) == 0 || o.Attributes[0] != '{' {
			fail(map[string]any{"type": "unknown", "message": "[attributes]: expected value of type [object]", "statusCode": 400})
			continue
		}
		if o.CoreMigrationVersion != "" && newer(o.CoreMigrationVersion, s.cfg.Version) {
			fail(map[string]any{"type": "unknown", "statusCode": 400, "message": fmt.Sprintf(
				"Document \"%s\" has property \"coreMigrationVersion\" which belongs to a more recent version of Kibana [%s]. The last known version is [%s]",
				o.ID, o.CoreMigrationVersion, s.cfg.Version)})
			continue
		}
		var missing []map[string]string
		for _, ref := range o.References {
			k := ref.Type + "/" + ref.ID
			if _, ok := stored[k]; !ok && !inFile[k] {
				missing = append(missing, map[string]string{"type": ref.Type, "id": ref.ID})
			}
		}
		if len(missing) > 0 {
			fail(map[string]any{"type": "missing_references", "references": missing})
			continue
		}
		k := o.Type + "/" + o.ID
		_, exists := stored[k]
		if exists && !overwrite {
			fail(map[string]any{"type": "conflict"})
			continue
		}
		o.Namespaces = []string{space}
		stored[k] = o
		successes = append(successes, importSuccess{Type: o.Type, ID: o.ID, Meta: meta, Overwrite: exists, Managed: o.Managed})
	}
	s.imports++
	answer := map[string]any{"success": len(errs) == 0, "successCount": len(successes), "successResults": successes, "warnings": []any{}}
	if len(errs) > 0 {
		answer["errors"] = errs
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(answer)
}

// importFile reads the multipart field "file".
func importFile(r *http.Request) ([]byte, string, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, "", errors.New("Unsupported Media Type: expected multipart/form-data with a boundary")
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	for parts := 0; ; parts++ {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) && parts == 0 {
			return nil, "", errors.New("invalid multipart body: no part delimited by the boundary")
		}
		if errors.Is(err, io.EOF) {
			return nil, "", errors.New("[request body.file]: expected value of type [object] but got [undefined]")
		}
		if err != nil {
			return nil, "", fmt.Errorf("invalid multipart body: %v", err)
		}
		if part.FormName() != "file" {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(part, 64<<20))
		if err != nil {
			return nil, "", fmt.Errorf("invalid multipart body: %v", err)
		}
		return data, part.FileName(), nil
	}
}

// parseNDJSON decodes the import file; a line that is not JSON fails the
// whole request, as in Kibana. The export summary line is skipped.
func parseNDJSON(data []byte) ([]Object, error) {
	var out []Object
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var probe map[string]json.RawMessage
		if err := json.Unmarshal(b, &probe); err != nil {
			return nil, fmt.Errorf("Unexpected token in JSON at line %d: %v", line, err)
		}
		if _, ok := probe["exportedCount"]; ok {
			continue
		}
		var o Object
		if err := json.Unmarshal(b, &o); err != nil {
			return nil, fmt.Errorf("invalid saved object at line %d: %v", line, err)
		}
		out = append(out, o)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the import file: %v", err)
	}
	return out, nil
}

// title is the title Kibana reports for an object.
func title(o Object) string {
	var a struct {
		Title string `json:"title"`
		Name  string `json:"name"`
	}
	_ = json.Unmarshal(o.Attributes, &a)
	if o.Type == "index-pattern" && a.Name != "" {
		return a.Name
	}
	return a.Title
}

// newer reports whether version a (x.y.z) is newer than b.
func newer(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < 3; i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			return x > y
		}
	}
	return false
}
