package estest

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"time"
)

// Outage selects how the server behaves while it simulates an outage.
type Outage int

const (
	// OutageNone serves requests normally.
	OutageNone Outage = iota
	// OutageRefuse closes every connection without an answer, as a node
	// that is going down does.
	OutageRefuse
	// OutageUnavailable answers every request 503, as a cluster without a
	// master or a load balancer without healthy nodes does.
	OutageUnavailable
)

// Counters counts what the server received. Requests answered by an
// injected failure count in Total and RequestFaults only.
type Counters struct {
	Total         int64 // every HTTP request received
	RequestFaults int64 // requests answered by FailRequests or an outage
	Unauthorized  int64 // requests refused for missing or wrong credentials
	Gzip          int64 // requests whose body was gzip-encoded
	Bulk          int64 // bulk requests parsed and answered 200
	BulkItems     int64 // actions in those bulk requests
	ItemFaults    int64 // bulk items answered with an injected status
	Indexed       int64 // documents written (index, create, update, upsert)
	Search        int64 // _search and _count requests answered
	Mget          int64 // _mget requests answered 200
	// TemplateWrites and PolicyWrites count accepted PUTs of index or
	// component templates and of ILM policies.
	TemplateWrites int64
	PolicyWrites   int64
}

// ItemStatusFunc decides an injected status for one bulk item: item is
// its 0-based position in the request. It returns 0 to process the item
// normally, or an HTTP status (429, 503, ...) to answer it with instead.
type ItemStatusFunc func(item int, index, id string) int

// Server is an Elasticsearch 8.x protocol test server on 127.0.0.1.
// Every method is safe for concurrent use, also while requests are served.
type Server struct {
	ts *httptest.Server

	mu                 sync.Mutex
	indices            map[string]*index
	indexTemplates     map[string]json.RawMessage
	componentTemplates map[string]json.RawMessage
	policies           map[string]*ilmPolicy
	counters           Counters
	created            int64 // creation sequence, orders indices and documents

	// fault injection
	failN      int
	failStatus int
	outage     Outage
	delay      time.Duration
	itemStatus ItemStatusFunc
	faultRate  float64
	faultCode  int
	faultRNG   *mrand.Rand

	// onWrite observes every stored document (see SetOnWrite)
	onWrite WriteFunc

	// credentials; empty means no authentication is required
	apiKey, username, password string
}

// NewServer starts a plain-HTTP test server. Close it when done.
func NewServer() *Server {
	s := newServer()
	s.ts = httptest.NewServer(s)
	return s
}

// NewTLSServer starts an HTTPS test server with a self-signed certificate;
// CACertPEM returns the certificate a client must trust.
func NewTLSServer() *Server {
	s := newServer()
	s.ts = httptest.NewTLSServer(s)
	return s
}

func newServer() *Server {
	return &Server{
		indices:            make(map[string]*index),
		indexTemplates:     make(map[string]json.RawMessage),
		componentTemplates: make(map[string]json.RawMessage),
		policies:           make(map[string]*ilmPolicy),
	}
}

// URL is the server's base URL (http://127.0.0.1:port or https://...).
func (s *Server) URL() string { return s.ts.URL }

// Close shuts the server down, waiting for requests in flight.
func (s *Server) Close() { s.ts.Close() }

// CACertPEM returns the PEM certificate of a TLS server, nil for plain HTTP.
func (s *Server) CACertPEM() []byte {
	c := s.ts.Certificate()
	if c == nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// RequireAPIKey makes every request need "Authorization: ApiKey <key>",
// key being the base64 "id:secret" form the client is configured with.
func (s *Server) RequireAPIKey(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apiKey = key
}

// RequireBasicAuth makes every request need these basic credentials.
func (s *Server) RequireBasicAuth(username, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.username, s.password = username, password
}

// FailRequests answers the next n requests with status and an ES-shaped
// error body; a 429 carries "Retry-After: 1".
func (s *Server) FailRequests(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failStatus = n, status
}

// SetOutage starts (OutageRefuse, OutageUnavailable) or ends (OutageNone)
// a simulated outage.
func (s *Server) SetOutage(o Outage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outage = o
}

// SetDelay delays every request by d before it is handled (0 turns it off).
// A client that gives up stops waiting; the delay ends with its request.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// SetItemStatus installs f to decide injected per-item statuses in bulk
// requests; nil removes it. It is called with the server's lock held, in
// item order, and must not call the Server.
func (s *Server) SetItemStatus(f ItemStatusFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.itemStatus = f
}

// SetItemFaultRate answers the given fraction of bulk items (0 to 1) with
// status, chosen by a random generator seeded with seed. Rate 0 turns it off.
// SetItemStatus, when set, takes precedence for items it answers non-zero.
func (s *Server) SetItemFaultRate(rate float64, status int, seed uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faultRate, s.faultCode = rate, status
	s.faultRNG = mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// Requests returns a snapshot of the counters.
func (s *Server) Requests() Counters {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counters
}

// Indices lists the existing indices, sorted.
func (s *Server) Indices() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.indices))
	for n := range s.indices {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Docs returns a copy of every document's _source in index, keyed by _id;
// nil when the index does not exist.
func (s *Server) Docs(index string) map[string]json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	ix := s.indices[index]
	if ix == nil {
		return nil
	}
	out := make(map[string]json.RawMessage, len(ix.docs))
	for id, d := range ix.docs {
		out[id] = append(json.RawMessage(nil), d.source...)
	}
	return out
}

// Count returns the number of documents in index (0 when it is missing).
func (s *Server) Count(index string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ix := s.indices[index]; ix != nil {
		return len(ix.docs)
	}
	return 0
}

// Version returns a document's _version, 0 when it does not exist. A
// document indexed exactly once has version 1.
func (s *Server) Version(index, id string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ix := s.indices[index]; ix != nil {
		if d := ix.docs[id]; d != nil {
			return d.version
		}
	}
	return 0
}

// ServeHTTP applies the injected faults, then answers like Elasticsearch.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.counters.Total++
	delay := s.delay
	s.mu.Unlock()

	if delay > 0 {
		// Read the body first: only then does net/http watch the
		// connection, so a client that gives up ends the delay.
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}

	s.mu.Lock()
	outage := s.outage
	fail := 0
	if outage == OutageNone && s.failN > 0 {
		s.failN--
		fail = s.failStatus
	}
	if outage != OutageNone || fail != 0 {
		s.counters.RequestFaults++
	}
	s.mu.Unlock()

	switch {
	case outage == OutageRefuse:
		refuse(w)
		return
	case outage == OutageUnavailable:
		fail = http.StatusServiceUnavailable
	}
	// Every Elasticsearch answer carries the product header; the v8 client
	// refuses to talk to a server whose first 2xx answer lacks it.
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	if fail != 0 {
		if fail == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		writeError(w, injected(fail, "", ""))
		return
	}
	if e := s.authenticate(r); e != nil {
		w.Header().Set("WWW-Authenticate", `Basic realm="security", charset="UTF-8"`)
		w.Header().Add("WWW-Authenticate", "ApiKey")
		writeError(w, e)
		return
	}
	s.route(w, r)
}

// refuse drops the connection without an answer.
func refuse(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "connection refused", http.StatusServiceUnavailable)
		return
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	_ = conn.Close()
}

func (s *Server) authenticate(r *http.Request) *esError {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.apiKey == "" && s.username == "" {
		return nil
	}
	got := r.Header.Get("Authorization")
	if got == "" {
		s.counters.Unauthorized++
		return &esError{Status: 401, Type: "security_exception",
			Reason: fmt.Sprintf("missing authentication credentials for REST request [%s]", r.URL.RequestURI())}
	}
	// Authentication schemes are case-insensitive; the Go client sends "APIKey".
	if scheme, cred, ok := strings.Cut(got, " "); ok && s.apiKey != "" &&
		strings.EqualFold(scheme, "ApiKey") && cred == s.apiKey {
		return nil
	}
	if s.username != "" {
		if u, p, ok := r.BasicAuth(); ok && u == s.username && p == s.password {
			return nil
		}
	}
	s.counters.Unauthorized++
	return &esError{Status: 401, Type: "security_exception",
		Reason: "unable to authenticate with provided credentials and anonymous access is not allowed for this request"}
}

// injectedItemStatus decides the injected status of one bulk item; the
// caller holds s.mu.
func (s *Server) injectedItemStatus(item int, index, id string) int {
	if s.itemStatus != nil {
		if st := s.itemStatus(item, index, id); st != 0 {
			return st
		}
	}
	if s.faultRate > 0 && s.faultRNG != nil && s.faultRNG.Float64() < s.faultRate {
		return s.faultCode
	}
	return 0
}

// injected builds the error Elasticsearch gives for status.
func injected(status int, index, id string) *esError {
	e := &esError{Status: status}
	switch {
	case status == http.StatusTooManyRequests:
		e.Type = "es_rejected_execution_exception"
		e.Reason = "rejected execution of coordinating operation [coordinating_and_primary_bytes=10485760, replica_bytes=0, all_bytes=10485760, coordinating_operation_bytes=52428, max_coordinating_and_primary_bytes=10485760]"
	case status == http.StatusServiceUnavailable && index != "":
		e.Type = "unavailable_shards_exception"
		e.Reason = fmt.Sprintf("[%s][0] primary shard is not active Timeout: [1m], request: [BulkShardRequest [[%s][0]] containing [1] requests]", index, index)
	case status == http.StatusServiceUnavailable:
		e.Type = "cluster_block_exception"
		e.Reason = "blocked by: [SERVICE_UNAVAILABLE/2/no master];"
	case status == http.StatusConflict:
		e.Type = "version_conflict_engine_exception"
		e.Reason = fmt.Sprintf("[%s]: version conflict, required seqNo [1], primary term [1]. current document has seqNo [2] and primary term [1]", id)
	case status == http.StatusBadRequest:
		e.Type = "document_parsing_exception"
		e.Reason = fmt.Sprintf("failed to parse document with id '%s' (injected)", id)
	case status >= 500:
		e.Type = "exception"
		e.Reason = fmt.Sprintf("injected failure with status %d", status)
	default:
		e.Type = "illegal_argument_exception"
		e.Reason = fmt.Sprintf("injected failure with status %d", status)
	}
	if index != "" {
		e.Extra = map[string]any{"index": index, "index_uuid": "_na_", "shard": "0"}
	}
	return e
}

// autoID returns a 20-character URL-safe id, like Elasticsearch's.
func autoID() string { return randomID(15) }

// randomID returns n random bytes in URL-safe base64.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body, _ = json.Marshal((&esError{Status: status, Type: "exception", Reason: err.Error()}).envelope())
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeError(w http.ResponseWriter, e *esError) { writeJSON(w, e.Status, e.envelope()) }

// esError is an Elasticsearch exception, as found in "error" objects.
type esError struct {
	Status int
	Type   string
	Reason string
	Cause  *esError
	Extra  map[string]any
}

// object renders {"type", "reason", ..., "caused_by"}.
func (e *esError) object() map[string]any {
	o := map[string]any{"type": e.Type, "reason": e.Reason}
	for k, v := range e.Extra {
		o[k] = v
	}
	if e.Cause != nil {
		o["caused_by"] = e.Cause.object()
	}
	return o
}

// envelope renders the body of a failed request.
func (e *esError) envelope() map[string]any {
	root := map[string]any{"type": e.Type, "reason": e.Reason}
	for k, v := range e.Extra {
		root[k] = v
	}
	o := e.object()
	o["root_cause"] = []any{root}
	return map[string]any{"error": o, "status": e.Status}
}

func badRequest(typ, format string, args ...any) *esError {
	return &esError{Status: http.StatusBadRequest, Type: typ, Reason: fmt.Sprintf(format, args...)}
}

func indexNotFound(name string) *esError {
	return &esError{Status: http.StatusNotFound, Type: "index_not_found_exception",
		Reason: fmt.Sprintf("no such index [%s]", name),
		Extra: map[string]any{"resource.type": "index_or_alias", "resource.id": name,
			"index_uuid": "_na_", "index": name}}
}
