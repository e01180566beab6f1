package syslog

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/vigil-siem/vigil/collectors/input"
	"github.com/vigil-siem/vigil/collectors/parsers"
)

// DefaultMaxMessageBytes is the default cap of one message (64 KiB).
const DefaultMaxMessageBytes = 64 << 10

// TLS names the server certificate and key (PEM files).
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Config says where to listen and how much to hold.
type Config struct {
	// Listen holds one address per listener: udp://127.0.0.1:5514,
	// tcp://0.0.0.0:5514, tls://0.0.0.0:6514.
	Listen []string `yaml:"listen"`
	// TLS is required when a tls:// address is configured.
	TLS TLS `yaml:"tls"`
	// MaxMessageBytes caps a message (default 64 KiB); a longer one is
	// cut and flagged Truncated.
	MaxMessageBytes int `yaml:"max_message_bytes"`
	// BatchSize is the most messages per handler call (default 512).
	BatchSize int `yaml:"batch_size"`
	// FlushInterval is the longest a message waits for its batch to fill
	// (default 200ms).
	FlushInterval time.Duration `yaml:"flush_interval"`
	// QueueSize is how many messages may wait for the handler (default
	// 4 × BatchSize): the memory bound.
	QueueSize int `yaml:"queue_size"`
}

// Input is a set of bound syslog listeners.
type Input struct {
	cfg      Config
	counters input.Counters
	streams  []stream
	packets  []packet
}

type stream struct {
	proto string // tcp or tls
	ln    net.Listener
}

type packet struct {
	conn net.PacketConn
}

// New checks cfg and binds every listener, so a port in use is reported
// at start. Close releases them if Run is never called.
func New(cfg Config) (*Input, error) {
	if len(cfg.Listen) == 0 {
		return nil, errors.New("syslog input: listen: no address (e.g. udp://127.0.0.1:5514)")
	}
	if cfg.MaxMessageBytes < 0 || cfg.BatchSize < 0 || cfg.QueueSize < 0 || cfg.FlushInterval < 0 {
		return nil, errors.New("syslog input: max_message_bytes, batch_size, queue_size and flush_interval must not be negative")
	}
	if cfg.MaxMessageBytes == 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	in := &Input{cfg: cfg}
	for _, addr := range cfg.Listen {
		if err := in.bind(addr); err != nil {
			in.Close()
			return nil, fmt.Errorf("syslog input: listen %q: %w", addr, err)
		}
	}
	return in, nil
}

// ParseListen splits "udp://host:port" into its protocol and address.
func ParseListen(s string) (proto, addr string, err error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return "", "", fmt.Errorf("want udp://host:port, tcp://host:port or tls://host:port")
	}
	switch u.Scheme {
	case "udp", "tcp", "tls":
	default:
		return "", "", fmt.Errorf("protocol %q is not udp, tcp or tls", u.Scheme)
	}
	if _, _, err := net.SplitHostPort(u.Host); err != nil {
		return "", "", fmt.Errorf("address %q: %w", u.Host, err)
	}
	return u.Scheme, u.Host, nil
}

func (in *Input) bind(s string) error {
	proto, addr, err := ParseListen(s)
	if err != nil {
		return err
	}
	switch proto {
	case "udp":
		c, err := net.ListenPacket("udp", addr)
		if err != nil {
			return err
		}
		in.packets = append(in.packets, packet{conn: c})
	case "tcp":
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		in.streams = append(in.streams, stream{proto: "tcp", ln: ln})
	case "tls":
		if in.cfg.TLS.CertFile == "" || in.cfg.TLS.KeyFile == "" {
			return errors.New("tls needs tls.cert_file and tls.key_file")
		}
		cert, err := tls.LoadX509KeyPair(in.cfg.TLS.CertFile, in.cfg.TLS.KeyFile)
		if err != nil {
			return fmt.Errorf("tls certificate: %w", err)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		in.streams = append(in.streams, stream{proto: "tls", ln: ln})
	}
	return nil
}

// Addrs returns the bound addresses as "proto://ip:port", in the order of
// Config.Listen (useful with port 0).
func (in *Input) Addrs() []string {
	var out []string
	for _, p := range in.packets {
		out = append(out, "udp://"+p.conn.LocalAddr().String())
	}
	for _, s := range in.streams {
		out = append(out, s.proto+"://"+s.ln.Addr().String())
	}
	return out
}

// Close releases the listeners.
func (in *Input) Close() error {
	var errs []error
	for _, p := range in.packets {
		errs = append(errs, ignoreClosed(p.conn.Close()))
	}
	for _, s := range in.streams {
		errs = append(errs, ignoreClosed(s.ln.Close()))
	}
	return errors.Join(errs...)
}

func ignoreClosed(err error) error {
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Stats returns the input's counters: Dropped counts UDP datagrams lost
// to a full queue, Blocked the time TCP connections waited for room.
func (in *Input) Stats() input.Stats { return in.counters.Snapshot() }

// Run serves the listeners until ctx is done (it returns ctx.Err()) or
// handle fails (it returns that error); either way the listeners and
// connections are closed when it returns. Syslog has no acknowledgement:
// messages still queued when Run returns (at most QueueSize) are lost.
func (in *Input) Run(ctx context.Context, handle input.Handler) error {
	produce := func(ctx context.Context, q *input.Queue) error {
		var wg sync.WaitGroup
		conns := newConnSet()
		for _, p := range in.packets {
			wg.Go(func() { in.serveUDP(ctx, p.conn, q) })
		}
		for _, s := range in.streams {
			wg.Go(func() { in.serveStream(ctx, s, q, conns, &wg) })
		}
		<-ctx.Done()
		in.Close()
		conns.closeAll()
		wg.Wait()
		return ctx.Err()
	}
	err := input.Pump(ctx, input.PumpConfig{BatchSize: in.cfg.BatchSize, FlushInterval: in.cfg.FlushInterval, QueueSize: in.cfg.QueueSize},
		&in.counters, produce, handle, nil)
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("syslog input: %w", err)
	}
	return err
}

func (in *Input) serveUDP(ctx context.Context, c net.PacketConn, q *input.Queue) {
	buf := make([]byte, in.cfg.MaxMessageBytes+1)
	var off int64
	for {
		n, addr, err := c.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			continue // e.g. ICMP errors reported on the socket
		}
		start := off
		off += int64(n)
		data, truncated := buf[:n], false
		if n > in.cfg.MaxMessageBytes {
			data, truncated = data[:in.cfg.MaxMessageBytes], true
		}
		data = trimFrame(data)
		if len(data) == 0 {
			continue
		}
		peer := addr.String()
		q.TrySend(record("udp", peer, start, append([]byte(nil), data...), truncated))
	}
}

func record(proto, peer string, off int64, data []byte, truncated bool) input.Record {
	return input.Record{
		Source: parsers.Source{Name: "syslog:" + proto + ":" + peer, Offset: off},
		Data:   data, Truncated: truncated, InvalidUTF8: !utf8.Valid(data), Peer: peer,
	}
}

// trimFrame drops the line ending or NUL a sender put after a message.
func trimFrame(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == 0) {
		b = b[:len(b)-1]
	}
	return b
}

func (in *Input) serveStream(ctx context.Context, s stream, q *input.Queue, conns *connSet, wg *sync.WaitGroup) {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // e.g. too many open files
			continue
		}
		if !conns.add(c) {
			c.Close()
			return
		}
		wg.Go(func() {
			defer conns.remove(c)
			peer := c.RemoteAddr().String()
			f := framer{r: bufio.NewReaderSize(c, 64<<10), max: in.cfg.MaxMessageBytes}
			for {
				start := f.off
				data, truncated, err := f.next()
				if len(data) > 0 || (err == nil && truncated) {
					if q.Send(ctx, record(s.proto, peer, start, data, truncated)) != nil {
						return
					}
				}
				if err != nil {
					return // io.EOF, a closed connection, a TLS error
				}
			}
		})
	}
}

// framer splits a TCP syslog stream into messages.
type framer struct {
	r   *bufio.Reader
	max int
	off int64 // offset of the next frame in the stream
}

// next returns the next message (a fresh slice, without framing), whether
// it was cut, and io.EOF at the end of the stream. A stream ending inside
// an octet-counted frame yields what was received, flagged truncated.
func (f *framer) next() ([]byte, bool, error) {
	// Octet counting: a length of up to 10 digits, a space, the message.
	var digits []byte
	for len(digits) <= 10 {
		b, err := f.r.ReadByte()
		if err != nil {
			if len(digits) > 0 {
				f.off += int64(len(digits))
				return digits, false, err
			}
			return nil, false, err
		}
		if b >= '0' && b <= '9' && !(len(digits) == 0 && b == '0') {
			digits = append(digits, b)
			continue
		}
		if b == ' ' && len(digits) > 0 {
			return f.counted(digits)
		}
		f.r.UnreadByte()
		break
	}
	return f.line(digits)
}

func (f *framer) counted(digits []byte) ([]byte, bool, error) {
	var n int64
	for _, d := range digits {
		n = n*10 + int64(d-'0')
	}
	f.off += int64(len(digits)) + 1
	keep := min(n, int64(f.max))
	buf := make([]byte, keep)
	got, err := io.ReadFull(f.r, buf)
	f.off += int64(got)
	if err != nil {
		return trimFrame(buf[:got]), got > 0, eof(err)
	}
	if n > keep {
		skipped, err := io.CopyN(io.Discard, f.r, n-keep)
		f.off += skipped
		if err != nil {
			return trimFrame(buf), true, eof(err)
		}
	}
	return trimFrame(buf), n > keep, nil
}

// line reads a newline-terminated message that starts with prefix (bytes
// already consumed while looking for an octet count).
func (f *framer) line(prefix []byte) ([]byte, bool, error) {
	data := append([]byte(nil), prefix...)
	f.off += int64(len(prefix))
	truncated := false
	for {
		chunk, err := f.r.ReadSlice('\n')
		f.off += int64(len(chunk))
		if room := f.max + 1 - len(data); room > 0 {
			data = append(data, chunk[:min(room, len(chunk))]...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		data = trimFrame(data)
		if len(data) > f.max {
			data, truncated = data[:f.max], true
		}
		if err != nil {
			return data, truncated, err
		}
		if len(data) == 0 {
			// An empty line between messages: skip it.
			truncated = false
			continue
		}
		return data, truncated, nil
	}
}

func eof(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return io.EOF
	}
	return err
}

// connSet tracks open connections so Run can close them when it ends.
type connSet struct {
	mu     sync.Mutex
	closed bool
	m      map[net.Conn]struct{}
}

func newConnSet() *connSet { return &connSet{m: map[net.Conn]struct{}{}} }

func (s *connSet) add(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.m[c] = struct{}{}
	return true
}

func (s *connSet) remove(c net.Conn) {
	s.mu.Lock()
	delete(s.m, c)
	s.mu.Unlock()
	c.Close()
}

func (s *connSet) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for c := range s.m {
		c.Close()
	}
}
