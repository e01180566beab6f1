package wire_test

import (
	"testing"

	"github.com/vigil-siem/vigil/event"
)

// benchEvents are parsed real logs, or the repository's scenario on a
// fresh clone.
func benchEvents(b *testing.B) []event.Event {
	evs := seedEvents(b)
	if len(evs) == 0 {
		b.Skip("no events to encode")
	}
	return evs
}

// BenchmarkEncode measures Encode per format.
func BenchmarkEncode(b *testing.B) {
	c := avroCodec(b)
	evs := benchEvents(b)
	for _, bc := range []struct{ name, topic string }{{"avro", topic}, {"json", "json-topic"}} {
		b.Run(bc.name, func(b *testing.B) {
			bytes := 0
			n := 0
			for b.Loop() {
				v, err := c.Encode(bc.topic, evs[n%len(evs)])
				if err != nil {
					b.Fatal(err)
				}
				bytes += len(v)
				n++
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(bytes)/float64(n), "bytes/event")
		})
	}
}

// BenchmarkDecode measures Decode of records of each format.
func BenchmarkDecode(b *testing.B) {
	c := avroCodec(b)
	evs := benchEvents(b)
	for _, bc := range []struct{ name, topic string }{{"avro", topic}, {"json", "json-topic"}} {
		recs := make([][]byte, len(evs))
		for i, ev := range evs {
			v, err := c.Encode(bc.topic, ev)
			if err != nil {
				b.Fatal(err)
			}
			recs[i] = v
		}
		b.Run(bc.name, func(b *testing.B) {
			n := 0
			for b.Loop() {
				if _, err := c.Decode(topic, recs[n%len(recs)]); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
