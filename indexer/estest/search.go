package estest

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// query decides whether a document of an index matches.
type query func(ix *index, d *storedDoc) bool

// searchRequest is a parsed _search or _count request.
type searchRequest struct {
	query          query
	size, from     int
	sort           []sortKey
	source         bool
	version, seqNo bool
	trackTotal     int // cap on hits.total; -1 exact, 0 omitted
	totalAsInt     bool
}

type sortKey struct {
	field        string
	desc         bool
	unmappedType string
	missingFirst bool
}

const maxResultWindow = 10000

func searchFailed(cause *esError) *esError {
	return &esError{Status: http.StatusBadRequest, Type: "search_phase_execution_exception",
		Reason: "all shards failed", Cause: cause}
}

func parsing(format string, args ...any) *esError {
	return badRequest("parsing_exception", format, args...)
}

// search serves GET|POST /_search and /{index}/_search.
func (s *Server) search(w http.ResponseWriter, r *http.Request, expr string) {
	req, e := s.parseSearch(r, true)
	if e != nil {
		writeBodyError(w, e)
		return
	}
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	indices, e := s.resolve(expr, q.Get("ignore_unavailable") == "true")
	if e != nil {
		writeError(w, e)
		return
	}
	if e := checkSort(indices, req.sort); e != nil {
		writeError(w, e)
		return
	}
	type hit struct {
		ix   *index
		d    *storedDoc
		keys []sortValue
	}
	var hits []hit
	for _, ix := range indices {
		for _, d := range ix.docs {
			if req.query(ix, d) {
				h := hit{ix: ix, d: d}
				for _, k := range req.sort {
					h.keys = append(h.keys, sortValueOf(ix, d, k))
				}
				hits = append(hits, h)
			}
		}
	}
	sort.SliceStable(hits, func(i, j int) bool {
		for k, key := range req.sort {
			if c := compareSort(hits[i].keys[k], hits[j].keys[k], key); c != 0 {
				return c < 0
			}
		}
		if hits[i].ix.order != hits[j].ix.order {
			return hits[i].ix.order < hits[j].ix.order
		}
		return hits[i].d.order < hits[j].d.order
	})
	total := len(hits)
	from := min(req.from, len(hits))
	to := min(from+req.size, len(hits))
	out := make([]any, 0, to-from)
	for _, h := range hits[from:to] {
		o := map[string]any{"_index": h.ix.name, "_id": h.d.id, "_score": 1.0}
		if req.source {
			o["_source"] = h.d.source
		}
		if req.version {
			o["_version"] = h.d.version
		}
		if req.seqNo {
			o["_seq_no"], o["_primary_term"] = h.d.seqNo, 1
		}
		if len(req.sort) > 0 {
			o["_score"] = nil
			vals := make([]any, len(h.keys))
			for i, k := range h.keys {
				vals[i] = k.out
			}
			o["sort"] = vals
		}
		out = append(out, o)
	}
	hitsObj := map[string]any{"hits": out}
	switch {
	case len(req.sort) > 0 || total == 0:
		hitsObj["max_score"] = nil
	default:
		hitsObj["max_score"] = 1.0
	}
	if req.trackTotal != 0 {
		value, relation := total, "eq"
		if req.trackTotal > 0 && total > req.trackTotal {
			value, relation = req.trackTotal, "gte"
		}
		if req.totalAsInt {
			hitsObj["total"] = value
		} else {
			hitsObj["total"] = map[string]any{"value": value, "relation": relation}
		}
	}
	s.counters.Search++
	writeJSON(w, http.StatusOK, map[string]any{
		"took": 1, "timed_out": false,
		"_shards": map[string]any{"total": len(indices), "successful": len(indices), "skipped": 0, "failed": 0},
		"hits":    hitsObj,
	})
}

// count serves GET|POST /_count and /{index}/_count.
func (s *Server) count(w http.ResponseWriter, r *http.Request, expr string) {
	req, e := s.parseSearch(r, false)
	if e != nil {
		writeBodyError(w, e)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	indices, e := s.resolve(expr, r.URL.Query().Get("ignore_unavailable") == "true")
	if e != nil {
		writeError(w, e)
		return
	}
	n := 0
	for _, ix := range indices {
		for _, d := range ix.docs {
			if req.query(ix, d) {
				n++
			}
		}
	}
	s.counters.Search++
	writeJSON(w, http.StatusOK, map[string]any{"count": n,
		"_shards": map[string]any{"total": len(indices), "successful": len(indices), "skipped": 0, "failed": 0}})
}

// parseSearch reads the request body and URL parameters of a search
// (full) or count (query only) request.
func (s *Server) parseSearch(r *http.Request, full bool) (*searchRequest, *esError) {
	req := &searchRequest{query: matchAll, size: 10, source: true, trackTotal: maxResultWindow}
	body, e := s.readBody(r)
	if e != nil {
		return nil, e
	}
	if body != nil {
		doc, err := decodeObject(body)
		if err != nil {
			return nil, parsing("failed to parse the search request: %v", err)
		}
		for _, k := range sortedKeys(doc) {
			v := doc[k]
			var e *esError
			switch {
			case k == "query":
				req.query, e = compileQuery(v)
			case !full:
				e = parsing("request does not support [%s]", k)
			case k == "size" || k == "from":
				n, ok := intValue(v)
				if !ok || n < 0 {
					e = parsing("[%s] must be a non-negative integer, found %s", k, preview(v))
				} else if k == "size" {
					req.size = n
				} else {
					req.from = n
				}
			case k == "sort":
				req.sort, e = parseSort(v)
			case k == "_source":
				b, isBool := v.(bool)
				req.source = !isBool || b
			case k == "track_total_hits":
				req.trackTotal, e = parseTrackTotal(v)
			case k == "version" || k == "seq_no_primary_term":
				b, _ := v.(bool)
				if k == "version" {
					req.version = b
				} else {
					req.seqNo = b
				}
			case k == "timeout" || k == "min_score" || k == "stored_fields" || k == "explain":
			case k == "aggs" || k == "aggregations":
				e = badRequest("illegal_argument_exception", "estest: aggregations are not supported")
			default:
				e = parsing("Unknown key for a %s in [%s].", token(v), k)
			}
			if e != nil {
				return nil, e
			}
		}
	}
	q := r.URL.Query()
	if q.Has("q") {
		return nil, badRequest("illegal_argument_exception", "estest: the q= query string parameter is not supported; send a query body")
	}
	if !full {
		return req, nil
	}
	if e := req.applyParams(q); e != nil {
		return nil, e
	}
	if req.from+req.size > maxResultWindow {
		return nil, searchFailed(badRequest("illegal_argument_exception",
			"Result window is too large, from + size must be less than or equal to: [%d] but was [%d]. See the scroll api for a more efficient way to request large data sets. This limit can be set by changing the [index.max_result_window] index level setting.",
			maxResultWindow, req.from+req.size))
	}
	return req, nil
}

func (req *searchRequest) applyParams(q url.Values) *esError {
	for _, name := range []string{"size", "from"} {
		if v := q.Get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return badRequest("illegal_argument_exception", "Failed to parse int parameter [%s] with value [%s]", name, v)
			}
			if name == "size" {
				req.size = n
			} else {
				req.from = n
			}
		}
	}
	if v := q.Get("sort"); v != "" {
		req.sort = nil
		for _, part := range strings.Split(v, ",") {
			field, order, _ := strings.Cut(part, ":")
			req.sort = append(req.sort, sortKey{field: field, desc: order == "desc" || (order == "" && field == "_score")})
		}
	}
	if v := q.Get("track_total_hits"); v != "" {
		var e *esError
		if req.trackTotal, e = parseTrackTotal(v); e != nil {
			return e
		}
	}
	req.totalAsInt = q.Get("rest_total_hits_as_int") == "true"
	if q.Get("_source") == "false" {
		req.source = false
	}
	return nil
}

func parseTrackTotal(v any) (int, *esError) {
	switch t := v.(type) {
	case bool:
		if t {
			return -1, nil
		}
		return 0, nil
	case string:
		switch t {
		case "true":
			return -1, nil
		case "false":
			return 0, nil
		}
	}
	if n, ok := intValue(v); ok && n >= 0 {
		return n, nil
	}
	return 0, parsing("[track_total_hits] must be a boolean or a non-negative integer, found %s", preview(v))
}

func intValue(v any) (int, bool) {
	switch t := v.(type) {
	case json.Number:
		n, err := strconv.Atoi(string(t))
		return n, err == nil
	case string:
		n, err := strconv.Atoi(t)
		return n, err == nil
	}
	return 0, false
}

func matchAll(*index, *storedDoc) bool  { return true }
func matchNone(*index, *storedDoc) bool { return false }

// compileQuery compiles the query DSL subset: match_all, match_none, term,
// terms, match, prefix, range, exists, ids and bool.
func compileQuery(v any) (query, *esError) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, parsing("[_na] query malformed, must start with start_object")
	}
	if len(m) != 1 {
		return nil, parsing("[_na] query malformed, expected exactly one query but found %d", len(m))
	}
	var name string
	var body any
	for name, body = range m {
	}
	switch name {
	case "match_all":
		return matchAll, nil
	case "match_none":
		return matchNone, nil
	case "term", "prefix":
		field, val, opts, e := singleField(name, body, "value")
		if e != nil {
			return nil, e
		}
		ci, _ := opts["case_insensitive"].(bool)
		if name == "prefix" {
			return func(ix *index, d *storedDoc) bool { return anyValue(ix, d, field, prefixMatcher(val, ci)) }, nil
		}
		return func(ix *index, d *storedDoc) bool { return anyValue(ix, d, field, termMatcher(val, ci)) }, nil
	case "terms":
		obj, ok := body.(map[string]any)
		if !ok {
			return nil, parsing("[terms] query malformed, no start_object after query name")
		}
		var field string
		var list []any
		for k, fv := range obj {
			if k == "boost" || k == "_name" {
				continue
			}
			if field != "" {
				return nil, parsing("[terms] query does not support multiple fields")
			}
			arr, ok := fv.([]any)
			if !ok {
				return nil, parsing("[terms] query does not support [%s]", k)
			}
			field, list = k, arr
		}
		if field == "" {
			return nil, parsing("[terms] query requires a field")
		}
		return func(ix *index, d *storedDoc) bool {
			for _, want := range list {
				if anyValue(ix, d, field, termMatcher(want, false)) {
					return true
				}
			}
			return false
		}, nil
	case "match":
		field, val, opts, e := singleField(name, body, "query")
		if e != nil {
			return nil, e
		}
		and := strings.EqualFold(fmt.Sprint(opts["operator"]), "and")
		return func(ix *index, d *storedDoc) bool { return matchText(ix, d, field, val, and) }, nil
	case "match_phrase":
		field, val, _, e := singleField(name, body, "query")
		if e != nil {
			return nil, e
		}
		return func(ix *index, d *storedDoc) bool { return matchPhrase(ix, d, field, val) }, nil
	case "range":
		field, _, opts, e := singleField(name, body, "")
		if e != nil {
			return nil, e
		}
		return compileRange(field, opts)
	case "exists":
		obj, _ := body.(map[string]any)
		field, ok := obj["field"].(string)
		if !ok {
			return nil, parsing("[exists] must be provided with a [field]")
		}
		return func(ix *index, d *storedDoc) bool {
			path, typ := fieldInfo(ix, field)
			return typ != "" && len(values(d.parsed, path)) > 0
		}, nil
	case "ids":
		obj, _ := body.(map[string]any)
		list, err := stringList(obj["values"])
		if err != nil {
			return nil, parsing("[ids] %v", err)
		}
		set := make(map[string]bool, len(list))
		for _, id := range list {
			set[id] = true
		}
		return func(_ *index, d *storedDoc) bool { return set[d.id] }, nil
	case "bool":
		return compileBool(body)
	}
	return nil, parsing("unknown query [%s]", name)
}

// singleField reads {"field": value} or {"field": {"<key>": value, ...}}
// and returns the field, the value and the options object.
func singleField(name string, body any, key string) (string, any, map[string]any, *esError) {
	obj, ok := body.(map[string]any)
	if !ok {
		return "", nil, nil, parsing("[%s] query malformed, no start_object after query name", name)
	}
	var field string
	var fv any
	for k, v := range obj {
		if k == "boost" || k == "_name" {
			continue
		}
		if field != "" {
			return "", nil, nil, parsing("[%s] query doesn't support multiple fields, found [%s] and [%s]", name, field, k)
		}
		field, fv = k, v
	}
	if field == "" {
		return "", nil, nil, parsing("[%s] query requires a field", name)
	}
	opts, isObj := fv.(map[string]any)
	if !isObj {
		if key == "" {
			return "", nil, nil, parsing("[%s] query malformed, no start_object after field name [%s]", name, field)
		}
		return field, fv, map[string]any{}, nil
	}
	if key == "" {
		return field, nil, opts, nil
	}
	val, ok := opts[key]
	if !ok {
		return "", nil, nil, parsing("[%s] query for field [%s] requires [%s]", name, field, key)
	}
	return field, val, opts, nil
}

func compileBool(body any) (query, *esError) {
	obj, ok := body.(map[string]any)
	if !ok {
		return nil, parsing("[bool] query malformed, no start_object after query name")
	}
	var must, mustNot, should []query
	minShould := -1
	for k, v := range obj {
		var dst *[]query
		switch k {
		case "must", "filter":
			dst = &must
		case "must_not":
			dst = &mustNot
		case "should":
			dst = &should
		case "minimum_should_match":
			n, ok := intValue(v)
			if !ok {
				return nil, parsing("[bool] estest supports only an integer minimum_should_match, found %s", preview(v))
			}
			minShould = n
			continue
		case "boost", "_name", "adjust_pure_negative":
			continue
		default:
			return nil, parsing("[bool] query does not support [%s]", k)
		}
		clauses, isList := v.([]any)
		if !isList {
			clauses = []any{v}
		}
		for _, c := range clauses {
			q, e := compileQuery(c)
			if e != nil {
				return nil, e
			}
			*dst = append(*dst, q)
		}
	}
	if minShould < 0 {
		minShould = 0
		if len(must) == 0 && len(should) > 0 {
			minShould = 1
		}
	}
	return func(ix *index, d *storedDoc) bool {
		for _, q := range must {
			if !q(ix, d) {
				return false
			}
		}
		for _, q := range mustNot {
			if q(ix, d) {
				return false
			}
		}
		n := 0
		for _, q := range should {
			if n >= minShould {
				break
			}
			if q(ix, d) {
				n++
			}
		}
		return n >= minShould
	}, nil
}

// fieldInfo returns where a queried field's values live in _source and
// its type in ix; "" when the index does not map it (such a field matches
// nothing, as in Elasticsearch). A multi-field ("x.keyword") reads its
// parent's values.
func fieldInfo(ix *index, field string) (path, typ string) {
	if parent, ok := ix.multi[field]; ok {
		return parent, ix.fields[field]
	}
	return field, ix.fields[field]
}

// anyValue reports whether any value of field in d satisfies pred.
func anyValue(ix *index, d *storedDoc, field string, pred func(cat string, v any) bool) bool {
	switch field {
	case "_id":
		return pred("keyword", d.id)
	case "_index":
		return pred("keyword", ix.name)
	}
	path, typ := fieldInfo(ix, field)
	if typ == "" {
		return false
	}
	cat := category(typ)
	for _, v := range values(d.parsed, path) {
		if pred(cat, v) {
			return true
		}
	}
	return false
}

// values collects the values at a dotted path, through arrays and through
// keys that themselves contain dots.
func values(doc map[string]any, path string) []any {
	var out []any
	var walk func(v any, rest string)
	walk = func(v any, rest string) {
		switch t := v.(type) {
		case nil:
			return
		case []any:
			for _, e := range t {
				walk(e, rest)
			}
			return
		case map[string]any:
			if rest == "" {
				out = append(out, t)
				return
			}
			for i := 0; i <= len(rest); i++ {
				if i == len(rest) || rest[i] == '.' {
					if sub, ok := t[rest[:i]]; ok {
						next := ""
						if i < len(rest) {
							next = rest[i+1:]
						}
						walk(sub, next)
					}
				}
			}
			return
		}
		if rest == "" {
			out = append(out, v)
		}
	}
	walk(doc, path)
	return out
}

func scalarString(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case json.Number:
		return string(t), true
	case bool:
		return strconv.FormatBool(t), true
	}
	return "", false
}

func numberOf(v any) (float64, bool) {
	switch t := v.(type) {
	case json.Number:
		f, err := t.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
		return f, err == nil
	case bool:
		if t {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

func dateOf(v any) (time.Time, bool) {
	switch t := v.(type) {
	case json.Number:
		ms, err := t.Int64()
		return time.UnixMilli(ms).UTC(), err == nil
	case string:
		return parseDate(t)
	}
	return time.Time{}, false
}

// tokens approximates the standard analyzer: lowercase words split at
// whitespace and punctuation, keeping dots inside words and numbers
// ("10.0.0.1", "example.com").
func tokens(s string) []string {
	raw := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_' && r != '.' && r != '\''
	})
	out := raw[:0]
	for _, t := range raw {
		if t = strings.Trim(t, ".'"); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// termMatcher matches a value exactly as a term query does: unanalyzed
// against keyword, numeric, date and boolean fields, against the analyzed
// tokens of a text field.
func termMatcher(want any, caseInsensitive bool) func(cat string, v any) bool {
	return func(cat string, v any) bool {
		switch cat {
		case "number":
			a, ok1 := numberOf(v)
			b, ok2 := numberOf(want)
			return ok1 && ok2 && a == b
		case "date":
			a, ok1 := dateOf(v)
			b, ok2 := dateOf(want)
			return ok1 && ok2 && a.Equal(b)
		case "boolean":
			a, ok1 := scalarString(v)
			b, ok2 := scalarString(want)
			return ok1 && ok2 && a == b
		case "text":
			s, ok1 := scalarString(v)
			w, ok2 := scalarString(want)
			if !ok1 || !ok2 {
				return false
			}
			for _, t := range tokens(s) {
				if t == w {
					return true
				}
			}
			return false
		}
		s, ok1 := scalarString(v)
		w, ok2 := scalarString(want)
		if !ok1 || !ok2 {
			return false
		}
		if caseInsensitive {
			return strings.EqualFold(s, w)
		}
		return s == w
	}
}

func prefixMatcher(want any, caseInsensitive bool) func(cat string, v any) bool {
	w, _ := scalarString(want)
	return func(cat string, v any) bool {
		s, ok := scalarString(v)
		if !ok {
			return false
		}
		if cat == "text" {
			for _, t := range tokens(s) {
				if strings.HasPrefix(t, w) {
					return true
				}
			}
			return false
		}
		if caseInsensitive {
			return strings.HasPrefix(strings.ToLower(s), strings.ToLower(w))
		}
		return strings.HasPrefix(s, w)
	}
}

// matchText is the match query: analyzed for text fields (any token, or
// every token with operator "and"), a term query otherwise.
func matchText(ix *index, d *storedDoc, field string, want any, and bool) bool {
	path, typ := fieldInfo(ix, field)
	if typ == "" {
		return false
	}
	if category(typ) != "text" {
		return anyValue(ix, d, field, termMatcher(want, false))
	}
	w, _ := scalarString(want)
	have := make(map[string]bool)
	for _, v := range values(d.parsed, path) {
		if s, ok := scalarString(v); ok {
			for _, t := range tokens(s) {
				have[t] = true
			}
		}
	}
	qt := tokens(w)
	if len(qt) == 0 {
		return false
	}
	n := 0
	for _, t := range qt {
		if have[t] {
			n++
		}
	}
	if and {
		return n == len(qt)
	}
	return n > 0
}

// matchPhrase matches a text field one of whose values holds the tokens
// of want in order and next to each other (slop 0); other fields as a
// term query does.
func matchPhrase(ix *index, d *storedDoc, field string, want any) bool {
	path, typ := fieldInfo(ix, field)
	if typ == "" {
		return false
	}
	if category(typ) != "text" {
		return anyValue(ix, d, field, termMatcher(want, false))
	}
	w, _ := scalarString(want)
	qt := tokens(w)
	if len(qt) == 0 {
		return false
	}
	for _, v := range values(d.parsed, path) {
		s, ok := scalarString(v)
		if !ok {
			continue
		}
		have := tokens(s)
		for i := 0; i+len(qt) <= len(have); i++ {
			if slices.Equal(have[i:i+len(qt)], qt) {
				return true
			}
		}
	}
	return false
}

// compileRange compiles {"gt"|"gte"|"lt"|"lte": bound}; date bounds may use
// date math ("now-1h", "2024-01-01||+1d", "now/d").
func compileRange(field string, opts map[string]any) (query, *esError) {
	type bound struct {
		op  string
		raw any
		t   time.Time
		isT bool
	}
	now := time.Now().UTC()
	var bounds []bound
	for k, v := range opts {
		switch k {
		case "gt", "gte", "lt", "lte":
			b := bound{op: k, raw: v}
			if s, ok := v.(string); ok {
				if t, ok := dateMath(s, now); ok {
					b.t, b.isT = t, true
				}
			}
			bounds = append(bounds, b)
		case "format", "time_zone", "boost", "_name", "relation":
		default:
			return nil, parsing("[range] query does not support [%s]", k)
		}
	}
	cmp := func(cat string, v any, b bound) (int, bool) {
		switch cat {
		case "number":
			a, ok1 := numberOf(v)
			c, ok2 := numberOf(b.raw)
			if !ok1 || !ok2 {
				return 0, false
			}
			return compareFloat(a, c), true
		case "date":
			a, ok1 := dateOf(v)
			c, ok2 := b.t, b.isT
			if !ok2 {
				c, ok2 = dateOf(b.raw)
			}
			if !ok1 || !ok2 {
				return 0, false
			}
			return a.Compare(c), true
		}
		a, ok1 := scalarString(v)
		c, ok2 := scalarString(b.raw)
		return strings.Compare(a, c), ok1 && ok2
	}
	return func(ix *index, d *storedDoc) bool {
		return anyValue(ix, d, field, func(cat string, v any) bool {
			for _, b := range bounds {
				c, ok := cmp(cat, v, b)
				if !ok {
					return false
				}
				switch b.op {
				case "gt":
					ok = c > 0
				case "gte":
					ok = c >= 0
				case "lt":
					ok = c < 0
				case "lte":
					ok = c <= 0
				}
				if !ok {
					return false
				}
			}
			return true
		})
	}, nil
}

func compareFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// dateMath evaluates "now", "now-15m", "2024-01-01||+1d/d" and plain dates.
func dateMath(s string, now time.Time) (time.Time, bool) {
	var t time.Time
	var rest string
	switch {
	case strings.HasPrefix(s, "now"):
		t, rest = now, s[3:]
	default:
		anchor, math, hasMath := strings.Cut(s, "||")
		d, ok := parseDate(anchor)
		if !ok {
			return time.Time{}, false
		}
		if !hasMath {
			return d, true
		}
		t, rest = d, math
	}
	for rest != "" {
		op := rest[0]
		rest = rest[1:]
		n := 1
		if op == '+' || op == '-' {
			i := 0
			for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
				i++
			}
			if i > 0 {
				n, _ = strconv.Atoi(rest[:i])
			}
			rest = rest[i:]
			if op == '-' {
				n = -n
			}
		} else if op != '/' {
			return time.Time{}, false
		}
		if rest == "" {
			return time.Time{}, false
		}
		unit := rest[0]
		rest = rest[1:]
		if op == '/' {
			t = roundDown(t, unit)
			continue
		}
		switch unit {
		case 'y':
			t = t.AddDate(n, 0, 0)
		case 'M':
			t = t.AddDate(0, n, 0)
		case 'w':
			t = t.AddDate(0, 0, 7*n)
		case 'd':
			t = t.AddDate(0, 0, n)
		case 'h', 'H':
			t = t.Add(time.Duration(n) * time.Hour)
		case 'm':
			t = t.Add(time.Duration(n) * time.Minute)
		case 's':
			t = t.Add(time.Duration(n) * time.Second)
		default:
			return time.Time{}, false
		}
	}
	return t, true
}

func roundDown(t time.Time, unit byte) time.Time {
	y, mo, d := t.Date()
	switch unit {
	case 'y':
		return time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)
	case 'M':
		return time.Date(y, mo, 1, 0, 0, 0, 0, time.UTC)
	case 'd':
		return time.Date(y, mo, d, 0, 0, 0, 0, time.UTC)
	case 'h', 'H':
		return t.Truncate(time.Hour)
	case 'm':
		return t.Truncate(time.Minute)
	case 's':
		return t.Truncate(time.Second)
	}
	return t
}

// parseSort reads "field", {"field": "desc"}, {"field": {"order": "desc"}}
// or an array of those.
func parseSort(v any) ([]sortKey, *esError) {
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	var out []sortKey
	for _, e := range list {
		switch t := e.(type) {
		case string:
			out = append(out, sortKey{field: t, desc: t == "_score"})
		case map[string]any:
			for field, spec := range t {
				k := sortKey{field: field, desc: field == "_score"}
				switch sp := spec.(type) {
				case string:
					k.desc = sp == "desc"
				case map[string]any:
					if o, ok := sp["order"].(string); ok {
						k.desc = o == "desc"
					}
					k.unmappedType, _ = sp["unmapped_type"].(string)
					k.missingFirst = sp["missing"] == "_first"
				default:
					return nil, parsing("[sort] malformed sort for field [%s]", field)
				}
				out = append(out, k)
			}
		default:
			return nil, parsing("[sort] malformed, expected a field name or an object, found %s", token(e))
		}
	}
	return out, nil
}

// checkSort refuses what Elasticsearch refuses: sorting on a text field
// and on a field no searched index maps (without unmapped_type).
func checkSort(indices []*index, keys []sortKey) *esError {
	for _, k := range keys {
		if k.field == "_score" || k.field == "_doc" || len(indices) == 0 {
			continue
		}
		mapped := false
		for _, ix := range indices {
			_, typ := fieldInfo(ix, k.field)
			if typ == "" {
				continue
			}
			mapped = true
			if category(typ) == "text" {
				return searchFailed(badRequest("illegal_argument_exception",
					"Text fields are not optimised for operations that require per-document field data like aggregations and sorting, so these operations are disabled by default. Please use a keyword field instead. Alternatively, set fielddata=true on [%s] in order to load field data by uninverting the inverted index. Note that this can use significant memory.", k.field))
			}
		}
		if !mapped && k.unmappedType == "" {
			return searchFailed(badRequest("query_shard_exception", "No mapping found for [%s] in order to sort on", k.field))
		}
	}
	return nil
}

// sortValue is a document's value for one sort key.
type sortValue struct {
	missing bool
	num     float64
	str     string
	isNum   bool
	out     any // what the hit's "sort" array shows
}

func sortValueOf(ix *index, d *storedDoc, k sortKey) sortValue {
	switch k.field {
	case "_score": // every hit scores 1.0
		return sortValue{isNum: true, num: 1, out: 1.0}
	case "_doc":
		return sortValue{isNum: true, num: float64(d.order), out: d.order}
	}
	path, typ := fieldInfo(ix, k.field)
	cat := category(typ)
	var best *sortValue
	for _, v := range values(d.parsed, path) {
		var sv sortValue
		switch cat {
		case "number", "boolean":
			f, ok := numberOf(v)
			if !ok {
				continue
			}
			sv = sortValue{isNum: true, num: f, out: v}
			if cat == "boolean" {
				sv.out = int(f)
			}
		case "date":
			t, ok := dateOf(v)
			if !ok {
				continue
			}
			ms := t.UnixMilli()
			sv = sortValue{isNum: true, num: float64(ms), out: ms}
		default:
			s, ok := scalarString(v)
			if !ok {
				continue
			}
			sv = sortValue{str: s, out: s}
		}
		// Multi-valued fields sort by their minimum ascending, maximum descending.
		if best == nil || (compareSort(sv, *best, sortKey{}) < 0) != k.desc {
			c := sv
			best = &c
		}
	}
	if best == nil {
		return sortValue{missing: true, out: nil}
	}
	return *best
}

// compareSort orders two values for key k; missing values go last unless
// k asks for them first.
func compareSort(a, b sortValue, k sortKey) int {
	if a.missing || b.missing {
		switch {
		case a.missing && b.missing:
			return 0
		case a.missing == k.missingFirst:
			return -1
		default:
			return 1
		}
	}
	var c int
	if a.isNum && b.isNum {
		c = compareFloat(a.num, b.num)
		if math.IsNaN(a.num) || math.IsNaN(b.num) {
			c = 0
		}
	} else {
		c = strings.Compare(a.str, b.str)
	}
	if k.desc {
		c = -c
	}
	return c
}
