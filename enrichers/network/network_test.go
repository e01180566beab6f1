package network

import (
	"context"
	"net/netip"
	"testing"

	"github.com/vigil-siem/vigil/event"
)

func TestClassify(t *testing.T) {
	for ip, want := range map[string]Class{
		"10.1.2.3": Private, "172.31.255.255": Private, "172.32.0.0": Public, "192.168.0.1": Private,
		"100.64.0.1": Private, "fd12::1": Private, "127.0.0.1": Loopback, "::1": Loopback,
		"169.254.1.1": LinkLocal, "fe80::1": LinkLocal, "224.0.0.251": Multicast, "ff02::1": Multicast,
		"0.0.0.0": Unspecified, "::": Unspecified, "192.0.2.1": Reserved, "198.51.100.23": Reserved,
		"203.0.113.45": Reserved, "2001:db8::1": Reserved, "255.255.255.255": Reserved,
		"8.8.8.8": Public, "2a00:1450::1": Public, "::ffff:10.0.0.1": Private, "::ffff:8.8.8.8": Public,
	} {
		if got := Classify(netip.MustParseAddr(ip)); got != want {
			t.Errorf("Classify(%s) = %s, want %s", ip, got, want)
		}
	}
}

func TestDirection(t *testing.T) {
	e, err := New(Config{Enabled: true, HomeNetworks: []string{"private", "203.0.113.0/24"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		src, dst, want string
	}{
		{"10.0.0.1", "10.0.0.2", "internal"},
		{"10.0.0.1", "8.8.8.8", "outbound"},
		{"8.8.8.8", "203.0.113.9", "inbound"},
		{"8.8.8.8", "1.1.1.1", "external"},
		{"10.0.0.1", "", ""},
	}
	for _, tt := range tests {
		ev := event.Event{}
		ev.SetString("source.ip", tt.src)
		ev.SetString("destination.ip", tt.dst)
		if err := e.Enrich(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		if got := ev.String(FieldDirection); got != tt.want {
			t.Errorf("%s → %s: direction %q, want %q", tt.src, tt.dst, got, tt.want)
		}
	}
	ev := event.Event{"source.ip": "garbage", "destination.ip": "10.0.0.1"}
	if err := e.Enrich(context.Background(), ev); err == nil {
		t.Error("an unparseable source.ip must be reported")
	}
	if ev.String(FieldDestinationClass) != "private" {
		t.Error("the other side must still be classified")
	}
	if _, err := New(Config{HomeNetworks: []string{"10.0.0.0/33"}}); err == nil {
		t.Error("a bad home network must be a startup error")
	}
}
