package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check is one readiness condition; nil means ready.
type Check func(ctx context.Context) error

// Server serves /metrics, /healthz and /readyz.
type Server struct {
	metrics *Metrics
	srv     *http.Server
	ln      net.Listener

	mu     sync.Mutex
	checks map[string]Check
}

// ServerConfig configures Serve.
type ServerConfig struct {
	// Listen is host:port (port 0 picks one).
	Listen  string
	Metrics *Metrics
}

// Serve listens on cfg.Listen and serves until Close.
func Serve(cfg ServerConfig) (*Server, error) {
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("metrics.listen %s: %w", cfg.Listen, err)
	}
	s := &Server{metrics: cfg.Metrics, ln: ln, checks: map[string]Check{}}
	mux := http.NewServeMux()
	prom := promhttp.HandlerFor(cfg.Metrics.Registry, promhttp.HandlerOpts{})
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		cfg.Metrics.runHooks()
		prom.ServeHTTP(w, r)
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", s.ready)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go s.srv.Serve(ln)
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// SetCheck adds or replaces a named readiness check.
func (s *Server) SetCheck(name string, c Check) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks[name] = c
}

// Ready runs every check and returns the failures, by name.
func (s *Server) Ready(ctx context.Context) error {
	s.mu.Lock()
	names := make([]string, 0, len(s.checks))
	for n := range s.checks {
		names = append(names, n)
	}
	checks := make(map[string]Check, len(s.checks))
	for n, c := range s.checks {
		checks[n] = c
	}
	s.mu.Unlock()
	if len(names) == 0 {
		return errors.New("starting")
	}
	sort.Strings(names)
	var errs []string
	for _, n := range names {
		if err := checks[n](ctx); err != nil {
			errs = append(errs, n+": "+err.Error())
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := s.Ready(ctx); err != nil {
		http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
}

// Close stops serving.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}
