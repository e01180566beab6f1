package event

import (
	"testing"
	"time"
)

func sampleEvent() Event {
	e := New()
	e.SetTime(time.Date(2025, 12, 10, 6, 55, 46, 0, time.UTC))
	for k, v := range map[string]any{
		"event.kind": "event", "event.category": []any{"authentication"}, "event.type": []any{"start"},
		"event.action": "ssh_login", "event.outcome": "failure", "event.dataset": "system.auth",
		"event.module": "system", "host.name": "LabSZ", "process.name": "sshd", "process.pid": int64(24200),
		"user.name": "root", "source.ip": "183.62.140.253", "source.port": int64(44024),
		"related.ip": []any{"183.62.140.253"}, "related.user": []any{"root"},
		"message":        "Failed password for root from 183.62.140.253 port 44024 ssh2",
		"event.original": "Dec 10 06:55:46 LabSZ sshd[24200]: Failed password for root from 183.62.140.253 port 44024 ssh2",
		"vigil.event_id": "4f1c2a9e0b7d3c5a6e8f9d0c1b2a3948", "vigil.collector": "file",
	} {
		e.Set(k, v)
	}
	return e
}

func BenchmarkMarshal(b *testing.B) {
	e := sampleEvent()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Marshal(e); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkUnmarshal(b *testing.B) {
	data, err := Marshal(sampleEvent())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Unmarshal(data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
