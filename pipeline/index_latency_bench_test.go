package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/bus"
	"github.com/vigil-siem/vigil/config"
	"github.com/vigil-siem/vigil/indexer/estest"
	"github.com/vigil-siem/vigil/rules"
	"github.com/vigil-siem/vigil/triage"
)

// ackRecorder sits in front of the ES-protocol test server and notes when
// each document's bulk item was answered with a 2xx: the moment its bulk
// request is acknowledged.
type ackRecorder struct {
	es *estest.Server
	mu sync.Mutex
	at map[string]time.Time // first acknowledgement by _id
}

func (a *ackRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	a.es.ServeHTTP(rec, r)
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
	now := time.Now()
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/_bulk") || rec.Code != http.StatusOK {
		return
	}
	// The client asks for a filtered answer; _id is not in it, so the
	// item's position in the request names it.
	var res struct {
		Items []map[string]struct {
			Status int `json:"status"`
		} `json:"items"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
		return
	}
	ids := a.requestIDs(r)
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, item := range res.Items {
		for _, v := range item {
			if v.Status >= 200 && v.Status < 300 && i < len(ids) {
				if _, ok := a.at[ids[i]]; !ok {
					a.at[ids[i]] = now
				}
			}
		}
	}
}

// requestIDs are the _id of the action lines of the bulk request r, read
// from the copy of its body keepBody put in its context.
func (a *ackRecorder) requestIDs(r *http.Request) []string {
	body, _ := r.Context().Value(bodyKey{}).([]byte)
	var ids []string
	for i, line := range bytes.Split(body, []byte("\n")) {
		if i%2 != 0 || len(line) == 0 {
			continue
		}
		var action map[string]struct {
			ID string `json:"_id"`
		}
		if json.Unmarshal(line, &action) != nil {
			continue
		}
		for _, v := range action {
			ids = append(ids, v.ID)
		}
	}
	return ids
}

// bodyKey is the context key of a request's body copy.
type bodyKey struct{}

// keepBody reads a request's body once, for the recorder and estest.
func keepBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), bodyKey{}, body))
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

// latencyVerdict is the verdict document of incident i: a brute force
// verdict as triage writes it, under its own incident id.
func latencyVerdict(b *testing.B, i int, at time.Time) (string, []byte) {
	b.Helper()
	id := fmt.Sprintf("%032x", i+1)
	ip := fmt.Sprintf("198.51.100.%d", i%250+1)
	v := triage.Verdict{
		Timestamp: at,
		Event:     triage.VerdictEvent{Kind: "alert", Created: at, Start: at.Add(-time.Minute), End: at},
		Vigil: triage.VerdictVigil{Incident: triage.Incident{
			ID: id, Entity: rules.Entity{Field: "source.ip", Value: ip},
			FirstSeen: at.Add(-time.Minute), LastSeen: at, Severity: "high", RiskScore: 73, AlertCount: 2,
			AlertIDs: []string{id + "-a1", id + "-a2"},
			Rules:    []triage.RuleSummary{{ID: "vigil-ssh-bruteforce", Name: "SSH brute force", Severity: "high", Count: 2, Kind: "threshold"}},
			Users:    []string{"root", "admin"}, Hosts: []string{"web-01"}, IPs: []string{ip},
		}},
		Triage: triage.Triage{
			Verdict: triage.Suspicious, Confidence: 0.7, Severity: "high",
			Summary: ip + " guessed SSH passwords for root and admin on web-01.",
			Notes:   "## What happened\n" + ip + " failed 40 SSH logins in a minute.\n\n## What to do next\n1. Block " + ip + ".",
			Attack:  []string{"T1110.001"}, RecommendedActions: []string{"block " + ip},
			Engine: "fallback", LatencyMS: 2,
		},
	}
	body, err := json.Marshal(v)
	if err != nil {
		b.Fatal(err)
	}
	return id, body
}

// BenchmarkIndexLatency feeds verdicts to vigil.verdicts on the embedded
// broker at a paced 1,000 per second while the index stage consumes them
// into the ES-protocol test server, and reports the latency from a
// verdict being produced (handed to the producer) to its bulk item being
// acknowledged: p50 and p99 in ms. Each iteration is one verdict; run
// with -benchtime 5000x for five seconds of traffic.
func BenchmarkIndexLatency(b *testing.B) {
	const rate = 1000 // verdicts per second
	es := estest.NewServer()
	defer es.Close()
	acks := &ackRecorder{es: es, at: make(map[string]time.Time)}
	front := httptest.NewServer(keepBody(acks))
	defer front.Close()

	cfg := config.Default()
	cfg.Index.Elasticsearch.Addresses = []string{front.URL}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	sys, err := Start(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	defer sys.Close()
	stageCtx, stopStage := context.WithCancel(ctx)
	stageErr := make(chan error, 1)
	go func() { stageErr <- sys.RunIndex(stageCtx) }()
	defer func() {
		stopStage()
		// Stopping may cancel a bulk request in flight: not a failure.
		if err := <-stageErr; err != nil && !errors.Is(err, context.Canceled) {
			b.Error(err)
		}
	}()
	// Wait until the stage has its partitions and reaches the server.
	for sys.Ready(ctx) != nil {
		select {
		case err := <-stageErr:
			b.Fatalf("index stage stopped: %v", err)
		case <-ctx.Done():
			b.Fatal("index stage never became ready")
		case <-time.After(20 * time.Millisecond):
		}
	}

	var (
		ids        []string
		produced   []time.Time
		deliveries = make(chan *bus.Delivery, 4096)
		sendErr    = make(chan error, 1)
	)
	go func() { // wait for Kafka's acknowledgements off the pacing loop
		var first error
		for d := range deliveries {
			if err := d.Wait(ctx); err != nil && first == nil {
				first = err
			}
		}
		sendErr <- first
	}()
	interval := time.Second / rate
	start := time.Now()
	i := 0
	for b.Loop() {
		next := start.Add(time.Duration(i) * interval)
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		id, body := latencyVerdict(b, i, next)
		produced = append(produced, time.Now())
		ids = append(ids, id)
		deliveries <- sys.Producer.SendAsync(ctx, []bus.Message{{Topic: bus.TopicVerdicts, Key: []byte(id), Value: body}})
		i++
	}
	close(deliveries)
	sendDuration := time.Since(start)
	if err := <-sendErr; err != nil {
		b.Fatalf("producing verdicts: %v", err)
	}
	b.StopTimer()

	// Wait for every verdict to be acknowledged (or 30s).
	deadline := time.Now().Add(30 * time.Second)
	for {
		acks.mu.Lock()
		n := len(acks.at)
		acks.mu.Unlock()
		if n >= len(ids) {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d verdicts acknowledged after 30s", n, len(ids))
		}
		time.Sleep(10 * time.Millisecond)
	}
	lat := make([]time.Duration, len(ids))
	acks.mu.Lock()
	for k, id := range ids {
		at, ok := acks.at[id]
		if !ok {
			acks.mu.Unlock()
			b.Fatalf("verdict %s never acknowledged", id)
		}
		lat[k] = at.Sub(produced[k])
	}
	acks.mu.Unlock()
	if got := es.Count("vigil-verdicts"); got != len(ids) {
		b.Fatalf("%d verdicts stored, want %d", got, len(ids))
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(int(p*float64(len(lat))), len(lat)-1)]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1])/float64(time.Millisecond), "max-ms")
	b.ReportMetric(float64(len(ids))/sendDuration.Seconds(), "verdicts/s")
}
