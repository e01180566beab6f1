package http

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	nethttp "net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/collectors/input"
)

// testToken makes an obviously fake token for one test.
func testToken(t *testing.T) Secret {
	b := make([]byte, 8)
	rand.Read(b)
	return Secret("test-token-" + hex.EncodeToString(b))
}

type server struct {
	in  *Input
	url string
	mu  sync.Mutex
	got []input.Record
}

// start runs an input; handle, when set, replaces the default handler
// that keeps every record.
func start(t *testing.T, cfg Config, handle input.Handler) *server {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	in, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{in: in, url: "http://" + in.Addr() + Path}
	if cfg.TLS.CertFile != "" {
		s.url = "https://" + in.Addr() + Path
	}
	if handle == nil {
		handle = func(_ context.Context, b []input.Record) error {
			s.mu.Lock()
			s.got = append(s.got, b...)
			s.mu.Unlock()
			return nil
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx, handle) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v", err)
		}
	})
	return s
}

func post(t *testing.T, c *nethttp.Client, url string, token Secret, body string) (*nethttp.Response, Answer) {
	t.Helper()
	req, _ := nethttp.NewRequest(nethttp.MethodPost, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+string(token))
	}
	if c == nil {
		c = nethttp.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a Answer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("answer is not JSON: %v", err)
	}
	return resp, a
}

func TestAuth(t *testing.T) {
	tok := testToken(t)
	s := start(t, Config{Token: tok}, nil)
	cases := []struct {
		name  string
		token Secret
		want  int
	}{
		{"no token", "", 401},
		{"wrong token", "test-token-wrong", 401},
		{"prefix of the token", tok[:len(tok)-1], 401},
		{"right token", tok, 200},
	}
	for _, c := range cases {
		resp, _ := post(t, nil, s.url, c.token, "hello\n")
		if resp.StatusCode != c.want {
			t.Errorf("%s: status %d, want %d", c.name, resp.StatusCode, c.want)
		}
		if c.want == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: no WWW-Authenticate: Bearer", c.name)
		}
	}
	if len(s.got) != 1 {
		t.Errorf("handler got %d records, want only the authorized one", len(s.got))
	}
	if strings.Contains(fmt.Sprintf("%v %+v %#v", s.in.cfg, s.in.cfg, s.in.cfg), string(tok)) {
		t.Error("the token shows when the config is printed")
	}
}

func TestRecordsAndPartialFailure(t *testing.T) {
	tok := testToken(t)
	s := start(t, Config{Token: tok, MaxLineBytes: 100}, nil)
	body := `{"message":"one","host":{"name":"web-01"}}` + "\n" +
		"Dec 10 09:52:17 web-01 sshd[1]: raw line\r\n" +
		`{"message": broken` + "\n" +
		"\n" +
		strings.Repeat("x", 101) + "\n" +
		"bad \xff utf8"
	resp, a := post(t, nil, s.url, tok, body)
	if resp.StatusCode != 200 || a.Accepted != 3 {
		t.Fatalf("status %d answer %+v, want 200 with 3 accepted", resp.StatusCode, a)
	}
	if len(a.Rejected) != 2 || a.Rejected[0].Line != 3 || !strings.Contains(a.Rejected[0].Reason, "JSON") ||
		a.Rejected[1].Line != 5 || !strings.Contains(a.Rejected[1].Reason, "max_line_bytes") {
		t.Errorf("rejected = %+v, want line 3 (JSON) and line 5 (too long)", a.Rejected)
	}
	want := []string{`{"message":"one","host":{"name":"web-01"}}`, "Dec 10 09:52:17 web-01 sshd[1]: raw line", "bad \xff utf8"}
	if len(s.got) != 3 {
		t.Fatalf("handler got %d records", len(s.got))
	}
	for i, r := range s.got {
		if string(r.Data) != want[i] {
			t.Errorf("record %d = %q, want %q", i, r.Data, want[i])
		}
		if !strings.HasPrefix(body[r.Source.Offset:], want[i]) {
			t.Errorf("record %d: offset %d does not point at it in the body", i, r.Source.Offset)
		}
		if !strings.HasPrefix(r.Source.Name, "http:") || r.Peer == "" {
			t.Errorf("record %d: source %q peer %q", i, r.Source.Name, r.Peer)
		}
	}
	if !s.got[2].InvalidUTF8 || s.got[0].InvalidUTF8 {
		t.Error("invalid UTF-8 not flagged on the right record")
	}
	// The same body again (a client retry) gets the same sources.
	first := s.got[0].Source
	post(t, nil, s.url, tok, body)
	if s.got[3].Source != first {
		t.Errorf("retried body: source %v, first time %v", s.got[3].Source, first)
	}
	// Nothing acceptable: 400.
	if resp, a := post(t, nil, s.url, tok, "{nope\n"); resp.StatusCode != 400 || len(a.Rejected) != 1 {
		t.Errorf("all lines bad: status %d %+v, want 400", resp.StatusCode, a)
	}
}

func TestSizeLimit(t *testing.T) {
	tok := testToken(t)
	s := start(t, Config{Token: tok, MaxRequestBytes: 64}, nil)
	if resp, _ := post(t, nil, s.url, tok, strings.Repeat("a", 60)+"\n"); resp.StatusCode != 200 {
		t.Errorf("61 bytes: status %d, want 200", resp.StatusCode)
	}
	if resp, _ := post(t, nil, s.url, tok, strings.Repeat("a\n", 40)); resp.StatusCode != 413 {
		t.Errorf("80 bytes: status %d, want 413", resp.StatusCode)
	}
	// Without Content-Length (chunked), the limit holds while reading.
	pr, pw := io.Pipe()
	go func() {
		for range 10 {
			pw.Write([]byte("0123456789\n"))
		}
		pw.Close()
	}()
	req, _ := nethttp.NewRequest(nethttp.MethodPost, s.url, pr)
	req.Header.Set("Authorization", "Bearer "+string(tok))
	resp, err := nethttp.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("chunked 110 bytes: status %d, want 413", resp.StatusCode)
	}
	if len(s.got) != 1 {
		t.Errorf("handler got %d records, want 1 (nothing from refused bodies)", len(s.got))
	}
}

// TestBackpressure: with the pipeline stuck, the request in flight is not
// answered, a request beyond max_in_flight gets 503 with Retry-After, and
// the first is answered 200 only once the handler returned.
func TestBackpressure(t *testing.T) {
	tok := testToken(t)
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	s := start(t, Config{Token: tok, MaxInFlight: 1, RetryAfter: 2 * time.Second}, func(ctx context.Context, _ []input.Record) error {
		entered <- struct{}{}
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	first := make(chan int, 1)
	go func() {
		resp, _ := post(t, nil, s.url, tok, "one\n")
		first <- resp.StatusCode
	}()
	<-entered
	resp, a := post(t, nil, s.url, tok, "two\n")
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "2" || a.Error == "" {
		t.Errorf("second request: status %d Retry-After %q %+v, want 503 and 2", resp.StatusCode, resp.Header.Get("Retry-After"), a)
	}
	select {
	case code := <-first:
		t.Fatalf("first request answered %d before the handler returned", code)
	default:
	}
	close(release)
	if code := <-first; code != 200 {
		t.Errorf("first request: %d, want 200", code)
	}
	if st := s.in.Stats(); st.Records != 1 || st.Rejected != 1 {
		t.Errorf("stats %+v, want 1 record and 1 rejected request", st)
	}
}

func TestHandlerErrorIs503(t *testing.T) {
	tok := testToken(t)
	s := start(t, Config{Token: tok}, func(context.Context, []input.Record) error { return errors.New("kafka down") })
	resp, a := post(t, nil, s.url, tok, "one\n")
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(a.Error, "kafka down") {
		t.Errorf("status %d %+v, want 503 naming the failure", resp.StatusCode, a)
	}
}

func TestMethodAndPath(t *testing.T) {
	tok := testToken(t)
	s := start(t, Config{Token: tok}, nil)
	resp, err := nethttp.Get(s.url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("GET: %d, want 405", resp.StatusCode)
	}
	resp, _ = post(t, nil, strings.TrimSuffix(s.url, Path)+"/other", tok, "x")
	if resp.StatusCode != 404 {
		t.Errorf("other path: %d, want 404", resp.StatusCode)
	}
}

func TestTLS(t *testing.T) {
	tok := testToken(t)
	certFile, keyFile, pool := selfSigned(t)
	s := start(t, Config{Token: tok, TLS: TLS{CertFile: certFile, KeyFile: keyFile}}, nil)
	c := &nethttp.Client{Transport: &nethttp.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if resp, a := post(t, c, s.url, tok, "over tls\n"); resp.StatusCode != 200 || a.Accepted != 1 {
		t.Errorf("status %d %+v", resp.StatusCode, a)
	}
	// Plain HTTP on the TLS port gets nowhere.
	req, _ := nethttp.NewRequest(nethttp.MethodPost, strings.Replace(s.url, "https", "http", 1), strings.NewReader("x\n"))
	req.Header.Set("Authorization", "Bearer "+string(tok))
	if resp, err := nethttp.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("plain HTTP accepted on the TLS port")
		}
	}
	if len(s.got) != 1 {
		t.Errorf("got %d records, want 1", len(s.got))
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	cases := []struct {
		cfg  Config
		want string
	}{
		{Config{Token: "x"}, "listen"},
		{Config{Listen: "nope", Token: "x"}, "listen"},
		{Config{Listen: "127.0.0.1:0"}, "VIGIL_INGEST_TOKEN"},
		{Config{Listen: "127.0.0.1:0", Token: "x", TLS: TLS{CertFile: "/nonexistent"}}, "tls"},
	}
	for _, c := range cases {
		if _, err := New(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v) = %v, want an error about %s", c.cfg, err, c.want)
		}
	}
}

func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "vigil test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
