package estest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// maxBody is Elasticsearch's default http.max_content_length (100mb).
const maxBody = 100 << 20

// route dispatches a request to its API, like Elasticsearch's REST layer.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	segs, err := pathSegments(r.URL)
	if err != nil {
		writeError(w, badRequest("illegal_argument_exception", "invalid path [%s]: %v", r.URL.EscapedPath(), err))
		return
	}
	switch len(segs) {
	case 0:
		if allow(w, r, http.MethodGet, http.MethodHead) {
			s.info(w, r)
		}
		return
	case 1:
		switch segs[0] {
		case "_bulk":
			if allow(w, r, http.MethodPost, http.MethodPut) {
				s.bulk(w, r, "")
			}
		case "_search":
			if allow(w, r, http.MethodGet, http.MethodPost) {
				s.search(w, r, "")
			}
		case "_count":
			if allow(w, r, http.MethodGet, http.MethodPost) {
				s.count(w, r, "")
			}
		case "_refresh":
			if allow(w, r, http.MethodGet, http.MethodPost) {
				s.refresh(w, "")
			}
		case "_mget":
			if allow(w, r, http.MethodGet, http.MethodPost) {
				s.mget(w, r, "")
			}
		case "_mapping":
			if allow(w, r, http.MethodGet) {
				s.getMapping(w, "")
			}
		case "_index_template", "_component_template":
			if allow(w, r, http.MethodGet) {
				s.getTemplates(w, segs[0], "*")
			}
		case "_ilm":
			noHandler(w, r)
		default:
			if strings.HasPrefix(segs[0], "_") {
				noHandler(w, r)
				return
			}
			s.indexAPI(w, r, segs[0])
		}
		return
	case 2:
		switch {
		case segs[0] == "_index_template" || segs[0] == "_component_template":
			s.templateAPI(w, r, segs[0], segs[1])
			return
		case segs[0] == "_ilm" && segs[1] == "policy":
			s.ilmAPI(w, r, "")
			return
		case segs[0] == "_cluster" && segs[1] == "health":
			if allow(w, r, http.MethodGet) {
				s.health(w)
			}
			return
		case strings.HasPrefix(segs[0], "_"):
			noHandler(w, r)
			return
		}
		switch segs[1] {
		case "_bulk":
			if allow(w, r, http.MethodPost, http.MethodPut) {
				s.bulk(w, r, segs[0])
			}
		case "_search":
			if allow(w, r, http.MethodGet, http.MethodPost) {
				s.search(w, r, segs[0])
			}
		case "_count":
			if allow(w, r, http.MethodGet, http.MethodPost) {
				s.count(w, r, segs[0])
			}
		case "_refresh":
			if allow(w, r, http.MethodGet, http.MethodPost) {
				s.refresh(w, segs[0])
			}
		case "_mget":
			if allow(w, r, http.MethodGet, http.MethodPost) {
				s.mget(w, r, segs[0])
			}
		case "_mapping":
			if allow(w, r, http.MethodGet) {
				s.getMapping(w, segs[0])
			}
		case "_doc":
			if allow(w, r, http.MethodPost) {
				s.putDoc(w, r, segs[0], "", false)
			}
		default:
			noHandler(w, r)
		}
		return
	case 3:
		if segs[0] == "_ilm" && segs[1] == "policy" {
			s.ilmAPI(w, r, segs[2])
			return
		}
		if strings.HasPrefix(segs[0], "_") {
			noHandler(w, r)
			return
		}
		s.docAPI(w, r, segs[0], segs[1], segs[2])
		return
	}
	noHandler(w, r)
}

// pathSegments splits the escaped path and unescapes each segment, so an
// id containing "/" (sent as %2F) stays one segment.
func pathSegments(u *url.URL) ([]string, error) {
	var segs []string
	for _, p := range strings.Split(u.EscapedPath(), "/") {
		if p == "" {
			continue
		}
		seg, err := url.PathUnescape(p)
		if err != nil {
			return nil, err
		}
		segs = append(segs, seg)
	}
	return segs, nil
}

func allow(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	writeError(w, &esError{Status: http.StatusMethodNotAllowed, Type: "illegal_argument_exception",
		Reason: fmt.Sprintf("Incorrect HTTP method for uri [%s] and method [%s], allowed: [%s]",
			r.URL.RequestURI(), r.Method, strings.Join(methods, ", "))})
	return false
}

func noHandler(w http.ResponseWriter, r *http.Request) {
	writeError(w, badRequest("illegal_argument_exception", "no handler found for uri [%s] and method [%s]",
		r.URL.RequestURI(), r.Method))
}

// readBody reads the request body, gunzipping it when it is gzip-encoded,
// and checks its Content-Type as Elasticsearch does.
func (s *Server) readBody(r *http.Request) ([]byte, *esError) {
	var src io.Reader = r.Body
	if strings.Contains(strings.ToLower(r.Header.Get("Content-Encoding")), "gzip") {
		s.mu.Lock()
		s.counters.Gzip++
		s.mu.Unlock()
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, badRequest("parse_exception", "failed to decompress the gzip request body: %v", err)
		}
		defer zr.Close()
		src = zr
	}
	body, err := io.ReadAll(io.LimitReader(src, maxBody+1))
	if err != nil {
		return nil, badRequest("parse_exception", "failed to read the request body: %v", err)
	}
	if len(body) > maxBody {
		return nil, &esError{Status: http.StatusRequestEntityTooLarge, Type: "content_too_long_exception",
			Reason: fmt.Sprintf("request body is larger than http.max_content_length [%d]", maxBody)}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	ct := r.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	switch mt {
	case "application/json", "application/x-ndjson",
		"application/vnd.elasticsearch+json", "application/vnd.elasticsearch+x-ndjson":
		return body, nil
	}
	// Elasticsearch's answer here has a plain-string "error".
	return nil, &esError{Status: http.StatusNotAcceptable, Type: "", Reason: fmt.Sprintf("Content-Type header [%s] is not supported", ct)}
}

// writeBodyError writes an error from readBody; a Content-Type refusal has
// Elasticsearch's special plain-string shape.
func writeBodyError(w http.ResponseWriter, e *esError) {
	if e.Status == http.StatusNotAcceptable {
		writeJSON(w, e.Status, map[string]any{"error": e.Reason, "status": e.Status})
		return
	}
	writeError(w, e)
}

// decodeObject parses a JSON object keeping numbers as json.Number, and
// refuses trailing data.
func decodeObject(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("unexpected data after the JSON object at offset %d", dec.InputOffset())
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("unexpected data after the JSON object at offset %d", dec.InputOffset())
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("expected a JSON object, found %s", jsonKind(v))
	}
	return m, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func (s *Server) info(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"name":         "estest-node-0",
		"cluster_name": "estest",
		"cluster_uuid": "eStEsTcLuStEr0000000aa",
		"version": map[string]any{
			"number":                              "8.15.0",
			"build_flavor":                        "default",
			"build_type":                          "docker",
			"build_hash":                          "0000000000000000000000000000000000000000",
			"build_date":                          "2024-08-05T10:05:34.233336849Z",
			"build_snapshot":                      false,
			"lucene_version":                      "9.11.1",
			"minimum_wire_compatibility_version":  "7.17.0",
			"minimum_index_compatibility_version": "7.0.0",
		},
		"tagline": "You Know, for Search",
	})
}

func (s *Server) health(w http.ResponseWriter) {
	s.mu.Lock()
	n := len(s.indices)
	s.mu.Unlock()
	status := "green"
	if n > 0 {
		status = "yellow" // one node: replicas stay unassigned
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"cluster_name": "estest", "status": status, "timed_out": false,
		"number_of_nodes": 1, "number_of_data_nodes": 1,
		"active_primary_shards": n, "active_shards": n, "relocating_shards": 0,
		"initializing_shards": 0, "unassigned_shards": n, "delayed_unassigned_shards": 0,
		"number_of_pending_tasks": 0, "number_of_in_flight_fetch": 0,
		"task_max_waiting_in_queue_millis": 0, "active_shards_percent_as_number": 100.0,
	})
}

// indexAPI serves PUT/GET/HEAD/DELETE /{index}.
func (s *Server) indexAPI(w http.ResponseWriter, r *http.Request, name string) {
	if !allow(w, r, http.MethodPut, http.MethodGet, http.MethodHead, http.MethodDelete) {
		return
	}
	switch r.Method {
	case http.MethodPut:
		body, e := s.readBody(r)
		if e != nil {
			writeBodyError(w, e)
			return
		}
		s.mu.Lock()
		e = s.createIndex(name, body)
		s.mu.Unlock()
		if e != nil {
			writeError(w, e)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"acknowledged": true, "shards_acknowledged": true, "index": name})
	case http.MethodHead:
		s.mu.Lock()
		found, _ := s.resolve(name, false)
		s.mu.Unlock()
		if len(found) == 0 {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusOK)
	case http.MethodGet:
		s.mu.Lock()
		defer s.mu.Unlock()
		found, e := s.resolve(name, false)
		if e != nil {
			writeError(w, e)
			return
		}
		out := make(map[string]any, len(found))
		for _, ix := range found {
			out[ix.name] = map[string]any{
				"aliases":  map[string]any{},
				"mappings": ix.mappingJSON(),
				"settings": ix.settingsJSON(),
			}
		}
		writeJSON(w, http.StatusOK, out)
	case http.MethodDelete:
		s.mu.Lock()
		defer s.mu.Unlock()
		found, e := s.resolve(name, false)
		if e != nil {
			writeError(w, e)
			return
		}
		for _, ix := range found {
			delete(s.indices, ix.name)
		}
		writeJSON(w, http.StatusOK, map[string]any{"acknowledged": true})
	}
}

func (s *Server) refresh(w http.ResponseWriter, expr string) {
	s.mu.Lock()
	found, e := s.resolve(expr, false)
	s.mu.Unlock()
	if e != nil {
		writeError(w, e)
		return
	}
	// Documents are searchable as soon as they are written, so a refresh
	// has nothing to do.
	n := len(found)
	writeJSON(w, http.StatusOK, map[string]any{"_shards": map[string]any{"total": 2 * n, "successful": n, "failed": 0}})
}

func (s *Server) getMapping(w http.ResponseWriter, expr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	found, e := s.resolve(expr, false)
	if e != nil {
		writeError(w, e)
		return
	}
	out := make(map[string]any, len(found))
	for _, ix := range found {
		out[ix.name] = map[string]any{"mappings": ix.mappingJSON()}
	}
	writeJSON(w, http.StatusOK, out)
}

// templateAPI serves /_index_template/{name} and /_component_template/{name}.
func (s *Server) templateAPI(w http.ResponseWriter, r *http.Request, kind, name string) {
	if !allow(w, r, http.MethodPut, http.MethodPost, http.MethodGet, http.MethodHead, http.MethodDelete) {
		return
	}
	switch r.Method {
	case http.MethodGet:
		s.getTemplates(w, kind, name)
	case http.MethodHead:
		s.mu.Lock()
		n := len(matchTemplates(s.templates(kind), name))
		s.mu.Unlock()
		if n == 0 {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusOK)
	case http.MethodDelete:
		s.mu.Lock()
		defer s.mu.Unlock()
		names := matchTemplates(s.templates(kind), name)
		if len(names) == 0 {
			writeError(w, templateNotFound(kind, name))
			return
		}
		for _, n := range names {
			delete(s.templates(kind), n)
		}
		writeJSON(w, http.StatusOK, map[string]any{"acknowledged": true})
	default:
		body, e := s.readBody(r)
		if e != nil {
			writeBodyError(w, e)
			return
		}
		s.mu.Lock()
		e = s.putTemplate(kind, name, body)
		if e == nil {
			s.counters.TemplateWrites++
		}
		s.mu.Unlock()
		if e != nil {
			writeError(w, e)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"acknowledged": true})
	}
}

func (s *Server) templates(kind string) map[string]json.RawMessage {
	if kind == "_component_template" {
		return s.componentTemplates
	}
	return s.indexTemplates
}

func templateNotFound(kind, name string) *esError {
	what := "index template"
	if kind == "_component_template" {
		what = "component template"
	}
	return &esError{Status: http.StatusNotFound, Type: "resource_not_found_exception",
		Reason: fmt.Sprintf("%s matching [%s] not found", what, name)}
}

// matchTemplates lists the stored template names matching a comma-separated
// list of names or wildcard patterns, sorted.
func matchTemplates(m map[string]json.RawMessage, expr string) []string {
	var out []string
	for n := range m {
		for _, p := range strings.Split(expr, ",") {
			if glob(p, n) {
				out = append(out, n)
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

func (s *Server) getTemplates(w http.ResponseWriter, kind, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := matchTemplates(s.templates(kind), name)
	if len(names) == 0 && !strings.Contains(name, "*") {
		writeError(w, templateNotFound(kind, name))
		return
	}
	list := make([]any, 0, len(names))
	key, field := "index_templates", "index_template"
	if kind == "_component_template" {
		key, field = "component_templates", "component_template"
	}
	for _, n := range names {
		list = append(list, map[string]any{"name": n, field: s.templates(kind)[n]})
	}
	writeJSON(w, http.StatusOK, map[string]any{key: list})
}

// putTemplate validates and stores a template; the caller holds s.mu.
func (s *Server) putTemplate(kind, name string, body []byte) *esError {
	if body == nil {
		return badRequest("parse_exception", "request body is required")
	}
	doc, err := decodeObject(body)
	if err != nil {
		return badRequest("x_content_parse_exception", "failed to parse the %s body: %v", kind[1:], err)
	}
	tmpl, _ := doc["template"].(map[string]any)
	if kind == "_component_template" {
		if tmpl == nil {
			return badRequest("action_request_validation_exception", "Validation Failed: 1: template is missing;")
		}
	} else {
		if _, err := stringList(doc["index_patterns"]); err != nil || doc["index_patterns"] == nil {
			return badRequest("action_request_validation_exception", "Validation Failed: 1: index patterns are missing;")
		}
		comps, err := stringList(doc["composed_of"])
		if err != nil {
			return badRequest("x_content_parse_exception", "[composed_of] %v", err)
		}
		var missing []string
		for _, c := range comps {
			if _, ok := s.componentTemplates[c]; !ok {
				missing = append(missing, c)
			}
		}
		if len(missing) > 0 {
			return badRequest("invalid_index_template_exception",
				"index_template [%s] invalid, cause [index template [%s] specifies component templates %v that do not exist]", name, name, missing)
		}
	}
	if tmpl != nil {
		if m, ok := tmpl["mappings"].(map[string]any); ok {
			if _, e := parseMappings(m); e != nil {
				return e
			}
		}
	}
	s.templates(kind)[name] = append(json.RawMessage(nil), body...)
	return nil
}

// stringList reads a JSON string or array of strings.
func stringList(v any) ([]string, error) {
	switch t := v.(type) {
	case nil:
		return nil, nil
	case string:
		return []string{t}, nil
	case []any:
		out := make([]string, 0, len(t))
		for _, e := range t {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("expected strings, found %s", jsonKind(e))
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("expected a string or an array of strings, found %s", jsonKind(v))
}

// glob matches name against a pattern in which "*" matches any run of
// characters, as index patterns do.
func glob(pattern, name string) bool {
	if !strings.Contains(pattern, "*") {
		return pattern == name
	}
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(name, parts[0]) {
		return false
	}
	name = name[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(name, p)
		if i < 0 {
			return false
		}
		name = name[i+len(p):]
	}
	return len(name) >= len(last) && strings.HasSuffix(name, last)
}

// resolve turns an index expression ("", "_all", "a,b", "vigil-*") into
// the existing indices it names, sorted by name. A concrete name that does
// not exist is an error unless ignoreMissing; wildcards may match nothing.
// The caller holds s.mu.
func (s *Server) resolve(expr string, ignoreMissing bool) ([]*index, *esError) {
	if expr == "" || expr == "_all" {
		expr = "*"
	}
	seen := make(map[string]bool)
	var out []*index
	for _, p := range strings.Split(expr, ",") {
		if !strings.Contains(p, "*") {
			ix := s.indices[p]
			if ix == nil {
				if ignoreMissing {
					continue
				}
				return nil, indexNotFound(p)
			}
			if !seen[p] {
				seen[p] = true
				out = append(out, ix)
			}
			continue
		}
		for n, ix := range s.indices {
			// Wildcards skip hidden indices unless the pattern names them.
			if strings.HasPrefix(n, ".") && !strings.HasPrefix(p, ".") {
				continue
			}
			if glob(p, n) && !seen[n] {
				seen[n] = true
				out = append(out, ix)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}
