package estest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// bulk serves POST /_bulk and /{index}/_bulk.
func (s *Server) bulk(w http.ResponseWriter, r *http.Request, pathIndex string) {
	start := time.Now()
	body, e := s.readBody(r)
	if e != nil {
		writeBodyError(w, e)
		return
	}
	ops, e := parseBulk(body, pathIndex)
	if e != nil {
		writeError(w, e)
		return
	}
	items := make([]map[string]any, len(ops))
	hasErrors := false
	s.mu.Lock()
	s.counters.Bulk++
	s.counters.BulkItems += int64(len(ops))
	for i, op := range ops {
		var res itemResult
		if st := s.injectedItemStatus(i, op.index, op.id); st != 0 {
			s.counters.ItemFaults++
			id := op.id
			if id == "" {
				id = autoID()
			}
			res = itemResult{index: op.index, id: id}.fail(injected(st, op.index, id))
		} else {
			res = s.apply(op)
		}
		if res.err != nil {
			hasErrors = true
		}
		items[i] = map[string]any{op.action: res.object(true)}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"errors": hasErrors,
		"took":   time.Since(start).Milliseconds(),
		"items":  items,
	})
}

// parseBulk parses a bulk body: action/metadata lines, each followed by a
// source line except for delete. Errors in the request's structure fail
// the whole request with 400, as Elasticsearch does; a source line that is
// not valid JSON fails only its item (when it is applied).
func parseBulk(body []byte, pathIndex string) ([]writeOp, *esError) {
	if body == nil {
		return nil, badRequest("action_request_validation_exception", "Validation Failed: 1: no requests added;")
	}
	if body[len(body)-1] != '\n' {
		return nil, badRequest("illegal_argument_exception", "The bulk request must be terminated by a newline [\\n]")
	}
	var (
		ops        []writeOp
		validation []string
		line       int
		pos        int
	)
	next := func() []byte {
		end := bytes.IndexByte(body[pos:], '\n')
		l := body[pos : pos+end]
		pos += end + 1
		line++
		return l
	}
	for pos < len(body) {
		l := next()
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		op, e := parseAction(l, line)
		if e != nil {
			return nil, e
		}
		if op.index == "" {
			op.index = pathIndex
		}
		if op.index == "" {
			validation = append(validation, "index is missing")
		}
		if e := validID(op.id, op.action); e != nil {
			validation = append(validation, strings.TrimSuffix(strings.TrimPrefix(e.Reason, "Validation Failed: 1: "), ";"))
		}
		if reason := validVersion(op); reason != "" {
			validation = append(validation, reason)
		}
		if op.action != "delete" {
			var src []byte
			if pos < len(body) {
				src = next()
			}
			if len(bytes.TrimSpace(src)) == 0 {
				validation = append(validation, "source is missing")
			}
			op.source = src
		}
		ops = append(ops, op)
	}
	if len(ops) == 0 {
		return nil, badRequest("action_request_validation_exception", "Validation Failed: 1: no requests added;")
	}
	if len(validation) > 0 {
		var b strings.Builder
		b.WriteString("Validation Failed: ")
		for i, v := range validation {
			fmt.Fprintf(&b, "%d: %s;", i+1, v)
		}
		return nil, badRequest("action_request_validation_exception", "%s", b.String())
	}
	return ops, nil
}

// parseAction parses one action/metadata line such as
// {"index":{"_index":"a","_id":"1"}}.
func parseAction(l []byte, line int) (writeOp, *esError) {
	var op writeOp
	dec := json.NewDecoder(bytes.NewReader(l))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return op, badRequest("x_content_parse_exception", "[%d:1] Malformed action/metadata line [%d]: %v", line, line, err)
	}
	if dec.More() {
		return op, badRequest("illegal_argument_exception",
			"Malformed action/metadata line [%d], expected end of line but found more content", line)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return op, badRequest("illegal_argument_exception",
			"Malformed action/metadata line [%d], expected START_OBJECT but found [%s]", line, token(v))
	}
	switch {
	case len(m) == 0:
		return op, badRequest("illegal_argument_exception",
			"Malformed action/metadata line [%d], expected FIELD_NAME but found [END_OBJECT]", line)
	case len(m) > 1:
		return op, badRequest("illegal_argument_exception",
			"Malformed action/metadata line [%d], expected END_OBJECT but found [FIELD_NAME]", line)
	}
	var metaV any
	for k, mv := range m {
		op.action, metaV = k, mv
	}
	switch op.action {
	case "index", "create", "update", "delete":
	default:
		return op, badRequest("illegal_argument_exception",
			"Malformed action/metadata line [%d], expected one of [create, delete, index, update] but found [%s]", line, op.action)
	}
	meta, ok := metaV.(map[string]any)
	if !ok {
		return op, badRequest("illegal_argument_exception",
			"Malformed action/metadata line [%d], expected START_OBJECT but found [%s]", line, token(metaV))
	}
	for k, mv := range meta {
		switch k {
		case "_index", "_id", "routing", "pipeline", "version_type":
			str, ok := mv.(string)
			if !ok {
				return op, badRequest("illegal_argument_exception",
					"Malformed action/metadata line [%d], expected a simple value for field [%s] but found [%s]", line, k, token(mv))
			}
			switch k {
			case "version_type":
				vt, e := parseVersionType(str)
				if e != nil {
					return op, e
				}
				op.versionType = vt
			case "_index":
				op.index = str
			case "_id":
				if str == "" {
					return op, badRequest("action_request_validation_exception", "Validation Failed: 1: if _id is specified it must not be empty;")
				}
				op.id = str
			}
		case "if_seq_no", "if_primary_term", "version":
			n, ok := mv.(json.Number)
			i, err := n.Int64()
			if !ok || err != nil {
				return op, badRequest("illegal_argument_exception",
					"Malformed action/metadata line [%d], expected a simple value for field [%s] but found [%s]", line, k, token(mv))
			}
			switch k {
			case "if_seq_no":
				op.ifSeqNo = &i
			case "if_primary_term":
				op.ifPrimaryTerm = &i
			default:
				op.version = &i
			}
		case "require_alias", "retry_on_conflict", "_source", "dynamic_templates",
			"require_data_stream", "list_executed_pipelines":
			// accepted, not modelled
		default:
			return op, badRequest("illegal_argument_exception",
				"Action/metadata line [%d] contains an unknown parameter [%s]", line, k)
		}
	}
	return op, nil
}

// token names a JSON value the way Jackson's parser tokens read in
// Elasticsearch's errors.
func token(v any) string {
	switch v.(type) {
	case map[string]any:
		return "START_OBJECT"
	case []any:
		return "START_ARRAY"
	case string:
		return "VALUE_STRING"
	case json.Number:
		return "VALUE_NUMBER"
	case bool:
		return "VALUE_BOOLEAN"
	}
	return "VALUE_NULL"
}
