package syslog

import (
	"bytes"
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/collectors/input"
)

// BenchmarkTCP sends 100,000 newline-framed RFC 5424 messages per
// iteration over one loopback TCP connection to a no-op handler.
func BenchmarkTCP(b *testing.B) {
	const perRound = 100_000
	var stream bytes.Buffer
	for range perRound {
		stream.WriteString(msg5424 + "\n")
	}
	in, err := New(Config{Listen: []string{"tcp://127.0.0.1:0"}, FlushInterval: time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	var got atomic.Int64
	round := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- in.Run(ctx, func(_ context.Context, batch []input.Record) error {
			n := got.Add(int64(len(batch)))
			if (n-int64(len(batch)))/perRound != n/perRound {
				round <- struct{}{}
			}
			return nil
		})
	}()
	_, addr, _ := ParseListen(in.Addrs()[0])
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(stream.Len()))
	b.ResetTimer()
	for range b.N {
		if _, err := c.Write(stream.Bytes()); err != nil {
			b.Fatal(err)
		}
		<-round
	}
	b.ReportMetric(float64(got.Load())/b.Elapsed().Seconds(), "events/s")
	c.Close()
	cancel()
	<-done
}
