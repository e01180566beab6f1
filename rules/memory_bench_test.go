package rules

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/event"
)

// openKeys is how many sequence keys BenchmarkSequenceKeysMemory opens.
const openKeys = 1_000_000

// BenchmarkSequenceKeysMemory opens one million sequence keys: the first
// failed login of the brute-force sequence (ten failures per source) from
// a million distinct sources, each event shaped like the sshd parser's
// output and decoded from JSON as the detect stage reads it. It reports
// the live heap after a GC, per key and in total, the part of it beyond
// the events the partial matches hold, and the process's resident set.
// Run it with -benchtime 1x.
func BenchmarkSequenceKeysMemory(b *testing.B) {
	pack, errs := LoadFS(Pack(), ".")
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	var rule *Compiled
	for _, c := range pack {
		if c.Rule.ID == "vigil.ssh.brute_force" {
			rule = c
		}
	}
	if rule == nil {
		b.Fatal("vigil.ssh.brute_force is not in the pack")
	}
	for b.Loop() {
		base := liveHeap()
		engine := NewEngine([]*Compiled{rule}, EngineConfig{MaxKeys: 2 * openKeys})
		for i := range openKeys {
			engine.Process(sshdFailure(b, i))
		}
		total := liveHeap() - base
		if got := engine.StateKeys()[rule.Rule.ID]; got != openKeys {
			b.Fatalf("%d keys open, want %d", got, openKeys)
		}
		if ev := engine.Stats().Evictions; ev != 0 {
			b.Fatalf("%d keys evicted", ev)
		}
		rss := residentBytes()
		runtime.KeepAlive(engine)

		// The same events, held in a slice: what the state costs beyond them.
		base = liveHeap()
		evs := make([]event.Event, openKeys)
		for i := range evs {
			evs[i] = sshdFailure(b, i)
		}
		events := liveHeap() - base
		runtime.KeepAlive(evs)

		b.ReportMetric(float64(total)/openKeys, "heap-B/key")
		b.ReportMetric(float64(total-events)/openKeys, "state-B/key")
		b.ReportMetric(float64(total)/(1<<20), "heap-MB")
		if rss > 0 {
			b.ReportMetric(float64(rss)/(1<<20), "rss-MB")
		}
	}
}

// sshdFailure is the i-th failed login, from its own source address, with
// the fields the sshd parser sets, decoded from JSON as the detect stage
// reads it from vigil.events.
func sshdFailure(tb testing.TB, i int) event.Event {
	b, err := event.Marshal(parsedFailure(i))
	if err != nil {
		tb.Fatal(err)
	}
	e, err := event.Unmarshal(b)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

func parsedFailure(i int) event.Event {
	ip := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
	port := int64(40000 + i%20000)
	at := t0.Add(time.Duration(i) * 500 * time.Microsecond) // all within maxspan (10m)
	msg := "Failed password for root from " + ip + " port " + strconv.FormatInt(port, 10) + " ssh2"
	e := event.New()
	e.SetTime(at)
	for k, v := range map[string]any{
		"event.kind": "event", "event.category": []any{"authentication"}, "event.type": []any{"start"},
		"event.action": "ssh_login", "event.outcome": "failure", "event.dataset": "system.auth",
		"event.module": "system", "host.name": "web-01", "process.name": "sshd", "process.pid": int64(24200 + i%1000),
		"user.name": "root", "source.ip": ip, "source.port": port,
		"related.ip": []any{ip}, "related.user": []any{"root"},
		"message":         msg,
		"event.original":  at.Format(time.Stamp) + " web-01 sshd[24200]: " + msg,
		"vigil.event_id":  fmt.Sprintf("%032x", i),
		"vigil.collector": "file", "log.file.path": "/var/log/auth.log", "log.offset": int64(i) * 96,
	} {
		e.Set(k, v)
	}
	return e
}

// liveHeap is the heap in use after a full collection.
func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// residentBytes is the process's resident set size (VmRSS), 0 where
// /proc is not there.
func residentBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
