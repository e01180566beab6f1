package scan_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/collectors"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/rules"
	"github.com/vigil-siem/vigil/scan"
)

// file is one input of a test scan.
type file struct {
	name, format string
	data         string
}

// seen is what the engines were given: the events, in the order scan
// enriched them (the merged stream).
type seen struct {
	mu     sync.Mutex
	events []event.Event
}

func (s *seen) add(_ context.Context, e event.Event) {
	s.mu.Lock()
	s.events = append(s.events, e)
	s.mu.Unlock()
}

func scanFiles(t *testing.T, files []file) ([]rules.Alert, *scan.Summary, []event.Event) {
	t.Helper()
	var inputs []scan.Input
	for _, f := range files {
		p, err := collectors.NewParser(f.format, collectors.ParserConfig{Reference: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), Location: time.UTC})
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, scan.Input{Name: f.name, Reader: strings.NewReader(f.data), Parser: p})
	}
	var alerts []rules.Alert
	var s seen
	// One parse worker: Enrich sees the events in the order the engines do.
	sum, err := scan.Run(context.Background(), inputs, scan.Options{Rules: pack(t), Workers: 2, BatchEvents: 7, ParseWorkers: 1, Enrich: s.add},
		func(a rules.Alert) error {
			alerts = append(alerts, a)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	return alerts, sum, s.events
}

// sshLine is one auth.log line at start+sec seconds.
func sshLine(sec int, host, msg string) string {
	ts := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC).Add(time.Duration(sec) * time.Second)
	return fmt.Sprintf("%s %s sshd[%d]: %s\n", ts.Format(time.Stamp), host, 1000+sec, msg)
}

// twoHosts returns the auth.logs of two hosts an attacker guesses
// passwords on in turn, ten failures within five minutes, five on each
// host; host a's log goes on for two more hours. Also the same lines as
// one file in time order.
func twoHosts() (a, b, merged string) {
	type line struct {
		sec  int
		text string
	}
	var all []line
	var la, lb strings.Builder
	for i := range 10 {
		host, w := "web1", &la
		if i%2 == 1 {
			host, w = "web2", &lb
		}
		l := sshLine(30*i, host, fmt.Sprintf("Failed password for root from 203.0.113.9 port %d ssh2", 40000+i))
		w.WriteString(l)
		all = append(all, line{30 * i, l})
	}
	for i := range 12 { // web1 goes on, benign, for two hours
		l := sshLine(600+600*i, "web1", "Accepted publickey for deploy from 198.51.100.7 port 50000 ssh2")
		la.WriteString(l)
		all = append(all, line{600 + 600*i, l})
	}
	slices.SortStableFunc(all, func(x, y line) int { return x.sec - y.sec })
	var m strings.Builder
	for _, l := range all {
		m.WriteString(l.text)
	}
	return la.String(), lb.String(), m.String()
}

// detections renders alerts without their ids (which hash the events'
// file names and offsets): rule, entity, and the raw lines matched.
func detections(alerts []rules.Alert) []string {
	var out []string
	for _, a := range alerts {
		var raw []string
		for _, e := range a.Vigil.Alert.Events {
			raw = append(raw, e.String(event.FieldOriginal))
		}
		out = append(out, fmt.Sprintf("%s %s %d %v", a.Rule.ID, a.Vigil.Alert.Entity, a.Vigil.Alert.EventCount, raw))
	}
	slices.Sort(out)
	return out
}

func ids(alerts []rules.Alert) []string {
	var out []string
	for _, a := range alerts {
		out = append(out, a.Rule.ID+" "+a.Vigil.Alert.ID)
	}
	return out
}

func bruteForces(alerts []rules.Alert) int {
	n := 0
	for _, a := range alerts {
		if a.Rule.ID == "vigil.ssh.brute_force" && a.Vigil.Alert.Entity.Value == "203.0.113.9" {
			n++
		}
	}
	return n
}

func TestScanMergesFilesByEventTime(t *testing.T) {
	a, b, merged := twoHosts()
	fa := file{"/var/log/web1/auth.log", "sshd", a}
	fb := file{"/var/log/web2/auth.log", "sshd", b}

	// The premise: read one after the other, web2's half of the attack
	// comes after web1's later events and is too late for the window.
	concat, _, _ := scanFiles(t, []file{{"/var/log/both.log", "sshd", a + b}})
	if n := bruteForces(concat); n != 0 {
		t.Fatalf("premise: the files one after the other raise %d brute-force alerts, want 0", n)
	}
	want, _, _ := scanFiles(t, []file{{"/var/log/merged.log", "sshd", merged}})
	if bruteForces(want) != 1 {
		t.Fatalf("the lines in time order raise %d brute-force alerts, want 1: %v", bruteForces(want), detections(want))
	}
	ab, sumAB, streamAB := scanFiles(t, []file{fa, fb})
	ba, _, streamBA := scanFiles(t, []file{fb, fa})
	for _, tc := range []struct {
		name   string
		alerts []rules.Alert
		stream []event.Event
	}{{"a b", ab, streamAB}, {"b a", ba, streamBA}} {
		if got := detections(tc.alerts); !slices.Equal(got, detections(want)) {
			t.Errorf("scan %s found\n%s\nthe merged file\n%s", tc.name, strings.Join(got, "\n"), strings.Join(detections(want), "\n"))
		}
		for i := 1; i < len(tc.stream); i++ {
			t0, _ := tc.stream[i-1].Time()
			t1, _ := tc.stream[i].Time()
			if t1.Before(t0) {
				t.Errorf("scan %s: event %d (%s) reached the engines after a later one (%s)", tc.name, i, t1, t0)
			}
		}
	}
	// The order of the files on the command line changes nothing.
	if !slices.Equal(ids(ab), ids(ba)) {
		t.Errorf("alert ids differ with the files swapped:\n%v\n%v", ids(ab), ids(ba))
	}
	if len(sumAB.Inputs) != 2 || sumAB.Inputs[0].Name != fa.name || sumAB.Inputs[0].Events != 17 || sumAB.Inputs[1].Events != 5 || sumAB.Events != 22 {
		t.Errorf("summary: %d events, inputs %+v", sumAB.Events, sumAB.Inputs)
	}
}

func TestScanMergeKeepsEachFilesOrderAndEventsWithoutTime(t *testing.T) {
	// c is itself out of order; d has records without a time; e is empty.
	c := file{"c.log", "sshd", sshLine(100, "h", "Connection closed by 192.0.2.1 port 1 [preauth]") +
		sshLine(10, "h", "Connection closed by 192.0.2.2 port 2 [preauth]") +
		sshLine(200, "h", "Connection closed by 192.0.2.3 port 3 [preauth]")}
	d := file{"d.json", "jsonlines", `{"message":"no time 1"}` + "\n" +
		`{"@timestamp":"2026-11-25T08:00:50Z","message":"d at 50"}` + "\n" +
		`{"message":"no time 2"}` + "\n" +
		`{"@timestamp":"2026-11-25T08:02:30Z","message":"d at 150"}` + "\n"}
	e := file{"e.log", "sshd", ""}
	_, sum, stream := scanFiles(t, []file{c, d, e})
	var got []string
	for _, ev := range stream {
		got = append(got, ev.String("message"))
	}
	want := []string{
		"no time 1", // without a time: at once
		"d at 50",   // d 50 < c 100
		"no time 2", // next in d: at once
		"Connection closed by 192.0.2.1 port 1 [preauth]", // c 100 < d 150
		"Connection closed by 192.0.2.2 port 2 [preauth]", // c 10, in c's own order
		"d at 150", // d 150 < c 200
		"Connection closed by 192.0.2.3 port 3 [preauth]",
	}
	if !slices.Equal(got, want) {
		t.Errorf("the engines saw\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if sum.Events != 7 || len(sum.Inputs) != 3 || sum.Inputs[1].Events != 4 || sum.Inputs[2].Events != 0 {
		t.Errorf("summary: %d events, inputs %+v", sum.Events, sum.Inputs)
	}
}

func TestScanOfOneFileIsUnchangedByMerging(t *testing.T) {
	// One file, whatever its order, reaches the engines line by line: a
	// file out of order within itself is not sorted (the engine sees its
	// late events as late, as before).
	a, b, _ := twoHosts()
	data := b + a // out of order within itself
	_, _, stream := scanFiles(t, []file{{"x.log", "sshd", data}})
	lines := strings.SplitAfter(strings.TrimSuffix(data, "\n"), "\n")
	if len(stream) != len(lines) {
		t.Fatalf("%d events for %d lines", len(stream), len(lines))
	}
	for i, ev := range stream {
		if got := ev.String(event.FieldOriginal) + "\n"; got != lines[i] && got != lines[i]+"\n" {
			t.Fatalf("event %d is %q, line %d is %q", i, got, i, lines[i])
		}
	}
}

func TestScanMergeReportsAFailingInput(t *testing.T) {
	p1, _ := collectors.NewParser("sshd", collectors.ParserConfig{})
	p2, _ := collectors.NewParser("sshd", collectors.ParserConfig{})
	many := strings.Repeat(sshLine(1, "h", "Connection closed by 192.0.2.1 port 1 [preauth]"), 5000)
	_, err := scan.Run(context.Background(), []scan.Input{
		{Name: "good.log", Reader: strings.NewReader(many), Parser: p1},
		{Name: "broken.log", Reader: &failing{data: []byte(many[:300])}, Parser: p2},
	}, scan.Options{Rules: pack(t)}, func(rules.Alert) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "broken.log") || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("Run = %v, want broken.log's read error", err)
	}
}

// failing returns its data, then an error.
type failing struct{ data []byte }

func (f *failing) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, fmt.Errorf("disk on fire")
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestScanMergeStopsOnEmitError(t *testing.T) {
	data := strings.Repeat(sshLine(1, "h", "Failed password for root from 203.0.113.9 port 1 ssh2"), 3000)
	var inputs []scan.Input
	for i := range 3 {
		p, _ := collectors.NewParser("sshd", collectors.ParserConfig{})
		inputs = append(inputs, scan.Input{Name: fmt.Sprint(i), Reader: bytes.NewReader([]byte(data)), Parser: p})
	}
	stop := fmt.Errorf("disk full")
	_, err := scan.Run(context.Background(), inputs, scan.Options{Rules: pack(t), BatchEvents: 50}, func(rules.Alert) error { return stop })
	if err != stop {
		t.Fatalf("Run = %v, want the emit error", err)
	}
}

func TestScanMergesAStreamWithFiles(t *testing.T) {
	// Standard input ("-") is a stream like any other input: here a pipe
	// written a line at a time while the scan runs.
	a, b, merged := twoHosts()
	want, _, _ := scanFiles(t, []file{{"/var/log/merged.log", "sshd", merged}})
	pr, pw := io.Pipe()
	go func() {
		for _, l := range strings.SplitAfter(b, "\n") {
			pw.Write([]byte(l))
		}
		pw.Close()
	}()
	pa, _ := collectors.NewParser("sshd", collectors.ParserConfig{Reference: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), Location: time.UTC})
	pb, _ := collectors.NewParser("sshd", collectors.ParserConfig{Reference: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), Location: time.UTC})
	var got []rules.Alert
	_, err := scan.Run(context.Background(), []scan.Input{
		{Name: "/var/log/web1/auth.log", Reader: strings.NewReader(a), Parser: pa},
		{Name: "stdin", Reader: pr, Parser: pb},
	}, scan.Options{Rules: pack(t)}, func(al rules.Alert) error {
		got = append(got, al)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if bruteForces(got) != 1 || !slices.Equal(detections(got), detections(want)) {
		t.Errorf("file and stream found\n%s\nthe merged file\n%s", strings.Join(detections(got), "\n"), strings.Join(detections(want), "\n"))
	}
}
