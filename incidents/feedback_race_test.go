package incidents_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/incidents"
	"github.com/vigil-siem/vigil/indexer"
	"github.com/vigil-siem/vigil/indexer/estest"
	"github.com/vigil-siem/vigil/triage"
)

// interposer forwards requests to an estest server, and runs a hook,
// once, before the first request it matches: a way to put one party's
// writes exactly between two requests of another.
type interposer struct {
	srv   *estest.Server
	mu    sync.Mutex
	match func(*http.Request) bool
	hook  func()
}

func (p *interposer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	var hook func()
	if p.hook != nil && p.match(r) {
		hook, p.hook = p.hook, nil
	}
	p.mu.Unlock()
	if hook != nil {
		hook()
	}
	p.srv.ServeHTTP(w, r)
}

// arm sets the hook to run before the next request match accepts.
func (p *interposer) arm(match func(*http.Request) bool, hook func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.match, p.hook = match, hook
}

// fired says whether the armed hook ran.
func (p *interposer) fired() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hook == nil
}

// feedbackRace is the demo indexed in estest, a sink and an analyst's
// source each talking to it through an interposer, and the suspicious
// incident with a newer verdict of it (one more alert).
type feedbackRace struct {
	srv             *estest.Server
	sink            *indexer.ESSink
	sinkPath        *interposer
	analyst         incidents.Source
	analystPath     *interposer
	index, id       string
	newer           indexer.Doc
	newerAlertCount int64
}

func newFeedbackRace(t *testing.T) *feedbackRace {
	t.Helper()
	res, docs := demo(t)
	var sus triage.Verdict
	for _, v := range res.Verdicts {
		if v.Triage.Verdict == triage.Suspicious {
			sus = v
		}
	}
	srv := estest.NewServer()
	t.Cleanup(srv.Close)
	r := &feedbackRace{srv: srv, sinkPath: &interposer{srv: srv}, analystPath: &interposer{srv: srv}, id: sus.ID(),
		index: indexer.MonthlyIndex(indexer.DefaultVerdictsIndex, sus.Vigil.Incident.FirstSeen)}
	through := func(p *interposer) indexer.ESConfig {
		ts := httptest.NewServer(p)
		t.Cleanup(ts.Close)
		return indexer.ESConfig{Addresses: []string{ts.URL}, IndexPattern: indexer.IndexMonthly,
			RetryBackoff: func(int) time.Duration { return time.Millisecond }}
	}
	sinkCfg, analystCfg := through(r.sinkPath), through(r.analystPath)
	if _, err := indexer.Setup(context.Background(), sinkCfg, indexer.SetupOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	var err error
	if r.sink, err = indexer.NewESSink(sinkCfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.sink.Close() })
	if failed, err := r.sink.Write(context.Background(), docs); err != nil || len(failed) != 0 {
		t.Fatalf("failed=%v err=%v", failed, err)
	}
	r.analyst = incidents.Source{ES: &analystCfg, Analyst: "analyst1", Now: fixedNow}

	grown := sus
	grown.Vigil.Incident.AlertCount++
	grown.Triage.Summary = "the incident grew by one alert"
	body, err := json.Marshal(grown)
	if err != nil {
		t.Fatal(err)
	}
	r.newerAlertCount = int64(grown.Vigil.Incident.AlertCount)
	r.newer = indexer.Doc{Kind: indexer.KindVerdict, ID: sus.ID(), Body: body}
	return r
}

// giveFeedback runs `vigil incidents feedback` on the suspicious incident.
func (r *feedbackRace) giveFeedback(t *testing.T) {
	t.Helper()
	if err := incidents.Feedback(context.Background(), r.analyst, r.id, triage.FalsePositive, "our red team's scanner", &strings.Builder{}); err != nil {
		t.Fatal(err)
	}
}

// writeNewer has the sink write the newer verdict.
func (r *feedbackRace) writeNewer(t *testing.T) {
	t.Helper()
	if failed, err := r.sink.Write(context.Background(), []indexer.Doc{r.newer}); err != nil || len(failed) != 0 {
		t.Fatalf("failed=%v err=%v", failed, err)
	}
}

// check says what is stored: the newer verdict, with the feedback.
func (r *feedbackRace) check(t *testing.T) {
	t.Helper()
	var doc struct {
		Triage struct {
			Summary  string
			Feedback struct{ Verdict, Note, By string }
		}
	}
	stored := r.srv.Docs(r.index)[r.id]
	if err := json.Unmarshal(stored, &doc); err != nil {
		t.Fatalf("%v: %s", err, stored)
	}
	if doc.Triage.Summary != "the incident grew by one alert" || r.srv.Version(r.index, r.id) != r.newerAlertCount {
		t.Errorf("stored version %d, summary %q: want the newer verdict (%d alerts)", r.srv.Version(r.index, r.id), doc.Triage.Summary, r.newerAlertCount)
	}
	if fb := doc.Triage.Feedback; fb.Verdict != triage.FalsePositive || fb.Note != "our red team's scanner" || fb.By != "analyst1" {
		t.Errorf("feedback on the stored verdict: %+v, want the analyst's", fb)
	}
}

func isBulk(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/_bulk") }

func isDocWrite(r *http.Request) bool {
	return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/_doc/") && !strings.Contains(r.URL.Path, indexer.DefaultFeedbackIndex)
}

// TestFeedbackGivenWhileTheSinkWritesIsKept: the analyst's whole command
// runs after the sink looked the incident's feedback up and before its
// bulk write of a newer verdict lands. The newer verdict must not replace
// the feedback.
func TestFeedbackGivenWhileTheSinkWritesIsKept(t *testing.T) {
	r := newFeedbackRace(t)
	r.sinkPath.arm(isBulk, func() { r.giveFeedback(t) })
	r.writeNewer(t)
	if !r.sinkPath.fired() {
		t.Fatal("the sink sent no bulk request")
	}
	r.check(t)
}

// TestFeedbackWrittenAroundANewerVerdictIsKept: the sink writes a newer
// verdict between the command's read of the verdict document and its
// write. The command's write is refused (409); it reads the newer
// verdict and writes the feedback onto it.
func TestFeedbackWrittenAroundANewerVerdictIsKept(t *testing.T) {
	r := newFeedbackRace(t)
	r.analystPath.arm(isDocWrite, func() { r.writeNewer(t) })
	r.giveFeedback(t)
	if !r.analystPath.fired() {
		t.Fatal("the command wrote no verdict document")
	}
	r.check(t)
}

// TestFeedbackGoesWithLaterVerdicts: feedback given once is on every
// later verdict of the incident.
func TestFeedbackGoesWithLaterVerdicts(t *testing.T) {
	r := newFeedbackRace(t)
	r.giveFeedback(t)
	r.writeNewer(t)
	r.check(t)
}
