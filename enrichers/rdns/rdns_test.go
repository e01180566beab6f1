package rdns

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/enrichers/lookup"
	"github.com/vigil-siem/vigil/event"
)

// fakeResolver answers from a table; "slow" addresses wait for the
// context to end, as an unanswered DNS query does.
type fakeResolver struct {
	mu    sync.Mutex
	names map[string]string
	slow  map[string]bool
	asked map[string]int
}

func (f *fakeResolver) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	f.mu.Lock()
	f.asked[addr]++
	name, slow := f.names[addr], f.slow[addr]
	f.mu.Unlock()
	if slow {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if name == "" {
		return nil, &net.DNSError{Err: "no such host", Name: addr, IsNotFound: true}
	}
	return []string{name}, nil
}

func TestReverseDNS(t *testing.T) {
	r := &fakeResolver{
		names: map[string]string{"198.51.100.23": "scanner.example.net.", "10.0.0.5": "bastion-01.corp.example."},
		slow:  map[string]bool{"203.0.113.45": true},
		asked: map[string]int{},
	}
	e, err := New(Config{Enabled: true, Resolver: r, Timeout: Duration(20 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		ev       event.Event
		want     map[string]string
		wantFlag bool
	}{
		{"name found", event.Event{"source.ip": "198.51.100.23", "destination.ip": "10.0.0.5"},
			map[string]string{"source.domain": "scanner.example.net", "destination.domain": "bastion-01.corp.example"}, false},
		{"no name", event.Event{"source.ip": "192.0.2.1"}, map[string]string{"source.domain": ""}, false},
		{"domain already set", event.Event{"source.ip": "198.51.100.23", "source.domain": "keep.example"},
			map[string]string{"source.domain": "keep.example"}, false},
		{"loopback never asked", event.Event{"source.ip": "127.0.0.1"}, map[string]string{"source.domain": ""}, false},
		{"timeout flags", event.Event{"source.ip": "203.0.113.45"}, map[string]string{"source.domain": ""}, true},
		{"timeout remembered, not asked again", event.Event{"source.ip": "203.0.113.45"}, map[string]string{"source.domain": ""}, false},
	}
	for _, tt := range tests {
		err := e.Enrich(context.Background(), tt.ev)
		if (err != nil) != tt.wantFlag {
			t.Errorf("%s: error %v, want error %v", tt.name, err, tt.wantFlag)
		}
		if err != nil && !strings.Contains(err.Error(), "no answer within 20ms") {
			t.Errorf("%s: error %v does not say it timed out", tt.name, err)
		}
		for k, want := range tt.want {
			if got := tt.ev.String(k); got != want {
				t.Errorf("%s: %s = %q, want %q", tt.name, k, got, want)
			}
		}
	}
	for range 3 {
		_ = e.Enrich(context.Background(), event.Event{"source.ip": "192.0.2.1"})
	}
	if r.asked["192.0.2.1"] != 1 || r.asked["203.0.113.45"] != 1 || r.asked["127.0.0.1"] != 0 {
		t.Errorf("queries = %v, want one per address (negative answers cached), none for loopback", r.asked)
	}
}

// Duration is the config type, to keep the test table readable.
type Duration = lookup.Duration
