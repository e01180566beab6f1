package http

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	nethttp "net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/vigil-siem/vigil/collectors/input"
	"github.com/vigil-siem/vigil/collectors/parsers"
)

// Defaults for the zero values of Config.
const (
	DefaultMaxRequestBytes = 10 << 20
	DefaultMaxLineBytes    = 1 << 20
	DefaultMaxInFlight     = 4
	DefaultBatchSize       = 512
	DefaultRetryAfter      = time.Second
	// Path is where records are posted.
	Path = "/ingest"
)

// Secret is a credential: it prints as [redacted], so a logged Config
// does not leak it.
type Secret string

// String hides the secret.
func (Secret) String() string { return "[redacted]" }

// GoString hides the secret from %#v.
func (Secret) GoString() string { return "[redacted]" }

// TLS names the server certificate and key (PEM files); empty: plain HTTP.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Config says where to listen and what to accept.
type Config struct {
	// Listen is host:port, e.g. 127.0.0.1:8088.
	Listen string `yaml:"listen"`
	TLS    TLS    `yaml:"tls"`
	// Token is the bearer token clients must send (required; read it from
	// a file or the environment, never from the configuration file).
	Token Secret `yaml:"-"`
	// MaxRequestBytes caps a request body (default 10 MiB): 413 beyond.
	MaxRequestBytes int64 `yaml:"max_request_bytes"`
	// MaxLineBytes caps a line (default 1 MiB); a longer line is rejected.
	MaxLineBytes int `yaml:"max_line_bytes"`
	// MaxInFlight is how many requests may wait for the pipeline at once
	// (default 4); more get 503 with Retry-After.
	MaxInFlight int `yaml:"max_in_flight"`
	// BatchSize is the most lines per handler call (default 512).
	BatchSize int `yaml:"batch_size"`
	// RetryAfter is what a 503 tells clients to wait (default 1s).
	RetryAfter time.Duration `yaml:"retry_after"`
}

// Input is a bound HTTP ingest endpoint.
type Input struct {
	cfg      Config
	ln       net.Listener
	slots    chan struct{}
	counters input.Counters

	mu     sync.Mutex // one handler call at a time
	handle input.Handler
}

// New checks cfg and binds the listener, so a port in use is reported at
// start. Close releases it if Run is never called.
func New(cfg Config) (*Input, error) {
	if cfg.Listen == "" {
		return nil, errors.New("http input: listen: no address (e.g. 127.0.0.1:8088)")
	}
	if _, _, err := net.SplitHostPort(cfg.Listen); err != nil {
		return nil, fmt.Errorf("http input: listen %q: %w", cfg.Listen, err)
	}
	if cfg.Token == "" {
		return nil, errors.New("http input: no bearer token (set VIGIL_INGEST_TOKEN or token_file)")
	}
	if cfg.MaxRequestBytes < 0 || cfg.MaxLineBytes < 0 || cfg.MaxInFlight < 0 || cfg.BatchSize < 0 || cfg.RetryAfter < 0 {
		return nil, errors.New("http input: max_request_bytes, max_line_bytes, max_in_flight, batch_size and retry_after must not be negative")
	}
	if cfg.MaxRequestBytes == 0 {
		cfg.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if cfg.MaxLineBytes == 0 {
		cfg.MaxLineBytes = DefaultMaxLineBytes
	}
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.RetryAfter == 0 {
		cfg.RetryAfter = DefaultRetryAfter
	}
	var tlsConf *tls.Config
	if cfg.TLS.CertFile != "" || cfg.TLS.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLS.CertFile, cfg.TLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("http input: tls certificate: %w", err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("http input: listen %q: %w", cfg.Listen, err)
	}
	if tlsConf != nil {
		ln = tls.NewListener(ln, tlsConf)
	}
	return &Input{cfg: cfg, ln: ln, slots: make(chan struct{}, cfg.MaxInFlight)}, nil
}

// Addr returns the bound address (useful with port 0).
func (in *Input) Addr() string { return in.ln.Addr().String() }

// Close releases the listener.
func (in *Input) Close() error {
	if err := in.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

// Stats returns the input's counters: Rejected counts refused lines and
// requests (401, 413, 503), Blocked the time requests waited for the
// pipeline.
func (in *Input) Stats() input.Stats { return in.counters.Snapshot() }

// Run serves requests until ctx is done, then stops accepting, lets the
// requests in progress finish (up to 5s) and returns ctx.Err().
func (in *Input) Run(ctx context.Context, handle input.Handler) error {
	in.handle = handle
	srv := &nethttp.Server{
		Handler:           in,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		// Failed TLS handshakes and the like are the client's business; a
		// library does not write to the process's log.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(in.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http input: serve %s: %w", in.cfg.Listen, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	return ctx.Err()
}

// Rejection is one line the input did not take.
type Rejection struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// Answer is the JSON body of every answer to a POST.
type Answer struct {
	Accepted int         `json:"accepted"`
	Rejected []Rejection `json:"rejected"`
	Error    string      `json:"error,omitempty"`
}

// ServeHTTP answers one request.
func (in *Input) ServeHTTP(w nethttp.ResponseWriter, r *nethttp.Request) {
	if r.URL.Path != Path {
		in.fail(w, nethttp.StatusNotFound, "records go to POST "+Path)
		return
	}
	if r.Method != nethttp.MethodPost {
		w.Header().Set("Allow", nethttp.MethodPost)
		in.fail(w, nethttp.StatusMethodNotAllowed, "use POST")
		return
	}
	if !in.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="vigil"`)
		in.fail(w, nethttp.StatusUnauthorized, "missing or wrong bearer token")
		return
	}
	if r.ContentLength > in.cfg.MaxRequestBytes {
		in.fail(w, nethttp.StatusRequestEntityTooLarge, fmt.Sprintf("body over max_request_bytes (%d)", in.cfg.MaxRequestBytes))
		return
	}
	select {
	case in.slots <- struct{}{}:
		defer func() { <-in.slots }()
	default:
		in.busy(w, "too many requests waiting for the pipeline")
		return
	}
	body, err := io.ReadAll(nethttp.MaxBytesReader(w, r.Body, in.cfg.MaxRequestBytes))
	if err != nil {
		var tooBig *nethttp.MaxBytesError
		if errors.As(err, &tooBig) {
			in.fail(w, nethttp.StatusRequestEntityTooLarge, fmt.Sprintf("body over max_request_bytes (%d)", in.cfg.MaxRequestBytes))
			return
		}
		in.fail(w, nethttp.StatusBadRequest, "reading the body: "+err.Error())
		return
	}
	recs, rejected := in.split(body, r.RemoteAddr)
	in.counters.Rejected(len(rejected))
	ans := Answer{Accepted: len(recs), Rejected: rejected}
	if len(recs) == 0 && len(rejected) > 0 {
		ans.Error = "no line accepted"
		writeJSON(w, nethttp.StatusBadRequest, ans)
		return
	}
	if err := in.deliver(r.Context(), recs); err != nil {
		in.busy(w, "pipeline unavailable: "+err.Error())
		return
	}
	writeJSON(w, nethttp.StatusOK, ans)
}

func (in *Input) authorized(r *nethttp.Request) bool {
	h := r.Header.Get("Authorization")
	const prefix = "Bearer "
	if len(h) <= len(prefix) || !bytes.EqualFold([]byte(h[:len(prefix)]), []byte(prefix)) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(h[len(prefix):]), []byte(in.cfg.Token)) == 1
}

// split turns a body into records, one per non-blank line, and the lines
// it rejects.
func (in *Input) split(body []byte, peer string) ([]input.Record, []Rejection) {
	sum := sha256.Sum256(body)
	name := "http:" + hex.EncodeToString(sum[:8])
	var (
		recs     []input.Record
		rejected []Rejection
		off      int64
	)
	for n := 1; len(body) > 0; n++ {
		line, rest, _ := bytes.Cut(body, []byte{'\n'})
		start := off
		off += int64(len(line)) + 1
		body = rest
		line = bytes.TrimSuffix(line, []byte{'\r'})
		trimmed := bytes.TrimSpace(line)
		switch {
		case len(trimmed) == 0:
			continue
		case len(line) > in.cfg.MaxLineBytes:
			rejected = append(rejected, Rejection{Line: n, Reason: fmt.Sprintf("line of %d bytes is over max_line_bytes (%d)", len(line), in.cfg.MaxLineBytes)})
			continue
		case trimmed[0] == '{':
			var v json.RawMessage
			if err := json.Unmarshal(trimmed, &v); err != nil {
				rejected = append(rejected, Rejection{Line: n, Reason: "invalid JSON: " + err.Error()})
				continue
			}
		}
		data := append([]byte(nil), line...)
		recs = append(recs, input.Record{
			Source: parsers.Source{Name: name, Offset: start},
			Data:   data, InvalidUTF8: !utf8.Valid(data), Peer: peer,
		})
	}
	return recs, rejected
}

// deliver hands recs to the handler in batches, one call at a time across
// requests.
func (in *Input) deliver(ctx context.Context, recs []input.Record) error {
	start := time.Now()
	in.mu.Lock()
	defer in.mu.Unlock()
	defer func() { in.counters.Waited(time.Since(start)) }()
	for len(recs) > 0 {
		b := recs[:min(len(recs), in.cfg.BatchSize)]
		recs = recs[len(b):]
		if err := in.handle(ctx, b); err != nil {
			return err
		}
		in.counters.Delivered(len(b), input.BatchBytes(b))
	}
	return nil
}

func (in *Input) fail(w nethttp.ResponseWriter, status int, msg string) {
	in.counters.Rejected(1)
	writeJSON(w, status, Answer{Rejected: []Rejection{}, Error: msg})
}

func (in *Input) busy(w nethttp.ResponseWriter, msg string) {
	secs := int((in.cfg.RetryAfter + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	in.fail(w, nethttp.StatusServiceUnavailable, msg)
}

func writeJSON(w nethttp.ResponseWriter, status int, a Answer) {
	if a.Rejected == nil {
		a.Rejected = []Rejection{}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(a)
}
