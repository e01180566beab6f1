package chaos_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/vigil-siem/vigil/bus"
	"github.com/vigil-siem/vigil/indexer/estest"
	"github.com/vigil-siem/vigil/internal/chaos"
	"github.com/vigil-siem/vigil/internal/testbin"
	"github.com/vigil-siem/vigil/rules"
	"github.com/vigil-siem/vigil/triage"
)

// params sizes one chaos run.
type params struct {
	name       string
	events     int           // records replayed
	kills      int           // SIGKILLs, each followed by a restart
	rate       int           // records appended per second
	calmBursts int           // brute forces appended in the calm phase
	lateness   time.Duration // detect.allowed_lateness in the chaos phase
	partitions int           // of every topic
}

// chaosParams reads VIGIL_CHAOS: full (1M events, 12 kills), ci (100k
// events, 5 kills) or small (20k events, 3 kills). Unset, the test is
// skipped: it runs the binary as six processes for a minute or more.
func chaosParams(t *testing.T) params {
	p := params{name: "small", events: 20_000, kills: 3, rate: 2000, calmBursts: 20, lateness: 10 * time.Minute}
	switch v := os.Getenv("VIGIL_CHAOS"); v {
	case "":
		t.Skip("set VIGIL_CHAOS=small, ci or full to run the chaos test (separate processes, SIGKILLs)")
	case "small":
	case "ci":
		p = params{name: v, events: 100_000, kills: 5, rate: 2000, calmBursts: 40, lateness: 10 * time.Minute}
	case "full":
		p = params{name: v, events: 1_000_000, kills: 12, rate: 3000, calmBursts: 100, lateness: 10 * time.Minute}
	default:
		t.Fatalf("VIGIL_CHAOS=%q: want small, ci or full", v)
	}
	if s := os.Getenv("VIGIL_CHAOS_EVENTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("VIGIL_CHAOS_EVENTS: %v", err)
		}
		p.events = n
	}
	p.partitions = 3
	if s := os.Getenv("VIGIL_CHAOS_PARTITIONS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("VIGIL_CHAOS_PARTITIONS=%q: want a positive number", s)
		}
		p.partitions = n
	}
	if s := os.Getenv("VIGIL_CHAOS_KILLS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("VIGIL_CHAOS_KILLS: %v", err)
		}
		p.kills = n
	}
	if s := os.Getenv("VIGIL_CHAOS_LATENESS"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("VIGIL_CHAOS_LATENESS: %v", err)
		}
		p.lateness = d
	}
	return p
}

func writeConfig(t *testing.T, dir, name string, paths map[string][]string, esURL string, lateness time.Duration, partitions int) string {
	t.Helper()
	var inputs strings.Builder
	for _, format := range []string{"sshd", "access", "windows", "cloudtrail"} {
		quoted := make([]string, len(paths[format]))
		for i, p := range paths[format] {
			quoted[i] = strconv.Quote(p)
		}
		fmt.Fprintf(&inputs, "    - type: file\n      format: %s\n      follow: true\n      batch_lines: 256\n      poll_interval: 100ms\n      paths: [%s]\n",
			format, strings.Join(quoted, ", "))
	}
	cfg := fmt.Sprintf(`kafka:
  partitions: %d
  settings:
    session.timeout.ms: "6000"
collect:
  data_dir: %q
  inputs:
%sdetect:
  allowed_lateness: %s
triage:
  engine: fallback
  idle_close: 15s   # quiet partitions close their incidents (and commit) sooner than the 2m default
index:
  elasticsearch:
    addresses: [%q]
shutdown_timeout: 20s
`, partitions, filepath.Join(dir, "data"), inputs.String(), lateness, esURL)
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// esLog records what the Elasticsearch test server stored: writes per
// document, the first time each document was stored, and (while calm is
// set) the alert ids of every verdict written, to time when an alert
// first appears in an indexed verdict.
type esLog struct {
	mu           sync.Mutex
	writes       map[string]int // "index/id" → writes
	firstAt      map[string]time.Time
	calm         atomic.Bool
	verdictFirst map[string]time.Time // alert id → first indexed verdict listing it
	counts       map[string][]int     // incident id → alert_count of each verdict written, in order
}

func newESLog(es *estest.Server) *esLog {
	l := &esLog{writes: map[string]int{}, firstAt: map[string]time.Time{}, verdictFirst: map[string]time.Time{}, counts: map[string][]int{}}
	es.SetOnWrite(func(w estest.Write) {
		key := w.Index + "/" + w.ID
		var ids []string
		count := -1
		if strings.HasPrefix(w.Index, "vigil-verdicts") {
			var v struct {
				Vigil struct {
					Incident struct {
						AlertCount int      `json:"alert_count"`
						AlertIDs   []string `json:"alert_ids"`
					} `json:"incident"`
				} `json:"vigil"`
			}
			if json.Unmarshal(w.Source, &v) == nil {
				count = v.Vigil.Incident.AlertCount
				if l.calm.Load() {
					ids = v.Vigil.Incident.AlertIDs
				}
			}
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		l.writes[key]++
		if count >= 0 {
			l.counts[w.ID] = append(l.counts[w.ID], count)
		}
		if _, ok := l.firstAt[key]; !ok {
			l.firstAt[key] = w.At
		}
		for _, id := range ids {
			if _, ok := l.verdictFirst[id]; !ok {
				l.verdictFirst[id] = w.At
			}
		}
	})
	return l
}

// kill is one SIGKILL the test sent.
type kill struct {
	stage string
	at    time.Time
}

func TestChaos(t *testing.T) {
	p := chaosParams(t)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("VIGIL_CHAOS_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("VIGIL_CHAOS_SEED: %v", err)
		}
		seed = v
	}
	t.Logf("chaos %s: %d events, %d kills, %d records/s, %d CPUs; seed %d (VIGIL_CHAOS_SEED=%d reproduces the input and the kill schedule)",
		p.name, p.events, p.kills, p.rate, cpus(), seed, seed)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()

	bin := testbin.Build(t)
	dir := t.TempDir()
	es := estest.NewServer()
	defer es.Close()
	eslog := newESLog(es)

	// Empty files at first: the test appends to them while the stages run.
	files := chaos.Files()
	paths := make([]string, len(files))
	byFormat := map[string][]string{}
	for i, f := range files {
		paths[i] = filepath.Join(dir, f.Name)
		byFormat[f.Format] = append(byFormat[f.Format], paths[i])
	}
	calmPath := filepath.Join(dir, "calm-auth.log")
	byFormat["sshd"] = append(byFormat["sshd"], calmPath)
	for _, path := range append(slices.Clone(paths), calmPath) {
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	chaosCfg := writeConfig(t, dir, "chaos.yaml", byFormat, es.URL(), p.lateness, p.partitions)
	calmCfg := writeConfig(t, dir, "calm.yaml", byFormat, es.URL(), 0, p.partitions)

	addr := fmt.Sprintf("127.0.0.1:%d", testbin.FreePort(t))
	fl := newFleet(t, bin, dir, []string{"VIGIL_KAFKA_BOOTSTRAP_SERVERS=" + addr, "VIGIL_LOG_LEVEL=warn"})
	// No retention in bytes: the check reads every record of vigil.events
	// back (the full run puts ~200 MB in each partition).
	fl.start("broker", "broker", "--listen", addr, "--partitions", strconv.Itoa(p.partitions), "--retention-mb", "-1")
	for deadline := time.Now().Add(20 * time.Second); !portOpen(addr); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("broker did not listen:\n%s", tail(filepath.Join(dir, "logs", "broker-1.log"), 20))
		}
	}
	stages := []string{"index", "triage", "detect", "collect"}
	for _, s := range stages {
		fl.start(s, s, "-c", chaosCfg)
	}
	kv := kafkaView{bootstrap: addr}

	// Chaos phase: replay the records at p.rate while a random stage is
	// killed at random moments and restarted.
	gen := chaos.NewGenerator(chaos.GenConfig{Events: p.events, Seed: seed})
	began := time.Now()
	replayDone := make(chan error, 1)
	go func() { replayDone <- replay(ctx, gen, paths, p.rate) }()
	rng := mrand.New(mrand.NewPCG(seed, 0xc4a05))
	expected := time.Duration(float64(p.events)/float64(p.rate)*float64(time.Second)) + 5*time.Second
	var kills []kill
	for len(kills) < p.kills {
		gap := time.Duration(rng.Int64N(int64(2*expected/time.Duration(p.kills)))) + 300*time.Millisecond // p.kills > 0 here
		select {
		case <-time.After(gap):
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
		if probs := fl.problems(); len(probs) > 0 {
			t.Fatalf("a stage exited on its own during the replay:\n%s", strings.Join(probs, "\n"))
		}
		s := stages[rng.IntN(len(stages))]
		// Kill a running stage, not one still joining its group: a
		// member killed before its first assignment stays in the group
		// of `vigil broker` (kfake) for minutes, holding its partitions
		// (see the package documentation).
		if !fl.waitReady(s, 60*time.Second) {
			t.Fatalf("%s did not become ready within 60s:\n%s", s, strings.Join(fl.problems(), "\n"))
		}
		fl.kill(s)
		kills = append(kills, kill{s, time.Now()})
		time.Sleep(time.Duration(rng.Int64N(int64(500 * time.Millisecond))))
		fl.start(s, s, "-c", chaosCfg)
	}
	if err := <-replayDone; err != nil {
		t.Fatal(err)
	}
	replayed := time.Since(began)
	var killed []string
	for _, k := range kills {
		killed = append(killed, fmt.Sprintf("%s@%.1fs", k.stage, k.at.Sub(began).Seconds()))
	}
	t.Logf("replayed %d records in %s with %d SIGKILLs: %s", p.events, replayed.Round(time.Millisecond), len(kills), strings.Join(killed, " "))

	// Move event time on by two hours past every window and the lateness,
	// with one benign line, so that detect closes and releases everything.
	// Every partition of vigil.events and of the re-key topic must see
	// it: the reorder buffer of a partition is released by that
	// partition's own event time.
	// Wait for collect to have read the replay first: a push line read
	// before the last records of another file would make them late.
	waitCount(ctx, t, kv, fl, int64(p.events))
	pushAt := gen.Now().Add(2*time.Hour + p.lateness)
	push := gen.Tick(pushAt, 40)
	for _, rec := range push {
		appendLine(t, paths[rec.File], rec.Line)
	}
	records := int64(p.events + len(push))
	waitDrained(ctx, t, kv, fl, records)
	t.Logf("chaos phase drained %s after the replay ended", (time.Since(began) - replayed).Round(time.Second))

	// Calm phase: no kills, detect without lateness; one brute force at a
	// time, to time event → alert → indexed verdict.
	fl.stop("detect")
	fl.start("detect", "detect", "-c", calmCfg)
	eslog.calm.Store(true)
	calm, err := os.OpenFile(calmPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	at := gen.Now().Add(time.Minute)
	for i := 0; i < p.calmBursts; i++ {
		if at, err = chaos.CalmBurst(calm, "calm-01", 9_000_000+i, at); err != nil {
			t.Fatal(err)
		}
		records += 11
		time.Sleep(250 * time.Millisecond)
	}
	calm.Close()
	waitDrained(ctx, t, kv, fl, records)
	for _, s := range append(stages, "broker") {
		if s != "broker" {
			fl.stop(s)
		}
	}
	for _, prob := range fl.problems() {
		t.Errorf("unexpected exit: %s", prob)
	}

	// What the pipeline holds now, against the oracle.
	oracle, scanEvents, scanFlagged := scanOracle(t, bin, append(slices.Clone(paths), calmPath))
	checkEvents(ctx, t, kv, records, scanEvents, gen.Malformed, scanFlagged)
	checkDLQ(ctx, t, kv, pushAt)
	checkAlerts(t, es, eslog, oracle)
	// Against the oracle's alerts, then against the alerts Elasticsearch
	// holds: the second tells triage's own mistakes from detect's.
	checkVerdicts(t, es, eslog, oracle, "vigil scan's alerts")
	indexed := map[string]rules.Alert{}
	for id, d := range esDocs(es, "vigil-alerts") {
		var a rules.Alert
		if err := json.Unmarshal(d, &a); err != nil {
			t.Errorf("alert document %s: %v", id, err)
			continue
		}
		indexed[id] = a
	}
	checkVerdicts(t, es, eslog, indexed, "the indexed alerts")
	reportLatency(t, es, eslog, calmPath)
	fl.stop("broker")
}

// replay appends the generator's records to their files at rate records
// per second, flushing whole lines every 20ms.
func replay(ctx context.Context, gen *chaos.Generator, paths []string, rate int) error {
	ws := make([]*bufio.Writer, len(paths))
	for i, p := range paths {
		f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		ws[i] = bufio.NewWriterSize(f, 4<<20)
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	per := max(1, rate/50)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		for i := 0; i < per; i++ {
			rec, ok := gen.Next()
			if !ok {
				for _, w := range ws {
					if err := w.Flush(); err != nil {
						return err
					}
				}
				return nil
			}
			ws[rec.File].WriteString(rec.Line)
			ws[rec.File].WriteByte('\n')
		}
		for _, w := range ws {
			if err := w.Flush(); err != nil {
				return fmt.Errorf("replay: %w", err)
			}
		}
	}
}

func appendLine(t *testing.T, path, line string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(line + "\n"); err != nil {
		t.Fatal(err)
	}
}

// waitDrained waits until vigil.events holds at least records records,
// every stage's consumer lag is 0 and nothing moved for three seconds.
func waitDrained(ctx context.Context, t *testing.T, kv kafkaView, fl *fleet, records int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Minute)
	stable := 0
	var last string
	nextLog := time.Now().Add(15 * time.Second)
	for {
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("the pipeline did not drain within 10 minutes: %s\n%s", last, strings.Join(fl.problems(), "\n"))
		}
		if probs := fl.problems(); len(probs) > 0 {
			t.Fatalf("a stage exited while the pipeline drained (%s):\n%s", last, strings.Join(probs, "\n"))
		}
		time.Sleep(time.Second)
		produced, err := kv.count("vigil.events")
		if err != nil {
			produced = -1
			t.Logf("count vigil.events: %v", err)
		}
		var lags []int64
		for _, g := range []struct {
			group  string
			topics []string
		}{{"vigil-detect", []string{"vigil.events", "vigil.detect.rekey"}}, {"vigil-triage", []string{"vigil.alerts"}}, {"vigil-index", []string{"vigil.alerts", "vigil.verdicts"}}} {
			n, err := kv.lag(g.group, g.topics...)
			if err != nil {
				n = -1
			}
			lags = append(lags, n)
		}
		state := fmt.Sprintf("vigil.events holds %d records (want ≥ %d); lag detect %d, triage %d, index %d", produced, records, lags[0], lags[1], lags[2])
		if produced >= records && lags[0] == 0 && lags[1] == 0 && lags[2] == 0 && state == last {
			stable++
		} else {
			stable = 0
		}
		last = state
		if time.Now().After(nextLog) {
			t.Logf("draining: %s", state)
			nextLog = time.Now().Add(15 * time.Second)
		}
		if stable >= 3 {
			return
		}
	}
}

// waitCount waits until vigil.events holds at least n records.
func waitCount(ctx context.Context, t *testing.T, kv kafkaView, fl *fleet, n int64) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		got, err := kv.count("vigil.events")
		if err == nil && got >= n {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("vigil.events holds %d records (%v) 5 minutes after the replay, want %d", got, err, n)
		}
		if probs := fl.problems(); len(probs) > 0 {
			t.Fatalf("a stage exited on its own:\n%s", strings.Join(probs, "\n"))
		}
	}
}

// scanOracle runs one `vigil scan` of all the files and returns the
// alerts by id, the events read and the records flagged unparseable. The
// files' times overlap: scan merges them by event time, as collect's
// inputs and detect's allowed lateness do. The files differ in format, so
// scan detects each file's (-f auto), as it would for a user.
func scanOracle(t *testing.T, bin string, paths []string) (map[string]rules.Alert, int64, int64) {
	t.Helper()
	alerts := map[string]rules.Alert{}
	var events, flagged int64
	re := regexp.MustCompile(`(?m)^(.+): (\d+) events, (\d+) parse failures$`)
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, append([]string{"scan", "-f", "auto"}, paths...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("vigil scan %v: %v\n%s", paths, err, stderr.String())
	}
	ms := re.FindAllStringSubmatch(stderr.String(), -1)
	if len(ms) != len(paths) {
		t.Fatalf("vigil scan %v: %d input summary lines for %d files in\n%s", paths, len(ms), len(paths), stderr.String())
	}
	for _, m := range ms {
		n, _ := strconv.ParseInt(m[2], 10, 64)
		f, _ := strconv.ParseInt(m[3], 10, 64)
		events, flagged = events+n, flagged+f
	}
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var a rules.Alert
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatalf("vigil scan printed a line that is not an alert: %v", err)
		}
		alerts[a.Vigil.Alert.ID] = a
	}
	return alerts, events, flagged
}

// checkEvents: every record written is on vigil.events (at least once),
// flagged exactly when it was malformed on purpose.
func checkEvents(ctx context.Context, t *testing.T, kv kafkaView, records, scanEvents int64, malformed int, scanFlagged int64) {
	t.Helper()
	ids := map[string]bool{}
	flagged := map[string]bool{}
	total := 0
	err := kv.readAll(ctx, "vigil.events", func(m *kafka.Message) {
		v := m.Value
		var e struct {
			Event struct {
				Kind string `json:"kind"`
			} `json:"event"`
			Vigil struct {
				EventID string `json:"event_id"`
			} `json:"vigil"`
		}
		if json.Unmarshal(v, &e) != nil {
			return
		}
		total++
		ids[e.Vigil.EventID] = true
		if e.Event.Kind == "pipeline_error" {
			flagged[e.Vigil.EventID] = true
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("vigil.events: %d records, %d distinct events (%d sent twice after a kill), %d flagged", total, len(ids), total-len(ids), len(flagged))
	if int64(len(ids)) != records || scanEvents != records {
		t.Errorf("%d records written, %d distinct events on vigil.events, %d read by vigil scan", records, len(ids), scanEvents)
	}
	if len(flagged) != malformed || scanFlagged != int64(malformed) {
		t.Errorf("%d records malformed on purpose, %d flagged events on vigil.events, %d flagged by vigil scan", malformed, len(flagged), scanFlagged)
	}
}

// checkDLQ: malformed lines become flagged events, not dead letters, so
// vigil.dlq must be empty, with one exception. When detect restarts
// without lateness for the calm phase, the push lines that were waiting
// in the restored reorder buffer are re-read from vigil.events and are
// late for the restored engine: they are dead-lettered as late (the
// price of changing detect.allowed_lateness across a restart), and only
// they may be.
func checkDLQ(ctx context.Context, t *testing.T, kv kafkaView, pushAt time.Time) {
	t.Helper()
	reasons := map[string]int{}
	n, pushed := 0, 0
	err := kv.readAll(ctx, "vigil.dlq", func(m *kafka.Message) {
		var stage, reason string
		for _, h := range m.Headers {
			switch h.Key {
			case bus.HeaderDLQStage:
				stage = string(h.Value)
			case bus.HeaderDLQReason:
				reason = string(h.Value)
			}
		}
		var e struct {
			Timestamp time.Time `json:"@timestamp"`
		}
		_ = json.Unmarshal(m.Value, &e)
		if stage == "detect" && strings.HasPrefix(reason, "late event") && strings.Contains(reason, "(0s)") && !e.Timestamp.Before(pushAt) {
			pushed++
			return
		}
		n++
		if len(reason) > 160 {
			reason = reason[:160]
		}
		reasons[stage+": "+reason]++
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("vigil.dlq: %d push lines dead-lettered as late by the calm-phase detect, %d other records", pushed, n)
	if n > 0 {
		t.Errorf("vigil.dlq holds %d records; none was expected (malformed lines are flagged events). Reasons: %v", n, reasons)
	}
}

// esDocs returns every document of the indices whose name starts with prefix.
func esDocs(es *estest.Server, prefix string) map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	for _, ix := range es.Indices() {
		if strings.HasPrefix(ix, prefix) {
			for id, d := range es.Docs(ix) {
				out[id] = d
			}
		}
	}
	return out
}

// checkAlerts: every alert the oracle finds is in Elasticsearch once, and
// nothing else is.
func checkAlerts(t *testing.T, es *estest.Server, eslog *esLog, oracle map[string]rules.Alert) {
	t.Helper()
	docs := esDocs(es, "vigil-alerts")
	var missing, extra []string
	for id, a := range oracle {
		if _, ok := docs[id]; !ok {
			missing = append(missing, describe(a))
		}
	}
	for id, d := range docs {
		if _, ok := oracle[id]; !ok {
			var a rules.Alert
			_ = json.Unmarshal(d, &a)
			extra = append(extra, describe(a))
		}
	}
	rewritten := 0
	eslog.mu.Lock()
	for k, n := range eslog.writes {
		if strings.HasPrefix(k, "vigil-alerts") && n > 1 {
			rewritten++
		}
	}
	eslog.mu.Unlock()
	t.Logf("alerts: oracle %d, Elasticsearch %d (%d written more than once, as a replay after a kill does); missing %d, extra %d",
		len(oracle), len(docs), rewritten, len(missing), len(extra))
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("%d alerts of vigil scan are not in Elasticsearch, e.g.:\n%s", len(missing), strings.Join(first(missing, 15), "\n"))
	}
	if len(extra) > 0 {
		t.Errorf("%d alerts in Elasticsearch that vigil scan does not find, e.g.:\n%s", len(extra), strings.Join(first(extra, 15), "\n"))
	}
}

func describe(a rules.Alert) string {
	return fmt.Sprintf("%s %s %s %s..%s events=%d", a.Vigil.Alert.ID, a.Rule.ID, a.Vigil.Alert.Entity.String(),
		a.Vigil.Alert.FirstSeen.Format(time.RFC3339), a.Vigil.Alert.LastSeen.Format(time.RFC3339), a.Vigil.Alert.EventCount)
}

func first(xs []string, n int) []string { return xs[:min(n, len(xs))] }

// checkVerdicts: the alerts grouped the way triage groups them give as
// many incidents as there are verdict documents, with the same ids; every
// alert is in exactly one verdict.
func checkVerdicts(t *testing.T, es *estest.Server, eslog *esLog, oracle map[string]rules.Alert, what string) {
	t.Helper()
	alerts := make([]rules.Alert, 0, len(oracle))
	for _, a := range oracle {
		alerts = append(alerts, a)
	}
	sort.Slice(alerts, func(i, j int) bool {
		ti, tj := alerts[i].Vigil.Alert.LastSeen, alerts[j].Vigil.Alert.LastSeen
		if !ti.Equal(tj) {
			return ti.Before(tj)
		}
		return alerts[i].Vigil.Alert.ID < alerts[j].Vigil.Alert.ID
	})
	g := triage.NewGrouper(triage.GrouperConfig{})
	want := map[string]bool{}
	for _, a := range alerts {
		if inc, _ := g.Add(a); inc != nil {
			want[inc.ID] = true
		}
	}
	docs := esDocs(es, "vigil-verdicts")
	in := map[string][]string{} // alert id → verdicts listing it
	for id, d := range docs {
		var v struct {
			Vigil struct {
				Incident triage.Incident `json:"incident"`
			} `json:"vigil"`
		}
		if err := json.Unmarshal(d, &v); err != nil {
			t.Errorf("verdict %s: %v", id, err)
			continue
		}
		for _, a := range v.Vigil.Incident.AlertIDs {
			in[a] = append(in[a], id)
		}
	}
	var missing, extra, twice []string
	for id := range want {
		if _, ok := docs[id]; !ok {
			missing = append(missing, id)
		}
	}
	for id := range docs {
		if !want[id] {
			extra = append(extra, id)
		}
	}
	for a, vs := range in {
		if len(vs) > 1 {
			twice = append(twice, fmt.Sprintf("%s in %v", describe(oracle[a]), vs))
		}
	}
	unjudged := 0
	var unjudgedEg []string
	for id, a := range oracle {
		if len(in[id]) == 0 {
			unjudged++
			inc, _ := g.Add(a) // a replay: the incident the alert belongs to
			incID := "?"
			if inc != nil {
				incID = inc.ID
			}
			var count int
			var listed int
			if d, ok := docs[incID]; ok {
				var v struct {
					Vigil struct {
						Incident triage.Incident `json:"incident"`
					} `json:"vigil"`
				}
				_ = json.Unmarshal(d, &v)
				count, listed = v.Vigil.Incident.AlertCount, len(v.Vigil.Incident.AlertIDs)
			}
			eslog.mu.Lock()
			history := eslog.counts[incID]
			eslog.mu.Unlock()
			unjudgedEg = append(unjudgedEg, fmt.Sprintf("%s → incident %s (its verdict: alert_count %d, %d ids listed; alert_count of each write: %v)",
				describe(a), incID, count, listed, history))
		}
	}
	t.Logf("incidents of %s: %d, verdict documents %d; missing %d, extra %d; alerts in two verdicts %d, in none %d",
		what, len(want), len(docs), len(missing), len(extra), len(twice), unjudged)
	if len(missing) > 0 || len(extra) > 0 {
		t.Errorf("verdict documents differ from the incidents of %s: missing %v, extra %v", what, first(missing, 10), first(extra, 10))
	}
	if len(twice) > 0 {
		sort.Strings(twice)
		t.Errorf("%d alerts are in two verdict documents (one incident judged twice), e.g.:\n%s", len(twice), strings.Join(first(twice, 10), "\n"))
	}
	if unjudged > 0 {
		sort.Strings(unjudgedEg)
		t.Errorf("%d of %s are in no verdict document, e.g.:\n%s", unjudged, what, strings.Join(first(unjudgedEg, 10), "\n"))
	}
}

// reportLatency logs p50/p99 of event → alert, event → indexed alert and
// event → indexed verdict for the calm phase's alerts: from the time
// collect read the alert's last event (vigil.received_at) to the alert's
// creation (event.created), to the alert document's first write, and to
// the first write of a verdict listing the alert.
func reportLatency(t *testing.T, es *estest.Server, eslog *esLog, calmPath string) {
	t.Helper()
	var toAlert, toIndexed, toVerdict []time.Duration
	eslog.mu.Lock()
	defer eslog.mu.Unlock()
	for _, ix := range es.Indices() {
		if !strings.HasPrefix(ix, "vigil-alerts") {
			continue
		}
		for id, d := range es.Docs(ix) {
			var a struct {
				Event struct {
					Created time.Time `json:"created"`
				} `json:"event"`
				Vigil struct {
					Alert struct {
						Events []struct {
							Vigil struct {
								ReceivedAt time.Time `json:"received_at"`
							} `json:"vigil"`
							Log struct {
								File struct {
									Path string `json:"path"`
								} `json:"file"`
							} `json:"log"`
						} `json:"events"`
					} `json:"alert"`
				} `json:"vigil"`
			}
			if err := json.Unmarshal(d, &a); err != nil || len(a.Vigil.Alert.Events) == 0 {
				continue
			}
			last := a.Vigil.Alert.Events[len(a.Vigil.Alert.Events)-1]
			if last.Log.File.Path != calmPath || last.Vigil.ReceivedAt.IsZero() {
				continue
			}
			read := last.Vigil.ReceivedAt
			toAlert = append(toAlert, a.Event.Created.Sub(read))
			toIndexed = append(toIndexed, eslog.firstAt[ix+"/"+id].Sub(read))
			if v, ok := eslog.verdictFirst[id]; ok {
				toVerdict = append(toVerdict, v.Sub(read))
			}
		}
	}
	if len(toAlert) == 0 {
		t.Errorf("no alert of the calm phase in Elasticsearch")
		return
	}
	t.Logf("calm-phase latency over %d alerts: event→alert %s; event→indexed alert %s; event→indexed verdict %s (%d)",
		len(toAlert), pct(toAlert), pct(toIndexed), pct(toVerdict), len(toVerdict))
}

func pct(ds []time.Duration) string {
	if len(ds) == 0 {
		return "n/a"
	}
	slices.Sort(ds)
	at := func(q float64) time.Duration { return ds[min(len(ds)-1, int(q*float64(len(ds))))] }
	return fmt.Sprintf("p50 %s p99 %s", at(0.50).Round(time.Millisecond), at(0.99).Round(time.Millisecond))
}
