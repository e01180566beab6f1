// Package estest is an Elasticsearch 8.x protocol test server for tests
// that cannot reach a real cluster.
//
// NewServer starts an httptest server on 127.0.0.1 that the official
// go-elasticsearch client (or any HTTP client) talks to unmodified: every
// answer carries "X-Elastic-Product: Elasticsearch", bodies and errors
// have Elasticsearch's JSON shapes and statuses, and gzip request bodies
// are accepted.
//
// Data enters through the REST API: _bulk (index, create, update, delete;
// per-item results and errors), the document APIs (_doc, _create,
// _update), PUT /{index}, index and component templates, and ILM policies
// (_ilm/policy/{name}). A small
// mapping model makes mapping conflicts real: the first document fixes
// each field's type by dynamic mapping (strings that look like dates
// become date fields, other strings text with a .keyword sub-field),
// explicit mappings from templates or PUT /{index} take precedence, and a
// later value the type cannot take gets a 400 document_parsing_exception,
// with Elasticsearch's default coercions (a number into a text field is
// fine, "abc" into a long field is not).
//
// Data leaves through GET /{index}/_doc/{id}, the multi-get API, _search
// and _count (query DSL subset: match_all, term, terms, match,
// match_phrase, prefix,
// range with date math, exists, ids, bool; size, from, sort; index
// patterns such as "vigil-verdicts*"), GET mappings and templates, and,
// for test assertions, the Docs, Count, Version and Requests accessors.
//
// The multi-get API (GET|POST /_mget and /{index}/_mget, the path's index
// being the default of documents without "_index") takes
// {"docs":[{"_index","_id", "_source", "stored_fields", "version",
// "routing"}, ...]} and/or {"ids":[...]}, and the parameters _source,
// _source_includes, _source_excludes, stored_fields, realtime, refresh,
// routing and preference (pretty, human, error_trace, filter_path and
// format are accepted and ignored); it refuses any other parameter as
// Elasticsearch does ("contains unrecognized parameter", with its "did
// you mean" suggestions). It reads in real time: a document is there, with
// the _version, _seq_no and _primary_term GET gives, as soon as its write
// was answered. It answers 200 {"docs":[...]} in request order: found
// documents as GET answers them, {"_index","_id","found":false} for a
// missing document, and a per-document "error" (index_not_found_exception
// for a missing index, version_conflict_engine_exception for a "version"
// that differs); a document without an index or id, or no documents at
// all, fail the request with 400 action_request_validation_exception.
// _source filtering follows Elasticsearch 8: dotted field paths (which
// also match field names with dots in them), "*" within a name and "**"
// across names, a field that both an include and an exclude match left
// out, the source's member order and number literals kept.
//
// Faults are injected at any time and from any goroutine: SetItemStatus
// and SetItemFaultRate answer chosen bulk items with 429/503/...,
// FailRequests fails the next N requests, SetOutage refuses connections or
// answers 503, and SetDelay slows every request.
//
// Simplifications: one node, one shard per index, documents are searchable
// as soon as they are written (as with refresh=true), every hit scores
// 1.0, aggregations, scripts, aliases and data streams are not supported,
// and the text analyzer only approximates the standard analyzer.
package estest
