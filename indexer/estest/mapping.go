package estest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
)

// index is one Elasticsearch index: its documents and its mapping.
type index struct {
	name    string
	uuid    string
	created time.Time
	order   int64
	docs    map[string]*storedDoc
	mapping
	seqNo int64
}

// storedDoc is one document and its bookkeeping.
type storedDoc struct {
	id      string
	source  json.RawMessage
	parsed  map[string]any // numbers as json.Number
	version int64
	seqNo   int64
	order   int64 // write order across the server, the default hit order
}

// mapping is the flattened form of an index mapping: field type by dotted
// path, multi-fields ("x.keyword") pointing at their parent field, and the
// root "dynamic" setting ("true", "false" or "strict"; "" means not set).
type mapping struct {
	fields  map[string]string
	multi   map[string]string
	dynamic string
	// disabled holds the object fields mapped "enabled": false: kept in
	// _source, neither parsed nor indexed.
	disabled map[string]bool
}

func newMapping() mapping {
	return mapping{fields: make(map[string]string), multi: make(map[string]string), disabled: make(map[string]bool)}
}

func (m *mapping) merge(o mapping) {
	for k, v := range o.fields {
		m.fields[k] = v
	}
	for k, v := range o.multi {
		m.multi[k] = v
	}
	for k, v := range o.disabled {
		m.disabled[k] = v
	}
	if o.dynamic != "" {
		m.dynamic = o.dynamic
	}
}

// knownTypes are the field types a mapping may declare.
var knownTypes = map[string]bool{
	"text": true, "keyword": true, "long": true, "integer": true, "short": true, "byte": true,
	"double": true, "float": true, "half_float": true, "scaled_float": true, "unsigned_long": true,
	"boolean": true, "date": true, "date_nanos": true, "object": true, "nested": true,
	"flattened": true, "ip": true, "geo_point": true, "geo_shape": true, "binary": true,
	"wildcard": true, "constant_keyword": true, "match_only_text": true, "version": true,
	"alias": true, "dense_vector": true, "sparse_vector": true, "search_as_you_type": true,
	"completion": true, "token_count": true, "integer_range": true, "float_range": true,
	"long_range": true, "double_range": true, "date_range": true, "ip_range": true,
	"histogram": true, "rank_feature": true, "rank_features": true, "semantic_text": true,
	"point": true, "shape": true, "percolator": true, "join": true,
}

// category groups field types by the values they accept.
func category(typ string) string {
	switch typ {
	case "long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float",
		"unsigned_long", "token_count":
		return "number"
	case "boolean":
		return "boolean"
	case "date", "date_nanos":
		return "date"
	case "object", "nested":
		return "object"
	case "flattened":
		return "flattened"
	case "text", "match_only_text", "search_as_you_type":
		return "text"
	case "keyword", "constant_keyword", "wildcard", "version":
		return "keyword"
	case "ip":
		return "ip"
	}
	return "other"
}

// parseMappings reads a "mappings" object ({"dynamic", "properties", ...}).
func parseMappings(m map[string]any) (mapping, *esError) {
	out := newMapping()
	var unsupported []string
	for k, v := range m {
		switch k {
		case "properties":
			props, ok := v.(map[string]any)
			if !ok {
				return out, mapperParsing("Expected map for property [properties] but got %s", jsonKind(v))
			}
			if e := out.addProperties("", props); e != nil {
				return out, e
			}
		case "dynamic":
			switch d := fmt.Sprint(v); d {
			case "true", "false", "strict", "runtime":
				out.dynamic = d
			default:
				return out, mapperParsing("Could not convert [dynamic] to boolean or [strict]: [%s]", d)
			}
		case "date_detection", "numeric_detection", "dynamic_templates", "dynamic_date_formats",
			"_source", "_meta", "_routing", "runtime", "subobjects", "_data_stream_timestamp":
			// accepted, not modelled
		default:
			unsupported = append(unsupported, fmt.Sprintf("%s : %v", k, v))
		}
	}
	if len(unsupported) > 0 {
		sort.Strings(unsupported)
		return out, mapperParsing("Root mapping definition has unsupported parameters:  [%s]", strings.Join(unsupported, "] ["))
	}
	return out, nil
}

func mapperParsing(format string, args ...any) *esError {
	return badRequest("mapper_parsing_exception", format, args...)
}

// addProperties flattens a "properties" object under prefix.
func (m *mapping) addProperties(prefix string, props map[string]any) *esError {
	for name, raw := range props {
		path := joinPath(prefix, name)
		def, ok := raw.(map[string]any)
		if !ok {
			return mapperParsing("Expected map for property [%s] but got %s", path, jsonKind(raw))
		}
		typ, _ := def["type"].(string)
		sub, hasProps := def["properties"].(map[string]any)
		if typ == "" {
			typ = "object"
		}
		if !knownTypes[typ] {
			return mapperParsing("No handler for type [%s] declared on field [%s]", typ, name)
		}
		m.markParents(path)
		m.fields[path] = typ
		if enabled, ok := def["enabled"].(bool); ok && !enabled {
			if typ != "object" {
				return mapperParsing("Mapping definition for [%s] has unsupported parameters:  [enabled : false]", name)
			}
			m.disabled[path] = true
		}
		if hasProps {
			if e := m.addProperties(path, sub); e != nil {
				return e
			}
		}
		if fields, ok := def["fields"].(map[string]any); ok {
			for subName, subRaw := range fields {
				subDef, ok := subRaw.(map[string]any)
				if !ok {
					return mapperParsing("Expected map for property [fields] on field [%s] but got %s", name, jsonKind(subRaw))
				}
				subType, _ := subDef["type"].(string)
				if !knownTypes[subType] {
					return mapperParsing("No handler for type [%s] declared on field [%s]", subType, subName)
				}
				m.fields[path+"."+subName] = subType
				m.multi[path+"."+subName] = path
			}
		}
	}
	return nil
}

// markParents maps every parent of a dotted path as an object, as
// Elasticsearch expands "a.b" into {"a": {"b": ...}}.
func (m *mapping) markParents(path string) {
	for i := 0; i < len(path); i++ {
		if path[i] == '.' {
			if _, ok := m.fields[path[:i]]; !ok {
				m.fields[path[:i]] = "object"
			}
		}
	}
}

func joinPath(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// check validates a document against the mapping and returns the fields
// dynamic mapping adds for it. Coercion follows Elasticsearch's defaults:
// strings accept numbers and booleans, numbers accept numeric strings.
func (m *mapping) check(doc map[string]any, id string) (mapping, *esError) {
	add := newMapping()
	lookup := func(p string) (string, bool) {
		if t, ok := m.fields[p]; ok {
			return t, true
		}
		t, ok := add.fields[p]
		return t, ok
	}
	var walk func(path string, v any) *esError
	walk = func(path string, v any) *esError {
		if m.disabled[path] {
			return nil // enabled: false takes any value, unparsed
		}
		switch t := v.(type) {
		case nil:
			return nil
		case []any:
			for _, e := range t {
				if err := walk(path, e); err != nil {
					return err
				}
			}
			return nil
		}
		typ, known := lookup(path)
		if known {
			if e := checkValue(path, typ, v, id); e != nil {
				return e
			}
		} else {
			// Every parent must be an object; dynamic mapping adds missing ones.
			for i := 0; i < len(path); i++ {
				if path[i] != '.' {
					continue
				}
				parent := path[:i]
				pt, ok := lookup(parent)
				if !ok {
					add.fields[parent] = "object"
					continue
				}
				switch category(pt) {
				case "object":
				case "flattened":
					return nil // the flattened field takes any sub-keys
				default:
					return badRequest("document_parsing_exception",
						"Could not dynamically add mapping for field [%s]. Existing mapping for [%s] must be of type object but found [%s].", path, parent, pt)
				}
			}
			switch m.dynamic {
			case "strict":
				within := "_doc"
				if i := strings.LastIndexByte(path, '.'); i >= 0 {
					within = path[:i]
				}
				return badRequest("strict_dynamic_mapping_exception",
					"mapping set to strict, dynamic introduction of [%s] within [%s] is not allowed", lastSegment(path), within)
			case "false", "runtime":
				return nil // kept in _source, not indexed
			}
			typ = dynamicType(v)
			add.fields[path] = typ
			if typ == "text" {
				add.fields[path+".keyword"] = "keyword"
				add.multi[path+".keyword"] = path
			}
		}
		if obj, ok := v.(map[string]any); ok && category(typ) == "object" {
			for _, k := range sortedKeys(obj) {
				if e := walk(joinPath(path, k), obj[k]); e != nil {
					return e
				}
			}
		}
		return nil
	}
	for _, k := range sortedKeys(doc) {
		if e := walk(k, doc[k]); e != nil {
			return add, e
		}
	}
	return add, nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func lastSegment(path string) string {
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[i+1:]
	}
	return path
}

// dynamicType is the type Elasticsearch's dynamic mapping gives a value.
func dynamicType(v any) string {
	switch t := v.(type) {
	case string:
		if _, ok := parseDate(t); ok {
			return "date"
		}
		return "text"
	case json.Number:
		if strings.ContainsAny(string(t), ".eE") {
			return "float"
		}
		return "long"
	case bool:
		return "boolean"
	case map[string]any:
		return "object"
	}
	return "keyword"
}

// checkValue checks one non-array value against a field's type.
func checkValue(path, typ string, v any, id string) *esError {
	cat := category(typ)
	_, isObj := v.(map[string]any)
	switch cat {
	case "object":
		if !isObj {
			return badRequest("document_parsing_exception",
				"object mapping for [%s] tried to parse field [%s] as object, but found a concrete value", path, lastSegment(path))
		}
		return nil
	case "flattened", "other":
		return nil
	}
	fail := func(causeType, cause string) *esError {
		e := badRequest("document_parsing_exception",
			"failed to parse field [%s] of type [%s] in document with id '%s'. Preview of field's value: '%s'", path, typ, id, preview(v))
		e.Cause = &esError{Type: causeType, Reason: cause}
		return e
	}
	if isObj {
		if cat == "number" {
			return fail("illegal_argument_exception", "Current token (START_OBJECT) not numeric, can not use numeric value accessors")
		}
		return fail("illegal_state_exception", "Can't get text on a START_OBJECT")
	}
	switch cat {
	case "number":
		switch t := v.(type) {
		case json.Number:
			return nil
		case string:
			if _, err := strconv.ParseFloat(strings.TrimSpace(t), 64); err == nil {
				return nil
			}
			return fail("number_format_exception", fmt.Sprintf("For input string: %q", t))
		case bool:
			return fail("illegal_argument_exception", "Current token (VALUE_"+strings.ToUpper(strconv.FormatBool(t))+") not numeric, can not use numeric value accessors")
		}
	case "boolean":
		switch t := v.(type) {
		case bool:
			return nil
		case string:
			if t == "true" || t == "false" || t == "" {
				return nil
			}
		}
		return fail("illegal_argument_exception", fmt.Sprintf("Failed to parse value [%s] as only [true] or [false] are allowed.", preview(v)))
	case "date":
		switch t := v.(type) {
		case json.Number:
			return nil
		case string:
			if _, ok := parseDate(t); ok {
				return nil
			}
		}
		return fail("illegal_argument_exception", fmt.Sprintf("failed to parse date field [%s] with format [strict_date_optional_time||epoch_millis]", preview(v)))
	case "ip":
		if s, ok := v.(string); ok {
			if _, err := netip.ParseAddr(s); err == nil {
				return nil
			}
		}
		return fail("illegal_argument_exception", fmt.Sprintf("'%s' is not an IP string literal.", preview(v)))
	}
	return nil // text and keyword accept any scalar
}

// preview renders a value the way Elasticsearch quotes it in errors,
// cut short so an error never carries a whole document.
func preview(v any) string {
	var s string
	switch t := v.(type) {
	case string:
		s = t
	case json.Number:
		s = string(t)
	case bool:
		s = strconv.FormatBool(t)
	default:
		b, _ := json.Marshal(t)
		s = string(b)
	}
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return s
}

// dateLayouts are the forms of strict_date_optional_time accepted here.
var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02",
}

// parseDate parses a date string as Elasticsearch's default date format
// does (times without a zone are UTC).
func parseDate(s string) (time.Time, bool) {
	if len(s) < 10 || s[4] != '-' {
		return time.Time{}, false
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// mappingJSON renders the mapping in Elasticsearch's nested form.
func (m *mapping) mappingJSON() map[string]any {
	root := map[string]any{}
	paths := make([]string, 0, len(m.fields))
	for p := range m.fields {
		if _, isMulti := m.multi[p]; !isMulti {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	defs := make(map[string]map[string]any, len(paths))
	for _, p := range paths {
		def := map[string]any{}
		if t := m.fields[p]; t != "object" {
			def["type"] = t
		}
		if m.disabled[p] {
			def["enabled"] = false
		}
		defs[p] = def
		parent := root
		if i := strings.LastIndexByte(p, '.'); i >= 0 {
			if pd := defs[p[:i]]; pd != nil {
				parent = pd
			}
		}
		props, _ := parent["properties"].(map[string]any)
		if props == nil {
			props = map[string]any{}
			parent["properties"] = props
		}
		props[lastSegment(p)] = def
	}
	for sub, parent := range m.multi {
		def := defs[parent]
		if def == nil {
			continue
		}
		fields, _ := def["fields"].(map[string]any)
		if fields == nil {
			fields = map[string]any{}
			def["fields"] = fields
		}
		sd := map[string]any{"type": m.fields[sub]}
		if m.fields[sub] == "keyword" && m.fields[parent] == "text" {
			sd["ignore_above"] = 256
		}
		fields[lastSegment(sub)] = sd
	}
	if m.dynamic != "" && m.dynamic != "true" {
		root["dynamic"] = m.dynamic
	}
	return root
}

func (ix *index) settingsJSON() map[string]any {
	return map[string]any{"index": map[string]any{
		"number_of_shards":   "1",
		"number_of_replicas": "1",
		"provided_name":      ix.name,
		"creation_date":      strconv.FormatInt(ix.created.UnixMilli(), 10),
		"uuid":               ix.uuid,
		"version":            map[string]any{"created": "8512000"},
	}}
}

// validIndexName applies Elasticsearch's index naming rules.
func validIndexName(name string) *esError {
	bad := func(why string) *esError {
		return &esError{Status: http.StatusBadRequest, Type: "invalid_index_name_exception",
			Reason: fmt.Sprintf("Invalid index name [%s], %s", name, why),
			Extra:  map[string]any{"index": name, "index_uuid": "_na_"}}
	}
	switch {
	case name == "" || name == "." || name == "..":
		return bad("must not be '.' or '..'")
	case strings.ToLower(name) != name:
		return bad("must be lowercase")
	case strings.ContainsAny(name, `\/*?"<>| ,#:`):
		return bad(`must not contain the following characters [' ','"','*',',','/','<','>','?','\','|']`)
	case strings.HasPrefix(name, "_") || strings.HasPrefix(name, "-") || strings.HasPrefix(name, "+"):
		return bad("must not start with '_', '-', or '+'")
	case len(name) > 255:
		return bad("index name is too long, (" + strconv.Itoa(len(name)) + " > 255)")
	}
	return nil
}

// createIndex serves PUT /{index}; the caller holds s.mu.
func (s *Server) createIndex(name string, body []byte) *esError {
	if e := validIndexName(name); e != nil {
		return e
	}
	if ix := s.indices[name]; ix != nil {
		return &esError{Status: http.StatusBadRequest, Type: "resource_already_exists_exception",
			Reason: fmt.Sprintf("index [%s/%s] already exists", name, ix.uuid),
			Extra:  map[string]any{"index": name, "index_uuid": ix.uuid}}
	}
	var explicit map[string]any
	if body != nil {
		doc, err := decodeObject(body)
		if err != nil {
			return badRequest("x_content_parse_exception", "failed to parse the create index body: %v", err)
		}
		for k, v := range doc {
			switch k {
			case "mappings":
				m, ok := v.(map[string]any)
				if !ok {
					return mapperParsing("Expected map for [mappings] but got %s", jsonKind(v))
				}
				explicit = m
			case "settings", "aliases":
			default:
				return badRequest("parse_exception", "unknown key [%s] for create index", k)
			}
		}
	}
	_, e := s.newIndex(name, explicit)
	return e
}

// autoCreate returns the index, creating it from the matching index
// template when it does not exist; the caller holds s.mu.
func (s *Server) autoCreate(name string) (*index, *esError) {
	if ix := s.indices[name]; ix != nil {
		return ix, nil
	}
	if e := validIndexName(name); e != nil {
		return nil, e
	}
	return s.newIndex(name, nil)
}

// newIndex creates an index whose mapping is the matching index
// template's (its component templates first, then its own), overlaid by
// explicit mappings. The caller holds s.mu.
func (s *Server) newIndex(name string, explicit map[string]any) (*index, *esError) {
	m := newMapping()
	if tmpl := s.matchingTemplate(name); tmpl != nil {
		comps, _ := stringList(tmpl["composed_of"])
		for _, c := range comps {
			if raw, ok := s.componentTemplates[c]; ok {
				if doc, err := decodeObject(raw); err == nil {
					if e := mergeTemplateMappings(&m, doc); e != nil {
						return nil, e
					}
				}
			}
		}
		if e := mergeTemplateMappings(&m, tmpl); e != nil {
			return nil, e
		}
	}
	if explicit != nil {
		em, e := parseMappings(explicit)
		if e != nil {
			return nil, e
		}
		m.merge(em)
	}
	s.created++
	ix := &index{
		name: name, uuid: randomID(16), created: time.Now(), order: s.created,
		docs: make(map[string]*storedDoc), mapping: m,
	}
	s.indices[name] = ix
	return ix, nil
}

func mergeTemplateMappings(m *mapping, doc map[string]any) *esError {
	tmpl, _ := doc["template"].(map[string]any)
	mm, _ := tmpl["mappings"].(map[string]any)
	if mm == nil {
		return nil
	}
	parsed, e := parseMappings(mm)
	if e != nil {
		return e
	}
	m.merge(parsed)
	return nil
}

// matchingTemplate returns the highest-priority index template whose
// index_patterns match name (ties go to the first name in order).
func (s *Server) matchingTemplate(name string) map[string]any {
	var (
		best     map[string]any
		bestPrio int64 = -1
	)
	for _, n := range matchTemplates(s.indexTemplates, "*") {
		doc, err := decodeObject(s.indexTemplates[n])
		if err != nil {
			continue
		}
		patterns, _ := stringList(doc["index_patterns"])
		matched := false
		for _, p := range patterns {
			if glob(p, name) {
				matched = true
				break
			}
		}
		if !matched {
			continue
		}
		var prio int64
		if p, ok := doc["priority"].(json.Number); ok {
			prio, _ = p.Int64()
		}
		if prio > bestPrio {
			best, bestPrio = doc, prio
		}
	}
	return best
}
