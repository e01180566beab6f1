package estest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// writeOp is one document write, from a bulk line pair or a document API.
type writeOp struct {
	action        string // index, create, update or delete
	index, id     string
	source        []byte // the document (index, create) or the update body
	ifSeqNo       *int64
	ifPrimaryTerm *int64
	// version and versionType: external versioning ("external" or
	// "external_gte"), where the writer supplies the document's version.
	version     *int64
	versionType string
}

// itemResult is the outcome of one write, in the shape of a bulk item.
type itemResult struct {
	index, id string
	version   int64
	result    string
	seqNo     int64
	status    int
	noop      bool
	err       *esError
}

func (r itemResult) fail(e *esError) itemResult {
	r.err = e
	r.status = e.Status
	return r
}

// object renders the result; withStatus adds "status" as bulk items have.
func (r itemResult) object(withStatus bool) map[string]any {
	o := map[string]any{"_index": r.index, "_id": r.id}
	if withStatus {
		o["status"] = r.status
	}
	if r.err != nil {
		o["error"] = r.err.object()
		return o
	}
	o["_version"] = r.version
	o["result"] = r.result
	shards := map[string]any{"total": 2, "successful": 1, "failed": 0}
	if r.noop || r.result == "not_found" {
		shards = map[string]any{"total": 0, "successful": 0, "failed": 0}
	}
	o["_shards"] = shards
	o["_seq_no"] = r.seqNo
	o["_primary_term"] = 1
	return o
}

// apply performs one write; the caller holds s.mu.
func (s *Server) apply(op writeOp) itemResult {
	res := itemResult{index: op.index, id: op.id}
	if op.action == "delete" {
		ix := s.indices[op.index]
		if ix == nil {
			return res.fail(indexNotFound(op.index))
		}
		return s.remove(ix, op)
	}
	ix, e := s.autoCreate(op.index)
	if e != nil {
		return res.fail(e)
	}
	if op.action == "update" {
		return s.update(ix, op)
	}
	doc, err := decodeObject(op.source)
	if err != nil {
		if op.id == "" {
			res.id = autoID()
		}
		return res.fail(parseFailure(err))
	}
	return s.put(ix, op, doc)
}

func parseFailure(err error) *esError {
	e := badRequest("document_parsing_exception", "failed to parse: %v", err)
	e.Cause = &esError{Type: "x_content_parse_exception", Reason: err.Error()}
	return e
}

// put stores doc (index or create); the caller holds s.mu.
func (s *Server) put(ix *index, op writeOp, doc map[string]any) itemResult {
	id := op.id
	if id == "" {
		id = autoID()
	}
	res := itemResult{index: ix.name, id: id}
	existing := ix.docs[id]
	if op.action == "create" && existing != nil {
		return res.fail(versionConflict(ix.name, id,
			fmt.Sprintf("[%s]: version conflict, document already exists (current version [%d])", id, existing.version)))
	}
	if e := checkCondition(ix.name, id, existing, op); e != nil {
		return res.fail(e)
	}
	if e := checkVersion(ix.name, id, existing, op); e != nil {
		return res.fail(e)
	}
	add, e := ix.check(doc, id)
	if e != nil {
		e.Extra = map[string]any{"index": ix.name, "index_uuid": ix.uuid, "shard": "0"}
		return res.fail(e)
	}
	ix.merge(add)
	s.created++
	stored := &storedDoc{id: id, source: bytes.TrimSpace(append([]byte(nil), op.source...)),
		parsed: doc, version: 1, seqNo: ix.seqNo, order: s.created}
	ix.seqNo++
	res.result, res.status = "created", http.StatusCreated
	if existing != nil {
		stored.version = existing.version + 1
		stored.order = existing.order // an overwrite keeps its place
		res.result, res.status = "updated", http.StatusOK
	}
	if op.version != nil {
		stored.version = *op.version // external: the writer's version
	}
	ix.docs[id] = stored
	s.counters.Indexed++
	if s.onWrite != nil {
		s.onWrite(Write{Index: ix.name, ID: id, Version: stored.version, Source: stored.source, At: time.Now()})
	}
	res.version, res.seqNo = stored.version, stored.seqNo
	return res
}

func versionConflict(indexName, id, reason string) *esError {
	return &esError{Status: http.StatusConflict, Type: "version_conflict_engine_exception", Reason: reason,
		Extra: map[string]any{"index": indexName, "index_uuid": "_na_", "shard": "0"}}
}

// checkCondition applies if_seq_no / if_primary_term.
func checkCondition(indexName, id string, existing *storedDoc, op writeOp) *esError {
	if op.ifSeqNo == nil || op.ifPrimaryTerm == nil {
		return nil
	}
	if existing == nil {
		return versionConflict(indexName, id, fmt.Sprintf(
			"[%s]: version conflict, required seqNo [%d], primary term [%d]. but no document was found", id, *op.ifSeqNo, *op.ifPrimaryTerm))
	}
	if existing.seqNo != *op.ifSeqNo || *op.ifPrimaryTerm != 1 {
		return versionConflict(indexName, id, fmt.Sprintf(
			"[%s]: version conflict, required seqNo [%d], primary term [%d]. current document has seqNo [%d] and primary term [1]",
			id, *op.ifSeqNo, *op.ifPrimaryTerm, existing.seqNo))
	}
	return nil
}

// Version types of external versioning.
const (
	versionExternal    = "external"
	versionExternalGTE = "external_gte"
)

// validVersion checks a write's version and version_type the way
// Elasticsearch validates an index request: internal versioning cannot
// take a version (if_seq_no/if_primary_term replaced it), external
// versioning needs a non-negative one, and only index and create take
// versions here (what the update API does with them is not modelled).
func validVersion(op writeOp) string {
	switch op.versionType {
	case "", "internal":
		if op.version != nil {
			return "internal versioning can not be used for optimistic concurrency control. Please use `if_seq_no` and `if_primary_term` instead"
		}
	case versionExternal, versionExternalGTE:
		if op.version == nil || *op.version < 0 {
			v := int64(-3) // Versions.MATCH_ANY, what a missing version reads as
			if op.version != nil {
				v = *op.version
			}
			return fmt.Sprintf("illegal version value [%d] for version type [%s]", v, strings.ToUpper(op.versionType))
		}
		if op.action != "index" && op.action != "create" {
			return fmt.Sprintf("estest models version_type [%s] only on index and create, not %s", op.versionType, op.action)
		}
	}
	return ""
}

// parseVersionType reads a version_type parameter.
func parseVersionType(v string) (string, *esError) {
	switch v {
	case "", "internal", versionExternal, versionExternalGTE:
		return v, nil
	}
	return "", badRequest("illegal_argument_exception", "No version type match [%s]", v)
}

// checkVersion applies external versioning: the write goes through only
// when its version is above the stored one (external) or not below it
// (external_gte).
func checkVersion(indexName, id string, existing *storedDoc, op writeOp) *esError {
	if op.version == nil || existing == nil {
		return nil
	}
	v, cur := *op.version, existing.version
	switch {
	case op.versionType == versionExternal && v <= cur:
		return versionConflict(indexName, id, fmt.Sprintf(
			"[%s]: version conflict, current version [%d] is higher or equal to the one provided [%d]", id, cur, v))
	case op.versionType == versionExternalGTE && v < cur:
		return versionConflict(indexName, id, fmt.Sprintf(
			"[%s]: version conflict, current version [%d] is higher than the one provided [%d]", id, cur, v))
	}
	return nil
}

// update applies a partial-document update or upsert; the caller holds s.mu.
func (s *Server) update(ix *index, op writeOp) itemResult {
	res := itemResult{index: ix.name, id: op.id}
	body, err := decodeObject(op.source)
	if err != nil {
		return res.fail(badRequest("x_content_parse_exception", "failed to parse the update request: %v", err))
	}
	var doc, upsert map[string]any
	docAsUpsert, detectNoop := false, true
	for k, v := range body {
		switch k {
		case "doc", "upsert":
			m, ok := v.(map[string]any)
			if !ok {
				return res.fail(badRequest("x_content_parse_exception", "[UpdateRequest] [%s] must be an object, found %s", k, jsonKind(v)))
			}
			if k == "doc" {
				doc = m
			} else {
				upsert = m
			}
		case "doc_as_upsert", "detect_noop":
			b, ok := v.(bool)
			if !ok {
				return res.fail(badRequest("x_content_parse_exception", "[UpdateRequest] [%s] must be a boolean, found %s", k, jsonKind(v)))
			}
			if k == "doc_as_upsert" {
				docAsUpsert = b
			} else {
				detectNoop = b
			}
		case "script", "scripted_upsert":
			return res.fail(badRequest("illegal_argument_exception", "estest: scripted updates are not supported"))
		case "_source":
		default:
			return res.fail(badRequest("x_content_parse_exception", "[UpdateRequest] unknown field [%s]", k))
		}
	}
	existing := ix.docs[op.id]
	if existing == nil {
		src := upsert
		if src == nil && docAsUpsert {
			src = doc
		}
		if src == nil {
			return res.fail(&esError{Status: http.StatusNotFound, Type: "document_missing_exception",
				Reason: fmt.Sprintf("[%s]: document missing", op.id),
				Extra:  map[string]any{"index": ix.name, "index_uuid": ix.uuid, "shard": "0"}})
		}
		return s.putMerged(ix, writeOp{action: "index", index: op.index, id: op.id}, src)
	}
	if doc == nil {
		return res.fail(badRequest("action_request_validation_exception", "Validation Failed: 1: script or doc is missing;"))
	}
	if e := checkCondition(ix.name, op.id, existing, op); e != nil {
		return res.fail(e)
	}
	merged := deepMerge(cloneValue(existing.parsed).(map[string]any), doc)
	if detectNoop && reflect.DeepEqual(merged, existing.parsed) {
		res.version, res.seqNo, res.result, res.status, res.noop = existing.version, existing.seqNo, "noop", http.StatusOK, true
		return res
	}
	r := s.putMerged(ix, writeOp{action: "index", index: op.index, id: op.id}, merged)
	if r.err == nil {
		r.status = http.StatusOK
	}
	return r
}

func (s *Server) putMerged(ix *index, op writeOp, doc map[string]any) itemResult {
	src, err := json.Marshal(doc)
	if err != nil {
		return itemResult{index: ix.name, id: op.id}.fail(parseFailure(err))
	}
	op.source = src
	return s.put(ix, op, doc)
}

// deepMerge merges src into dst as a partial update does: objects merge,
// everything else is replaced.
func deepMerge(dst, src map[string]any) map[string]any {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				dst[k] = deepMerge(dm, sm)
				continue
			}
		}
		dst[k] = cloneValue(v)
	}
	return dst
}

func cloneValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = cloneValue(e)
		}
		return m
	case []any:
		a := make([]any, len(t))
		for i, e := range t {
			a[i] = cloneValue(e)
		}
		return a
	}
	return v
}

// remove deletes a document; the caller holds s.mu.
func (s *Server) remove(ix *index, op writeOp) itemResult {
	res := itemResult{index: ix.name, id: op.id}
	existing := ix.docs[op.id]
	if e := checkCondition(ix.name, op.id, existing, op); e != nil {
		return res.fail(e)
	}
	if existing == nil {
		res.version, res.seqNo, res.result, res.status = 1, ix.seqNo, "not_found", http.StatusNotFound
		return res
	}
	delete(ix.docs, op.id)
	res.version, res.seqNo, res.result, res.status = existing.version+1, ix.seqNo, "deleted", http.StatusOK
	ix.seqNo++
	return res
}

// docAPI serves /{index}/_doc/{id}, /{index}/_create/{id},
// /{index}/_update/{id} and /{index}/_source/{id}.
func (s *Server) docAPI(w http.ResponseWriter, r *http.Request, indexName, op, id string) {
	switch op {
	case "_doc":
		if !allow(w, r, http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPost, http.MethodDelete) {
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			s.getDoc(w, r, indexName, id, false)
		case http.MethodDelete:
			s.writeOne(w, r, writeOp{action: "delete", index: indexName, id: id})
		default:
			s.putDoc(w, r, indexName, id, r.URL.Query().Get("op_type") == "create")
		}
	case "_create":
		if allow(w, r, http.MethodPut, http.MethodPost) {
			s.putDoc(w, r, indexName, id, true)
		}
	case "_update":
		if allow(w, r, http.MethodPost) {
			body, e := s.readBody(r)
			if e != nil {
				writeBodyError(w, e)
				return
			}
			s.writeOne(w, r, writeOp{action: "update", index: indexName, id: id, source: body})
		}
	case "_source":
		if allow(w, r, http.MethodGet, http.MethodHead) {
			s.getDoc(w, r, indexName, id, true)
		}
	default:
		noHandler(w, r)
	}
}

// putDoc serves the index and create document APIs.
func (s *Server) putDoc(w http.ResponseWriter, r *http.Request, indexName, id string, create bool) {
	body, e := s.readBody(r)
	if e != nil {
		writeBodyError(w, e)
		return
	}
	if body == nil {
		writeError(w, badRequest("action_request_validation_exception", "Validation Failed: 1: source is missing;"))
		return
	}
	action := "index"
	if create {
		action = "create"
	}
	s.writeOne(w, r, writeOp{action: action, index: indexName, id: id, source: body})
}

// writeOne applies a single-document write and answers it.
func (s *Server) writeOne(w http.ResponseWriter, r *http.Request, op writeOp) {
	q := r.URL.Query()
	for _, p := range []struct {
		name string
		dst  **int64
	}{{"if_seq_no", &op.ifSeqNo}, {"if_primary_term", &op.ifPrimaryTerm}} {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				writeError(w, badRequest("illegal_argument_exception", "Failed to parse long parameter [%s] with value [%s]", p.name, v))
				return
			}
			*p.dst = &n
		}
	}
	if v := q.Get("version"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			writeError(w, badRequest("illegal_argument_exception", "Failed to parse long parameter [version] with value [%s]", v))
			return
		}
		op.version = &n
	}
	vt, e := parseVersionType(q.Get("version_type"))
	if e != nil {
		writeError(w, e)
		return
	}
	op.versionType = vt
	if reason := validVersion(op); reason != "" {
		writeError(w, badRequest("action_request_validation_exception", "Validation Failed: 1: %s;", reason))
		return
	}
	if e := validID(op.id, op.action); e != nil {
		writeError(w, e)
		return
	}
	s.mu.Lock()
	res := s.apply(op)
	s.mu.Unlock()
	if res.err != nil {
		writeError(w, res.err)
		return
	}
	writeJSON(w, res.status, res.object(false))
}

// getDoc serves GET /{index}/_doc/{id} (and _source).
func (s *Server) getDoc(w http.ResponseWriter, r *http.Request, indexName, id string, sourceOnly bool) {
	s.mu.Lock()
	ix := s.indices[indexName]
	var d *storedDoc
	if ix != nil {
		d = ix.docs[id]
	}
	s.mu.Unlock()
	if ix == nil {
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		writeError(w, indexNotFound(indexName))
		return
	}
	if r.Method == http.MethodHead {
		if d == nil {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	if d == nil {
		if sourceOnly {
			writeError(w, &esError{Status: http.StatusNotFound, Type: "resource_not_found_exception",
				Reason: fmt.Sprintf("Document not found [%s]/[%s]", indexName, id)})
			return
		}
		writeJSON(w, http.StatusNotFound, map[string]any{"_index": indexName, "_id": id, "found": false})
		return
	}
	if sourceOnly {
		writeJSON(w, http.StatusOK, d.source)
		return
	}
	writeJSON(w, http.StatusOK, d.getObject(indexName))
}

// getObject renders a found document as GET /{index}/_doc/{id} and the
// multi-get API answer it.
func (d *storedDoc) getObject(indexName string) map[string]any {
	return map[string]any{
		"_index": indexName, "_id": d.id, "_version": d.version, "_seq_no": d.seqNo,
		"_primary_term": 1, "found": true, "_source": d.source,
	}
}

// validID applies Elasticsearch's _id rules.
func validID(id, action string) *esError {
	switch {
	case id == "" && (action == "update" || action == "delete"):
		return badRequest("action_request_validation_exception", "Validation Failed: 1: id is missing;")
	case len(id) > 512:
		return badRequest("action_request_validation_exception",
			"Validation Failed: 1: id [%.32s...] is too long, must be no longer than 512 bytes but was: %d;", id, len(id))
	}
	return nil
}
