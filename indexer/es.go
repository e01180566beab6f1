package indexer

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"
	"github.com/elastic/go-elasticsearch/v8/esutil"
)

// ESConfig configures an ESSink. Exactly one of Addresses and CloudID is
// required. Credentials (APIKey, or Username and Password) belong in the
// environment or a file, never in a config that is committed or logged.
type ESConfig struct {
	Addresses []string // node URLs, e.g. https://es1:9200
	CloudID   string   // Elastic Cloud deployment id, instead of Addresses
	APIKey    string   // base64 "id:api_key"; takes precedence over Username/Password
	Username  string
	Password  string
	// CACertFile is a PEM file of the CA that signed the cluster's certificate.
	CACertFile string

	AlertsIndex   string // default "vigil-alerts"
	VerdictsIndex string // default "vigil-verdicts"
	// FeedbackIndex holds the latest analyst feedback per incident (one
	// document per incident id), which the sink carries into every new
	// version of the incident's verdict; default "vigil-feedback".
	FeedbackIndex string
	// IndexPattern chooses the index of each document: "" (or "fixed")
	// writes every alert to AlertsIndex and every verdict to
	// VerdictsIndex; "monthly" appends the month of a stable property of
	// the document, "-YYYY.MM": the alert's @timestamp, the incident's
	// vigil.incident.first_seen. Both are fixed for a given id, so a
	// re-triaged verdict overwrites its earlier version in the same
	// index and never lands in a second one.
	IndexPattern string

	FlushBytes int // bulk request size threshold; default 5 MB
	Workers    int // concurrent bulk requests per Write; default runtime.NumCPU()
	// MaxRetries bounds the client's retries of a whole request (429, 502,
	// 503, 504, network errors) and Write's re-submissions of items that
	// were answered 429 or 5xx. Default 5; negative disables retries.
	MaxRetries int
	// RetryBackoff is the wait before retry attempt n (1-based); default
	// exponential from 100ms, capped at 5s.
	RetryBackoff        func(attempt int) time.Duration
	CompressRequestBody bool // gzip request bodies
	// Timeout is how long one request waits for the cluster's answer;
	// default 60s.
	Timeout time.Duration
}

// Values of ESConfig.IndexPattern.
const (
	IndexFixed   = "fixed"
	IndexMonthly = "monthly"
)

// Index names used when ESConfig leaves them empty.
const (
	DefaultAlertsIndex   = "vigil-alerts"
	DefaultVerdictsIndex = "vigil-verdicts"
	DefaultFeedbackIndex = "vigil-feedback"
)

// ESSink indexes documents into Elasticsearch through the official
// client's BulkIndexer, with action "index" and _id = Doc.ID, so a replay
// overwrites instead of duplicating. It is safe for concurrent use.
type ESSink struct {
	client  *elasticsearch.Client
	indices map[string]string // by kind
	// feedbackIndex is the analysts' feedback register (ESConfig).
	feedbackIndex string
	monthly       bool
	flushBytes    int
	workers       int
	maxRetries    int
	backoff       func(int) time.Duration
	where         string // addresses without credentials, for errors
	stale         atomic.Int64
}

// Stale returns how many verdicts were skipped because Elasticsearch
// already held a bigger version of their incident (see Doc).
func (s *ESSink) Stale() int64 { return s.stale.Load() }

// defaultBackoff doubles from 100ms up to 5s.
func defaultBackoff(attempt int) time.Duration {
	d := 100 * time.Millisecond
	for i := 1; i < attempt && d < 5*time.Second; i++ {
		d *= 2
	}
	return min(d, 5*time.Second)
}

// NewESSink builds the client; it does not contact the cluster (see Ping).
func NewESSink(cfg ESConfig) (*ESSink, error) {
	if len(cfg.Addresses) == 0 && cfg.CloudID == "" {
		return nil, errors.New("indexer: elasticsearch: addresses or cloud_id is required")
	}
	s := &ESSink{
		indices: map[string]string{
			KindAlert:   orDefault(cfg.AlertsIndex, DefaultAlertsIndex),
			KindVerdict: orDefault(cfg.VerdictsIndex, DefaultVerdictsIndex),
		},
		feedbackIndex: orDefault(cfg.FeedbackIndex, DefaultFeedbackIndex),
		flushBytes:    cfg.FlushBytes,
		workers:       cfg.Workers,
		maxRetries:    cfg.MaxRetries,
		backoff:       cfg.RetryBackoff,
		where:         describe(cfg),
	}
	switch cfg.IndexPattern {
	case "", IndexFixed:
	case IndexMonthly:
		s.monthly = true
	default:
		return nil, fmt.Errorf("indexer: elasticsearch: index_pattern %q: want %q or %q", cfg.IndexPattern, IndexFixed, IndexMonthly)
	}
	if s.flushBytes <= 0 {
		s.flushBytes = 5 << 20
	}
	if s.workers <= 0 {
		s.workers = runtime.NumCPU()
	}
	switch {
	case s.maxRetries == 0:
		s.maxRetries = 5
	case s.maxRetries < 0:
		s.maxRetries = 0
	}
	if s.backoff == nil {
		s.backoff = defaultBackoff
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}

	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = timeout
	tr.MaxIdleConnsPerHost = max(s.workers, 2)
	tr.DialContext = (&net.Dialer{Timeout: min(timeout, 30*time.Second), KeepAlive: 30 * time.Second}).DialContext
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	var caCert []byte
	if cfg.CACertFile != "" {
		pem, err := os.ReadFile(cfg.CACertFile)
		if err != nil {
			return nil, fmt.Errorf("indexer: elasticsearch: read ca_cert: %w", err)
		}
		// Checked here for a clear message; the client installs it.
		if !x509.NewCertPool().AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("indexer: elasticsearch: ca_cert %s holds no PEM certificate", cfg.CACertFile)
		}
		caCert = pem
	}

	client, err := elasticsearch.NewClient(elasticsearch.Config{
		Addresses:           cfg.Addresses,
		CloudID:             cfg.CloudID,
		APIKey:              cfg.APIKey,
		Username:            cfg.Username,
		Password:            cfg.Password,
		Transport:           tr,
		CACert:              caCert,
		RetryOnStatus:       []int{http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout},
		MaxRetries:          s.maxRetries,
		DisableRetry:        s.maxRetries == 0,
		RetryBackoff:        s.backoff,
		CompressRequestBody: cfg.CompressRequestBody,
	})
	if err != nil {
		return nil, fmt.Errorf("indexer: elasticsearch %s: %w", s.where, err)
	}
	s.client = client
	return s, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// describe names the cluster for error messages, without credentials.
func describe(cfg ESConfig) string {
	if cfg.CloudID != "" {
		name, _, _ := strings.Cut(cfg.CloudID, ":")
		return "cloud deployment " + name
	}
	out := make([]string, len(cfg.Addresses))
	for i, a := range cfg.Addresses {
		if u, err := url.Parse(a); err == nil {
			out[i] = u.Redacted()
		} else {
			out[i] = "(unparsable address)"
		}
	}
	return strings.Join(out, ",")
}

// Ping asks the cluster for its info (GET /), so startup fails with a
// clear message when the cluster is unreachable, refuses the credentials
// or is not Elasticsearch.
func (s *ESSink) Ping(ctx context.Context) error {
	res, err := s.client.Info(s.client.Info.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("indexer: elasticsearch at %s: %w", s.where, err)
	}
	defer res.Body.Close()
	if res.IsError() {
		return fmt.Errorf("indexer: elasticsearch at %s answered %s", s.where, res.Status())
	}
	return nil
}

// Close releases the client's connections. Write holds no buffered
// documents between calls, so there is nothing to flush.
func (s *ESSink) Close() error {
	if err := s.client.Close(context.Background()); err != nil && !errors.Is(err, elasticsearch.ErrAlreadyClosed) {
		return fmt.Errorf("indexer: elasticsearch: close: %w", err)
	}
	return nil
}

// Write indexes docs and blocks until each has an outcome. Items answered
// 429 or 5xx inside a successful bulk response are re-submitted with
// backoff, up to MaxRetries times; items rejected for good (mapping
// conflict, bad document: any other 4xx) come back in failed. A request
// that fails as a whole after the client's retries, items still refused
// after MaxRetries, or ctx ending give an error: then nothing may be
// assumed stored and the whole batch should be retried later.
func (s *ESSink) Write(ctx context.Context, docs []Doc) ([]Failed, error) {
	var failed []Failed
	pending := make([]item, 0, len(docs))
	type docKey struct{ index, id string }
	seen := make(map[docKey]int, len(docs))
	for _, d := range docs {
		switch {
		case s.indices[d.Kind] == "":
			failed = append(failed, Failed{Doc: d, Reason: fmt.Sprintf("unknown document kind %q (want %q or %q)", d.Kind, KindAlert, KindVerdict)})
		case d.ID == "":
			failed = append(failed, Failed{Doc: d, Reason: "document has no id; without one a replay would duplicate it"})
		default:
			// The bulk body is NDJSON: a document must be valid JSON on one
			// line, or it would corrupt the whole request.
			body, err := oneLine(d.Body)
			if err != nil {
				failed = append(failed, Failed{Doc: d, Reason: fmt.Sprintf("document %q is not valid JSON: %v", d.ID, err)})
				continue
			}
			index, err := s.IndexFor(d)
			if err != nil {
				failed = append(failed, Failed{Doc: d, Reason: err.Error()})
				continue
			}
			var version int64
			if d.Kind == KindVerdict {
				version = d.Version
			}
			if d.Kind == KindVerdict && version <= 0 {
				if _, version, err = docIdentity(body); err != nil {
					failed = append(failed, Failed{Doc: d, Reason: fmt.Sprintf("document %q: %v", d.ID, err)})
					continue
				}
			}
			// A batch may hold several versions of one document (a
			// re-triaged verdict); the requests of one round run in
			// parallel, so only the highest (the last of equals) is sent.
			it := item{doc: d, body: body, index: index, version: version}
			key := docKey{index, d.ID}
			if i, ok := seen[key]; ok {
				if version >= pending[i].version {
					pending[i] = it
				} else {
					s.stale.Add(1)
				}
				continue
			}
			seen[key] = len(pending)
			pending = append(pending, it)
		}
	}
	if err := s.carryFeedback(ctx, pending); err != nil {
		return nil, err
	}
	sent, written, err := s.send(ctx, pending)
	if err != nil {
		return nil, err
	}
	failed = append(failed, sent...)
	repaired, err := s.keepFeedback(ctx, written)
	if err != nil {
		return nil, err
	}
	return append(failed, repaired...), nil
}

// send writes items in bulk rounds, re-submitting the items refused for
// a while (429, 5xx) with backoff, and returns the items refused for
// good and the items stored (a verdict Elasticsearch held a bigger
// version of is neither: it is counted as stale).
func (s *ESSink) send(ctx context.Context, pending []item) (failed []Failed, written []item, err error) {
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt > 0 {
			t := time.NewTimer(s.backoff(attempt))
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, nil, fmt.Errorf("indexer: elasticsearch %s: %w", s.where, ctx.Err())
			case <-t.C:
			}
		}
		round, err := s.bulk(ctx, pending)
		if err != nil {
			return nil, nil, err
		}
		failed = append(failed, round.failed...)
		written = append(written, round.written...)
		if len(round.retry) > 0 && attempt >= s.maxRetries {
			return nil, nil, retryable(fmt.Errorf("indexer: elasticsearch %s: %d documents still refused after %d retries; last: %s",
				s.where, len(round.retry), s.maxRetries, round.lastRetryReason))
		}
		pending = round.retry
	}
	return failed, written, nil
}

// oneLine returns body as one line of valid JSON: body itself when it
// already is (the usual case: documents come compact from Kafka), a
// compacted copy when it spans lines, an error when it is not JSON.
func oneLine(body []byte) ([]byte, error) {
	if validJSON(body) && bytes.IndexByte(body, '\n') < 0 {
		return body, nil
	}
	// Spans lines, or invalid: encoding/json compacts it or says what is
	// wrong and where.
	var buf bytes.Buffer
	if err := json.Compact(&buf, body); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// item is a document to send, with its body compacted to one line.
type item struct {
	doc   Doc
	body  []byte
	index string
	// version is a verdict's (Doc), written with version_type
	// external_gte; 0 writes without a version.
	version int64
}

// roundResult is the outcome of one bulk round.
type roundResult struct {
	failed          []Failed
	written         []item
	retry           []item
	lastRetryReason string
}

// outcome of one item in a round.
type outcome struct {
	done   bool
	retry  bool
	stale  bool // a bigger version is stored already
	reason string
}

// bulk sends docs once through a BulkIndexer that lives for this round,
// so closing it flushes and waits for every item's callback.
func (s *ESSink) bulk(ctx context.Context, items []item) (roundResult, error) {
	var (
		mu       sync.Mutex
		outcomes = make([]outcome, len(items))
		reqErr   error
	)
	setErr := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if reqErr == nil {
			reqErr = err
		}
	}
	// One round never needs more than one request per worker: cap the
	// buffers (which the indexer allocates up front, one per worker) at
	// a worker's share of the round. Items go to the workers round-robin;
	// a worker that gets more than its share sends a second request.
	size, largest := 0, 0
	for _, it := range items {
		n := len(it.body) + len(it.doc.ID) + len(it.index) + 64
		size += n
		largest = max(largest, n)
	}
	workers := max(min(s.workers, len(items)), 1)
	tr := &countingTransport{Transport: s.client}
	bi, err := esutil.NewBulkIndexer(esutil.BulkIndexerConfig{
		Client:     tr,
		Decoder:    checkedDecoder{},
		NumWorkers: workers,
		FlushBytes: min(s.flushBytes, size/workers+2*largest+1),
		// Only what the outcome of an item needs, a fraction of the full
		// answer to decode: whether any item failed, and each item's
		// status and error (its position tells which item it is).
		FilterPath: []string{"errors", "items.*.status", "items.*.error"},
		// The indexer runs its requests on a background context; hand it
		// the caller's so cancelling Write cancels requests in flight.
		OnFlushStart: func(context.Context) context.Context { return ctx },
		OnError:      func(_ context.Context, err error) { setErr(err) },
	})
	if err != nil {
		return roundResult{}, fmt.Errorf("indexer: elasticsearch %s: bulk indexer: %w", s.where, err)
	}
	for i, it := range items {
		var version *int64
		var versionType string
		if it.version > 0 {
			version, versionType = &it.version, "external_gte"
		}
		err := bi.Add(ctx, esutil.BulkIndexerItem{
			Action:      "index",
			Index:       it.index,
			DocumentID:  it.doc.ID,
			Version:     version,
			VersionType: versionType,
			Body:        bytes.NewReader(it.body),
			OnSuccess: func(_ context.Context, _ esutil.BulkIndexerItem, res esutil.BulkIndexerResponseItem) {
				mu.Lock()
				defer mu.Unlock()
				if res.Status < 200 || res.Status > 299 {
					// The indexer counts any status up to 201 without an
					// error type as success; a real answer always has one.
					outcomes[i] = outcome{done: true, retry: true, reason: fmt.Sprintf("bulk item answered with status %d", res.Status)}
					return
				}
				outcomes[i] = outcome{done: true}
			},
			OnFailure: func(_ context.Context, _ esutil.BulkIndexerItem, res esutil.BulkIndexerResponseItem, err error) {
				if err != nil {
					setErr(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if it.version > 0 && res.Status == http.StatusConflict && res.Error.Type == "version_conflict_engine_exception" {
					outcomes[i] = outcome{done: true, stale: true}
					return
				}
				outcomes[i] = outcome{done: true, retry: retryableStatus(res.Status), reason: itemReason(it.index, res)}
			},
		})
		if err != nil {
			_ = bi.Close(ctx)
			return roundResult{}, fmt.Errorf("indexer: elasticsearch %s: %w", s.where, err)
		}
	}
	if err := bi.Close(ctx); err != nil {
		return roundResult{}, fmt.Errorf("indexer: elasticsearch %s: %w", s.where, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if reqErr != nil {
		if ctx.Err() != nil {
			return roundResult{}, fmt.Errorf("indexer: elasticsearch %s: bulk request failed: %w (%v)", s.where, ctx.Err(), reqErr)
		}
		err := fmt.Errorf("indexer: elasticsearch %s: bulk request failed: %w", s.where, reqErr)
		if tr.transient() {
			err = retryable(err)
		}
		return roundResult{}, err
	}
	var r roundResult
	for i, o := range outcomes {
		switch {
		case !o.done:
			return roundResult{}, fmt.Errorf("indexer: elasticsearch %s: bulk response has no result for document %q", s.where, items[i].doc.ID)
		case o.stale:
			s.stale.Add(1)
		case o.retry:
			r.retry = append(r.retry, items[i])
			r.lastRetryReason = o.reason
		case o.reason != "":
			r.failed = append(r.failed, Failed{Doc: items[i].doc, Reason: o.reason})
		default:
			r.written = append(r.written, items[i])
		}
	}
	return r, nil
}

// retryableStatus reports whether a status is transient: the cluster was
// overloaded (429), timed out (408) or a shard unavailable (5xx).
func retryableStatus(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500
}

// retryable marks err as one that retrying the batch later can fix.
func retryable(err error) error { return &retryableError{err: err} }

// itemReason builds the DLQ reason from an item's error. index is the
// one the item was sent to: the filtered answer Write asks for does not
// repeat it.
func itemReason(index string, res esutil.BulkIndexerResponseItem) string {
	if res.Index != "" {
		index = res.Index
	}
	var b strings.Builder
	fmt.Fprintf(&b, "elasticsearch rejected document (index %s, status %d)", index, res.Status)
	if res.Error.Type != "" {
		fmt.Fprintf(&b, ": %s: %s", res.Error.Type, res.Error.Reason)
	}
	if res.Error.Cause.Type != "" {
		fmt.Fprintf(&b, " (caused by %s: %s)", res.Error.Cause.Type, res.Error.Cause.Reason)
	}
	return b.String()
}

// countingTransport tags each bulk answer with the number of items its
// request carried, for checkedDecoder, and remembers whether the last
// request failed in a way a later retry can fix.
type countingTransport struct {
	esapi.Transport
	mu        sync.Mutex
	lastErr   error
	lastState int
}

// transient reports whether the last request failed for a network error
// or a 408/429/5xx answer.
func (t *countingTransport) transient() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.lastErr != nil {
		return true
	}
	return retryableStatus(t.lastState)
}

// Perform counts the request's items (an action line and a one-line
// document each) before sending it.
func (t *countingTransport) Perform(req *http.Request) (*http.Response, error) {
	sent := -1
	if req.GetBody != nil {
		if body, err := req.GetBody(); err == nil {
			if n, err := countNewlines(body); err == nil {
				sent = n / 2
			}
			_ = body.Close()
		}
	}
	res, err := t.Transport.Perform(req)
	t.mu.Lock()
	t.lastErr, t.lastState = err, 0
	if err == nil && res != nil {
		t.lastState = res.StatusCode
	}
	t.mu.Unlock()
	if err == nil && res != nil && res.Body != nil && sent >= 0 {
		res.Body = &sentItems{ReadCloser: res.Body, sent: sent}
	}
	return res, err
}

// countNewlines counts the newlines r holds. The request body's reader
// (a bytes.Reader) hands its whole buffer to Write, without a copy.
func countNewlines(r io.Reader) (int, error) {
	var c newlineCounter
	_, err := io.Copy(&c, r)
	return int(c), err
}

// newlineCounter is an io.Writer that counts the newlines written to it.
type newlineCounter int

func (c *newlineCounter) Write(p []byte) (int, error) {
	*c += newlineCounter(bytes.Count(p, []byte{'\n'}))
	return len(p), nil
}

// sentItems is a bulk answer's body that knows how many items were sent.
type sentItems struct {
	io.ReadCloser
	sent int
}

// checkedDecoder refuses a bulk answer with more items than were sent: the
// BulkIndexer would index past its items and panic. (Fewer items leave
// documents without an outcome, which Write reports as an error.)
type checkedDecoder struct{}

func (checkedDecoder) UnmarshalFromReader(r io.Reader, blk *esutil.BulkIndexerResponse) error {
	data, err := readBulkAnswer(r)
	if err != nil {
		return err
	}
	if err := decodeBulkAnswer(data, blk); err != nil {
		return err
	}
	if si, ok := r.(*sentItems); ok && len(blk.Items) > si.sent {
		n := len(blk.Items)
		blk.Items = nil
		return fmt.Errorf("bulk answer has %d items for %d documents sent", n, si.sent)
	}
	return nil
}
