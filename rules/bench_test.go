package rules

import (
	"encoding/json"
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
	for _, mode := range []struct {
		name    string
		noIndex bool
	}{{"indexed", false}, {"unindexed", true}} {
		b.Run(mode.name, func(b *testing.B) {
			engine := NewEngine(rules, EngineConfig{NoIndex: mode.noIndex})
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				engine.Process(evs[i%n])
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkEngineMixedDatasets runs the pack on a stream where most events
// belong to datasets no pack rule looks at (web, firewall, Windows), as on
// a real bus: the index skips the rules those events cannot match.
func BenchmarkEngineMixedDatasets(b *testing.B) {
	rules, errs := LoadFS(Pack(), ".")
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	datasets := []string{"nginx.access", "windows.security", "aws.cloudtrail", "zeek.conn", "system.auth"}
	const n = 4096
	evs := make([]event.Event, n)
	for i := range evs {
		e := sshEvent(i, t0.Add(time.Duration(i)*time.Second), fmt.Sprintf("198.51.%d.%d", i%7, i%251), "root", "failure")
		e["event.dataset"] = datasets[i%len(datasets)]
		evs[i] = e
	}
	for _, mode := range []struct {
		name    string
		noIndex bool
	}{{"indexed", false}, {"unindexed", true}} {
		b.Run(mode.name, func(b *testing.B) {
			engine := NewEngine(rules, EngineConfig{NoIndex: mode.noIndex})
			i := 0
			for b.Loop() {
				engine.Process(evs[i%n])
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkEngineLateness is BenchmarkEngine's stream through the reorder
// buffer (one minute of allowed lateness).
func BenchmarkEngineLateness(b *testing.B) {
	rules, errs := LoadFS(Pack(), ".")
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	const n = 4096
	evs := make([]event.Event, n)
	for i := range evs {
		evs[i] = sshEvent(i, t0.Add(time.Duration(i)*time.Second), fmt.Sprintf("198.51.%d.%d", i%7, i%251), "root", "failure")
	}
	engine := NewEngine(rules, EngineConfig{AllowedLateness: time.Minute})
	i := 0
	for b.Loop() {
		ev := evs[i%n].Clone()
		ev.SetTime(t0.Add(time.Duration(i) * time.Second))
		engine.Process(ev)
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkAlertMarshal encodes a ten-event brute-force alert, in one pass
// and the way it was done before (struct, decode to a flat event, merge
// the fields, encode again).
func BenchmarkAlertMarshal(b *testing.B) {
	rules, _ := LoadFS(Pack(), ".")
	e := NewEngine(rules, EngineConfig{})
	var a Alert
	for _, ev := range failures(10, t0, time.Second, "203.0.113.45") {
		for _, got := range e.Process(ev) {
			a = got
		}
	}
	b.Run("one-pass", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(a); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
	})
	b.Run("three-pass", func(b *testing.B) {
		for b.Loop() {
			base, _ := json.Marshal(alertJSON(a))
			doc, err := event.Unmarshal(base)
			if err != nil {
				b.Fatal(err)
			}
			for k, v := range a.Fields {
				if _, taken := doc[k]; !taken {
					doc[k] = v
				}
			}
			if _, err := event.Marshal(doc); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
	})
}

// BenchmarkThreshold runs a distinct-count threshold (password spraying)
// over failures from a few hundred sources against many users.
func BenchmarkThreshold(b *testing.B) {
	r := parseRule(b, `id: b.spray
name: Spray
kind: threshold
severity: high
where: event.dataset == "system.auth"
condition: event.action == "ssh_login" && event.outcome == "failure"
by: [source.ip]
threshold: {window: 10m, distinct: user.name, gte: 20}
`)
	const n = 4096
	evs := make([]event.Event, n)
	for i := range evs {
		evs[i] = sshEvent(i, t0.Add(time.Duration(i)*100*time.Millisecond), fmt.Sprintf("198.51.%d.%d", i%3, i%97), fmt.Sprintf("user%d", i%31), "failure")
	}
	engine := NewEngine([]*Compiled{r}, EngineConfig{})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		engine.Process(evs[i%n])
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkNewTerms runs a new_terms rule (user, country) over logins of
// a thousand users from a handful of countries.
func BenchmarkNewTerms(b *testing.B) {
	r := parseRule(b, `id: b.new_country
name: New country
kind: new_terms
severity: medium
condition: event.outcome == "success"
by: [user.name]
new_terms: {fields: [source.geo.country_iso_code], history_window: 7d}
`)
	countries := []string{"DE", "FR", "US", "NL", "CN", "BR", "IN"}
	const n = 4096
	evs := make([]event.Event, n)
	for i := range evs {
		e := sshEvent(i, t0.Add(time.Duration(i)*time.Second), "192.0.2.1", fmt.Sprintf("user%d", i%1000), "success")
		e["source.geo.country_iso_code"] = countries[i%len(countries)]
		evs[i] = e
	}
	engine := NewEngine([]*Compiled{r}, EngineConfig{})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		engine.Process(evs[i%n])
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
