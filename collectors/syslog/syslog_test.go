package syslog

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/collectors/input"
)

const (
	msg5424 = `<34>1 2025-12-10T09:52:17Z web-01 sshd 1234 - - Failed password for root from 198.51.100.23 port 42393 ssh2`
	msg3164 = `<38>Dec 10 09:52:17 web-01 sshd[1234]: Accepted password for deploy from 198.51.100.23 port 42400 ssh2`
)

// server runs an input on 127.0.0.1 and collects what it delivers.
type server struct {
	in     *Input
	recs   chan input.Record
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, cfg Config, gate chan struct{}) *server {
	t.Helper()
	in, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{in: in, recs: make(chan input.Record, 10000), cancel: cancel, done: make(chan error, 1)}
	go func() {
		s.done <- in.Run(ctx, func(ctx context.Context, b []input.Record) error {
			if gate != nil {
				select {
				case <-gate:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			for _, r := range b {
				s.recs <- r
			}
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-s.done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v, want context.Canceled", err)
		}
	})
	return s
}

func (s *server) next(t *testing.T) input.Record {
	t.Helper()
	select {
	case r := <-s.recs:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no message delivered")
	}
	return input.Record{}
}

func (s *server) addr(t *testing.T, proto string) string {
	for _, a := range s.in.Addrs() {
		if p, addr, _ := ParseListen(a); p == proto {
			return addr
		}
	}
	t.Fatalf("no %s listener", proto)
	return ""
}

func TestUDP(t *testing.T) {
	s := start(t, Config{Listen: []string{"udp://127.0.0.1:0"}, FlushInterval: time.Millisecond}, nil)
	c, err := net.Dial("udp", s.addr(t, "udp"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, m := range []string{msg5424, msg3164 + "\n"} {
		if _, err := c.Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{msg5424, msg3164} {
		r := s.next(t)
		if string(r.Data) != want {
			t.Errorf("got %q, want %q", r.Data, want)
		}
		if r.Peer != c.LocalAddr().String() || r.Source.Name != "syslog:udp:"+c.LocalAddr().String() {
			t.Errorf("peer %q source %q, want the sender %s", r.Peer, r.Source.Name, c.LocalAddr())
		}
	}
}

func TestTCPFraming(t *testing.T) {
	long := strings.Repeat("x", 300)
	split := octet(msg5424) + "<38>Dec 10 rest\n"
	cases := []struct {
		name   string
		chunks []string // written one after the other, with pauses
		want   []string
		trunc  []bool
	}{
		{"newline", []string{msg5424 + "\n" + msg3164 + "\n"}, []string{msg5424, msg3164}, nil},
		{"CRLF and empty lines", []string{msg5424 + "\r\n\n" + msg3164 + "\r\n"}, []string{msg5424, msg3164}, nil},
		{"octet counting", []string{octet(msg5424) + octet(msg3164)}, []string{msg5424, msg3164}, nil},
		{"octet counting with newlines inside", []string{octet("<13>1 - h a - - - two\nlines")}, []string{"<13>1 - h a - - - two\nlines"}, nil},
		{"mixed per message", []string{octet(msg5424) + msg3164 + "\n" + octet("<13>x")}, []string{msg5424, msg3164, "<13>x"}, nil},
		{"frames split across writes", []string{split[:2], split[2:50], split[50 : len(split)-8], split[len(split)-8:]}, []string{msg5424, "<38>Dec 10 rest"}, nil},
		{"unterminated last line is delivered", []string{msg5424 + "\n" + msg3164}, []string{msg5424, msg3164}, nil},
		{"connection closed inside a counted frame", []string{"200 <13>partial"}, []string{"<13>partial"}, []bool{true}},
		{"too long, counted", []string{octet(long) + octet("<13>next")}, []string{long[:200], "<13>next"}, []bool{true, false}},
		{"too long, newline", []string{long + "\n<13>next\n"}, []string{long[:200], "<13>next"}, []bool{true, false}},
		{"digits without a space are a line", []string{"12ab\n"}, []string{"12ab"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, Config{Listen: []string{"tcp://127.0.0.1:0"}, MaxMessageBytes: 200, FlushInterval: time.Millisecond}, nil)
			c, err := net.Dial("tcp", s.addr(t, "tcp"))
			if err != nil {
				t.Fatal(err)
			}
			for _, ch := range tc.chunks {
				if _, err := c.Write([]byte(ch)); err != nil {
					t.Fatal(err)
				}
				time.Sleep(5 * time.Millisecond)
			}
			c.Close()
			var stream bytes.Buffer
			for _, ch := range tc.chunks {
				stream.WriteString(ch)
			}
			for i, want := range tc.want {
				r := s.next(t)
				if string(r.Data) != want {
					t.Errorf("message %d = %q, want %q", i, r.Data, want)
				}
				if tc.trunc != nil && r.Truncated != tc.trunc[i] {
					t.Errorf("message %d truncated=%v, want %v", i, r.Truncated, tc.trunc[i])
				}
				if !strings.HasPrefix(r.Source.Name, "syslog:tcp:127.0.0.1:") {
					t.Errorf("source %q", r.Source.Name)
				}
			}
			select {
			case r := <-s.recs:
				t.Errorf("unexpected extra message %q", r.Data)
			case <-time.After(20 * time.Millisecond):
			}
		})
	}
}

func octet(m string) string { return itoa(len(m)) + " " + m }

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func TestTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	s := start(t, Config{Listen: []string{"tls://127.0.0.1:0"}, TLS: TLS{CertFile: certFile, KeyFile: keyFile}, FlushInterval: time.Millisecond}, nil)
	c, err := tls.Dial("tcp", s.addr(t, "tls"), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(octet(msg5424) + msg3164 + "\n")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{msg5424, msg3164} {
		r := s.next(t)
		if string(r.Data) != want || !strings.HasPrefix(r.Source.Name, "syslog:tls:") {
			t.Errorf("got %q from %s, want %q from syslog:tls:…", r.Data, r.Source.Name, want)
		}
	}
	// A plain-text client gets nothing through.
	p, err := net.Dial("tcp", s.addr(t, "tls"))
	if err != nil {
		t.Fatal(err)
	}
	p.Write([]byte(msg3164 + "\n"))
	p.Close()
	select {
	case r := <-s.recs:
		t.Errorf("plain text accepted on the TLS port: %q", r.Data)
	case <-time.After(50 * time.Millisecond):
	}
}

// TestTCPSlowHandlerPushesBack: while the handler is blocked, the input
// stops reading, the sender's writes stall (no unbounded buffering), and
// once the handler resumes every byte sent arrives as a message.
func TestTCPSlowHandlerPushesBack(t *testing.T) {
	gate := make(chan struct{})
	s := start(t, Config{Listen: []string{"tcp://127.0.0.1:0"}, BatchSize: 2, QueueSize: 4, FlushInterval: time.Millisecond}, gate)
	c, err := net.Dial("tcp", s.addr(t, "tcp"))
	if err != nil {
		t.Fatal(err)
	}
	line := []byte(strings.Repeat("m", 1023) + "\n")
	var sent int64
	c.SetWriteDeadline(time.Now().Add(500 * time.Millisecond))
	stalled := false
	for i := 0; i < 64<<10; i++ { // up to 64 MiB
		n, err := c.Write(line)
		sent += int64(n)
		if err != nil {
			stalled = true
			break
		}
	}
	if !stalled {
		t.Fatalf("wrote %d bytes while the handler was blocked: the input buffers without bound", sent)
	}
	close(gate)
	c.Close()
	want := (sent + 1023) / 1024 // the last message may be partial
	for i := int64(0); i < want; i++ {
		s.next(t)
	}
	st := s.in.Stats()
	if st.Dropped != 0 || st.Blocked == 0 {
		t.Errorf("stats %+v: want nothing dropped and some blocked time", st)
	}
}

// TestUDPFullQueueCountsDrops: UDP cannot push back; what does not fit is
// dropped and counted, and everything else is delivered.
func TestUDPFullQueueCountsDrops(t *testing.T) {
	gate := make(chan struct{})
	s := start(t, Config{Listen: []string{"udp://127.0.0.1:0"}, BatchSize: 1, QueueSize: 2, FlushInterval: time.Millisecond}, gate)
	c, err := net.Dial("udp", s.addr(t, "udp"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const sent = 50
	for range sent {
		c.Write([]byte(msg3164))
		time.Sleep(200 * time.Microsecond)
	}
	// Wait until the listener has seen every datagram: held + dropped.
	deadline := time.Now().Add(5 * time.Second)
	for s.in.Stats().Dropped+3 < sent && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(gate)
	dropped := s.in.Stats().Dropped
	if dropped == 0 {
		t.Fatal("nothing dropped with a blocked handler and a queue of 2")
	}
	var got int64
	for got+dropped < sent {
		s.next(t)
		got++
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	cases := []struct {
		cfg  Config
		want string
	}{
		{Config{}, "listen"},
		{Config{Listen: []string{"http://127.0.0.1:1"}}, "protocol"},
		{Config{Listen: []string{"tcp://127.0.0.1"}}, "port"},
		{Config{Listen: []string{"tls://127.0.0.1:0"}}, "cert_file"},
		{Config{Listen: []string{"tls://127.0.0.1:0"}, TLS: TLS{CertFile: "/nonexistent.pem", KeyFile: "/nonexistent.key"}}, "certificate"},
	}
	for _, c := range cases {
		if _, err := New(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v) = %v, want an error about %s", c.cfg, err, c.want)
		}
	}
	// A port in use is reported at start.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := New(Config{Listen: []string{"tcp://" + ln.Addr().String()}}); err == nil || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Errorf("New on a used port = %v", err)
	}
}

// selfSigned writes a fresh self-signed certificate for 127.0.0.1.
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
