package rules

import (
	"fmt"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/event"
)

// BenchmarkEngine runs the built-in pack on a realistic mix: mostly
// failed logins from a few hundred sources (which keep sequence state
// busy), some successes and sudo lines.
func BenchmarkEngine(b *testing.B) {
	rules, errs := LoadFS(Pack(), ".")
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	const n = 4096
	evs := make([]event.Event, n)
	for i := range evs {
		ip := fmt.Sprintf("198.51.%d.%d", i%7, i%251)
		switch {
		case i%50 == 0:
			evs[i] = sshEvent(i, t0.Add(time.Duration(i)*time.Second), ip, "deploy", "success")
		case i%17 == 0:
			e := event.Event{"event.dataset": "system.auth", "event.action": "sudo", "event.outcome": "success",
				"user.name": "alice", "process.command_line": "/usr/bin/apt update", "vigil.event_id": fmt.Sprint(i)}
			e.SetTime(t0.Add(time.Duration(i) * time.Second))
			evs[i] = e
		default:
			evs[i] = sshEvent(i, t0.Add(time.Duration(i)*time.Second), ip, "root", "failure")
		}
	}
	engine := NewEngine(rules, EngineConfig{})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		engine.Process(evs[i%n])
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
