package estest

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// mgetItem is one document of a multi-get request.
type mgetItem struct {
	index, id       string
	hasIndex, hasID bool
	version         *int64         // nil: any version (every version type reads alike)
	source          *sourceContext // nil: the request's default
	storedFields    []string       // nil: none asked for
	hasStoredFields bool
}

// mgetParams are the URL parameters the multi-get API reads (RestMultiGetAction
// and the REST layer); any other parameter is refused.
var mgetParams = []string{
	"_source", "_source_excludes", "_source_includes", "error_trace", "fields", "filter_path",
	"force_synthetic_source", "format", "human", "index", "preference", "pretty", "realtime",
	"refresh", "routing", "stored_fields",
}

// mget serves GET|POST /_mget and /{index}/_mget. Documents are read in
// real time: a document is there as soon as its write was answered.
func (s *Server) mget(w http.ResponseWriter, r *http.Request, pathIndex string) {
	q := r.URL.Query()
	known := append([]string(nil), mgetParams...)
	if pathIndex == "" {
		// The path's {index} and the index parameter are one parameter.
		pathIndex = q.Get("index")
	}
	for _, name := range []string{"refresh", "realtime", "force_synthetic_source"} {
		on, e := boolParam(q, name)
		if e != nil {
			writeError(w, e)
			return
		}
		if on && name == "force_synthetic_source" {
			writeError(w, badRequest("illegal_argument_exception", "estest: force_synthetic_source is not supported"))
			return
		}
	}
	if q.Has("fields") {
		writeError(w, badRequest("illegal_argument_exception",
			"The parameter [fields] is no longer supported, please use [stored_fields] to retrieve stored fields or _source filtering if the field is not stored"))
		return
	}
	var storedFields []string
	hasStoredFields := q.Has("stored_fields")
	if hasStoredFields {
		storedFields = splitParam(q.Get("stored_fields"))
	}
	defSource := sourceFromParams(func(k string) (string, bool) { return q.Get(k), q.Has(k) })

	body, e := s.readBody(r)
	if e != nil {
		writeBodyError(w, e)
		return
	}
	if body == nil {
		// A GET may carry its body in the source parameter.
		if !q.Has("source") {
			writeError(w, badRequest("parse_exception", "request body or source parameter is required"))
			return
		}
		known = append(known, "source", "source_content_type")
		ct := q.Get("source_content_type")
		if !q.Has("source_content_type") {
			writeError(w, &esError{Status: http.StatusInternalServerError, Type: "illegal_state_exception",
				Reason: "source and source_content_type parameters are required"})
			return
		}
		if mt, _, _ := mime.ParseMediaType(ct); mt != "application/json" && mt != "application/vnd.elasticsearch+json" {
			writeError(w, &esError{Status: http.StatusInternalServerError, Type: "illegal_state_exception",
				Reason: fmt.Sprintf("Unknown value for source_content_type [%s]", ct)})
			return
		}
		body = []byte(q.Get("source"))
	}
	items, e := parseMget(body, pathIndex, storedFields, hasStoredFields, defSource)
	if e != nil {
		writeError(w, e)
		return
	}
	if e := unrecognizedParams(r, q, known); e != nil {
		writeError(w, e)
		return
	}
	var invalid []string
	for i, it := range items {
		if !it.hasIndex {
			invalid = append(invalid, fmt.Sprintf("index is missing for doc %d", i))
		}
		if !it.hasID {
			invalid = append(invalid, fmt.Sprintf("id is missing for doc %d", i))
		}
	}
	if len(items) == 0 {
		invalid = append(invalid, "no documents to get")
	}
	if len(invalid) > 0 {
		writeError(w, validationFailed(invalid))
		return
	}

	docs := make([]any, len(items))
	s.mu.Lock()
	s.counters.Mget++
	for i, it := range items {
		docs[i] = s.mgetOne(it)
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"docs": docs})
}

// mgetOne reads one document; the caller holds s.mu.
func (s *Server) mgetOne(it mgetItem) map[string]any {
	failure := func(e *esError) map[string]any {
		return map[string]any{"_index": it.index, "_id": it.id, "error": e.envelope()["error"]}
	}
	ix := s.indices[it.index]
	if ix == nil {
		// The multi-get resolves its indices as an index expression.
		e := indexNotFound(it.index)
		e.Extra["resource.type"] = "index_expression"
		return failure(e)
	}
	d := ix.docs[it.id]
	if d == nil {
		return map[string]any{"_index": ix.name, "_id": it.id, "found": false}
	}
	if it.version != nil && *it.version != d.version {
		return failure(&esError{Status: http.StatusConflict, Type: "version_conflict_engine_exception",
			Reason: fmt.Sprintf("[%s]: version conflict, current version [%d] is different than the one provided [%d]", it.id, d.version, *it.version),
			Extra:  map[string]any{"index": ix.name, "index_uuid": ix.uuid, "shard": "0"}})
	}
	o := d.getObject(ix.name)
	src := it.source
	if src == nil && it.hasStoredFields {
		// Asking for stored fields leaves _source out unless it is one of them.
		src = &sourceContext{}
		for _, f := range it.storedFields {
			if f == "_source" {
				src.fetch = true
			}
		}
	}
	switch {
	case src == nil:
	case !src.fetch:
		delete(o, "_source")
	case src.filtered():
		filtered, err := src.filter(d.source)
		if err != nil {
			return failure(&esError{Status: http.StatusInternalServerError, Type: "exception", Reason: err.Error()})
		}
		o["_source"] = filtered
	}
	return o
}

// parseMget parses a multi-get body: {"docs":[{...}, ...]} and/or
// {"ids":[...]}, as MultiGetRequest.add does.
func parseMget(body []byte, pathIndex string, storedFields []string, hasStoredFields bool, defSource *sourceContext) ([]mgetItem, *esError) {
	v, err := decodeOrdered(body)
	if err != nil {
		return nil, badRequest("x_content_parse_exception", "failed to parse the mget request: %v", err)
	}
	top, ok := v.(object)
	if !ok {
		return nil, parsing("unexpected token [%s], expected [START_OBJECT]", orderedToken(v))
	}
	newItem := func() mgetItem {
		return mgetItem{index: pathIndex, hasIndex: pathIndex != "", source: defSource,
			storedFields: storedFields, hasStoredFields: hasStoredFields}
	}
	var items []mgetItem
	for _, m := range top {
		arr, ok := m.value.([]any)
		if !ok {
			return nil, parsing("unexpected token [%s], expected [FIELD_NAME] or [START_ARRAY]", orderedToken(m.value))
		}
		switch m.name {
		case "docs":
			for _, e := range arr {
				doc, ok := e.(object)
				if !ok {
					return nil, badRequest("illegal_argument_exception", "docs array element should include an object")
				}
				it, err := parseMgetDoc(doc, newItem())
				if err != nil {
					return nil, err
				}
				items = append(items, it)
			}
		case "ids":
			for _, e := range arr {
				id, ok := scalarText(e)
				if !ok {
					return nil, badRequest("illegal_argument_exception", "ids array element should only contain ids")
				}
				it := newItem()
				it.id, it.hasID = id, true
				items = append(items, it)
			}
		default:
			return nil, parsing("unknown key [%s] for a START_ARRAY, expected [docs] or [ids]", m.name)
		}
	}
	return items, nil
}

// parseMgetDoc parses one element of "docs".
func parseMgetDoc(doc object, it mgetItem) (mgetItem, *esError) {
	var own *sourceContext // the document's own _source, replacing the default
	for _, m := range doc {
		switch m.name {
		case "_index", "_id", "routing", "version_type":
			text, ok := scalarText(m.value)
			if !ok {
				return it, unknownMgetField(m.name)
			}
			switch m.name {
			case "_index":
				it.index, it.hasIndex = text, true
			case "_id":
				it.id, it.hasID = text, true
			case "version_type":
				if _, e := parseVersionType(text); e != nil {
					return it, e
				}
			}
		case "version":
			n, e := longValue(m.value)
			if e != nil {
				return it, e
			}
			it.version = &n
		case "fields":
			return it, parsing("Unsupported field [fields] used, expected [stored_fields] instead")
		case "stored_fields":
			list, ok := textList(m.value)
			if !ok {
				return it, unknownMgetField(m.name)
			}
			it.storedFields, it.hasStoredFields = list, true
		case "_source":
			fetch := own == nil || own.fetch
			var excludes []string
			if own != nil {
				excludes = own.excludes
			}
			switch t := m.value.(type) {
			case bool:
				if own == nil {
					own = &sourceContext{fetch: t}
				} else {
					own = &sourceContext{fetch: t, includes: own.includes, excludes: own.excludes}
				}
			case string:
				own = &sourceContext{fetch: fetch, includes: []string{t}, excludes: excludes}
			case []any:
				list, ok := textList(t)
				if !ok {
					return it, badRequest("parse_exception", "failed to parse multi get request. unknown field [_source]")
				}
				own = &sourceContext{fetch: fetch, includes: list, excludes: excludes}
			case object:
				c := &sourceContext{fetch: fetch, includes: []string{}, excludes: []string{}}
				for _, sm := range t {
					var dst *[]string
					switch sm.name {
					case "includes", "include":
						dst = &c.includes
					case "excludes", "exclude":
						dst = &c.excludes
					default:
						return it, badRequest("parse_exception", "source definition may not contain [%s]", sm.name)
					}
					if text, ok := scalarText(sm.value); ok {
						*dst = append(*dst, text)
						continue
					}
					list, ok := textList(sm.value)
					if !ok {
						return it, badRequest("parse_exception", "unexpected token while parsing source settings")
					}
					*dst = append(*dst, list...)
				}
				own = c
			default:
				return it, badRequest("parse_exception", "illegal type for _source: [%s]", orderedToken(m.value))
			}
		default:
			return it, unknownMgetField(m.name)
		}
	}
	if own != nil {
		it.source = own
	}
	return it, nil
}

func unknownMgetField(name string) *esError {
	return badRequest("parse_exception", "failed to parse multi get request. unknown field [%s]", name)
}

// scalarText is a JSON scalar's text, as Elasticsearch's parser.text()
// reads it (a number stays as written, null reads "null").
func scalarText(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case json.Number:
		return t.String(), true
	case bool:
		return strconv.FormatBool(t), true
	case nil:
		return "null", true
	}
	return "", false
}

// textList reads an array of scalars as text.
func textList(v any) ([]string, bool) {
	arr, ok := v.([]any)
	if !ok {
		if text, ok := scalarText(v); ok {
			return []string{text}, true
		}
		return nil, false
	}
	out := make([]string, 0, len(arr))
	for _, e := range arr {
		text, ok := scalarText(e)
		if !ok {
			return nil, false
		}
		out = append(out, text)
	}
	return out, true
}

// longValue reads a version the way parser.longValue() does: numbers
// (truncated) and numeric strings.
func longValue(v any) (int64, *esError) {
	switch t := v.(type) {
	case json.Number:
		if n, err := t.Int64(); err == nil {
			return n, nil
		}
		if f, err := t.Float64(); err == nil {
			return int64(f), nil
		}
	case string:
		if n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64); err == nil {
			return n, nil
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(t), 64); err == nil {
			return int64(f), nil
		}
		return 0, badRequest("number_format_exception", "For input string: \"%s\"", t)
	}
	return 0, badRequest("x_content_parse_exception",
		"Current token (%s) not numeric, can not use numeric value accessors", orderedToken(v))
}

// orderedToken names a value from decodeOrdered as a parser token.
func orderedToken(v any) string {
	if _, ok := v.(object); ok {
		return "START_OBJECT"
	}
	return token(v)
}

// validationFailed is an action_request_validation_exception listing
// every problem, as ValidateActions builds it.
func validationFailed(reasons []string) *esError {
	var b strings.Builder
	b.WriteString("Validation Failed: ")
	for i, v := range reasons {
		fmt.Fprintf(&b, "%d: %s;", i+1, v)
	}
	return badRequest("action_request_validation_exception", "%s", b.String())
}

// boolParam reads a boolean URL parameter as RestRequest.paramAsBoolean
// does: absent is false, empty is true, anything but true/false fails.
func boolParam(q url.Values, name string) (bool, *esError) {
	if !q.Has(name) {
		return false, nil
	}
	switch v := q.Get(name); v {
	case "", "true":
		return true, nil
	case "false":
		return false, nil
	default:
		return false, badRequest("illegal_argument_exception",
			"Failed to parse value [%s] as only [true] or [false] are allowed.", v)
	}
}

// unrecognizedParams refuses URL parameters the API does not read, with
// Elasticsearch's message and its "did you mean" suggestions.
func unrecognizedParams(r *http.Request, q url.Values, known []string) *esError {
	isKnown := make(map[string]bool, len(known))
	for _, k := range known {
		isKnown[k] = true
	}
	var unknown []string
	for k := range q {
		if !isKnown[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	var b strings.Builder
	plural := ""
	if len(unknown) > 1 {
		plural = "s"
	}
	fmt.Fprintf(&b, "request [%s] contains unrecognized parameter%s: ", r.URL.EscapedPath(), plural)
	for i, u := range unknown {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "[%s]", u)
		type scored struct {
			d    float32
			name string
		}
		var close []scored
		for _, k := range known {
			if d := levenshteinSimilarity(u, k); d > 0.5 {
				close = append(close, scored{d, k})
			}
		}
		sort.Slice(close, func(i, j int) bool {
			if close[i].d != close[j].d {
				return close[i].d > close[j].d
			}
			return close[i].name < close[j].name
		})
		switch len(close) {
		case 0:
		case 1:
			fmt.Fprintf(&b, " -> did you mean [%s]?", close[0].name)
		default:
			names := make([]string, len(close))
			for i, c := range close {
				names[i] = c.name
			}
			fmt.Fprintf(&b, " -> did you mean any of [%s]?", strings.Join(names, ", "))
		}
	}
	return badRequest("illegal_argument_exception", "%s", b.String())
}

// levenshteinSimilarity is Lucene's LevenshteinDistance.getDistance: 1
// minus the edit distance over the longer length.
func levenshteinSimilarity(a, b string) float32 {
	ra, rb := []rune(a), []rune(b)
	if len(ra) == 0 || len(rb) == 0 {
		if len(ra) == len(rb) {
			return 1
		}
		return 0
	}
	p := make([]int, len(ra)+1)
	d := make([]int, len(ra)+1)
	for i := range p {
		p[i] = i
	}
	for j := 1; j <= len(rb); j++ {
		d[0] = j
		for i := 1; i <= len(ra); i++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i] = min(d[i-1]+1, p[i]+1, p[i-1]+cost)
		}
		p, d = d, p
	}
	return 1 - float32(p[len(ra)])/float32(max(len(ra), len(rb)))
}
