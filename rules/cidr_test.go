package rules

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/expr-lang/expr/vm"

	"github.com/vigil-siem/vigil/event"
)

// TestCidrConstantNetworkIsCheckedAtLoad: a constant network cidr()
// cannot read is a load error, as a bad constant re() pattern is, rather
// than a rule that loads and never matches.
func TestCidrConstantNetworkIsCheckedAtLoad(t *testing.T) {
	e, _ := newEnv(&loadConfig{})
	for _, c := range []struct{ expr, wantErr string }{
		{`cidr(source.ip, "banana")`, `cidr: bad network "banana": not an address`},
		{`cidr(source.ip, "10.0.0.0/33")`, `cidr: bad network "10.0.0.0/33": prefix length out of range`},
		{`cidr(source.ip, "2001:db8::/129")`, `cidr: bad network "2001:db8::/129"`},
		{`source.ip != nil && cidr(source.ip, "10.0.0/8")`, `cidr: bad network "10.0.0/8"`},
	} {
		if _, _, err := e.compile(c.expr); err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("%s: error %v, want %q", c.expr, err, c.wantErr)
		}
	}
	for _, ok := range []string{`cidr(source.ip, "10.0.0.0/8")`, `cidr(source.ip, "192.0.2.1")`, `cidr(source.ip, "2001:db8::/32")`, `cidr(source.ip, user.name)`} {
		if _, _, err := e.compile(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	// A caller's own cidr() reads networks its own way.
	own, _ := newEnv(newLoadConfig([]LoadOption{WithFunctions(map[string]func(...any) (any, error){
		"cidr": func(...any) (any, error) { return true, nil },
	})}))
	if _, _, err := own.compile(`cidr(source.ip, "office")`); err != nil {
		t.Errorf("a replaced cidr(): %v", err)
	}

	// Through a rule file: file, line, rule and key.
	fsys := fstest.MapFS{"r.yaml": {Data: []byte("id: fn.badcidr\nname: n\nkind: match\nseverity: low\ncondition: cidr(source.ip, \"banana\")\n")}}
	if _, errs := LoadFS(fsys, "."); len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), `r.yaml:5: rule fn.badcidr: condition: cidr: bad network "banana"`) {
		t.Errorf("errors %v", errs)
	}
}

// TestCidrBareAddressIsThatAddress: a network written without a prefix
// length is the one address, IPv4 or IPv6, not a network nothing is in.
func TestCidrBareAddressIsThatAddress(t *testing.T) {
	e, _ := newEnv(&loadConfig{})
	machine := &vm.VM{}
	for _, c := range []struct {
		ip, network string
		want        bool
	}{
		{"1.2.3.4", "1.2.3.4", true},
		{"1.2.3.5", "1.2.3.4", false},
		{"::ffff:1.2.3.4", "1.2.3.4", true},
		{"1.2.3.4", "::ffff:1.2.3.4", true},
		{"2001:db8::1", "2001:db8::1", true},
		{"2001:db8::2", "2001:db8::1", false},
		{"1.2.3.4", "1.2.3.0/24", true},
	} {
		cond, _, err := e.compile(`cidr(source.ip, "` + c.network + `")`)
		if err != nil {
			t.Errorf("%s: %v", c.network, err)
			continue
		}
		got, err := cond.eval(event.Event{"source.ip": c.ip}, machine)
		if err != nil || got != c.want {
			t.Errorf("cidr(%s, %q) = %v (%v), want %v", c.ip, c.network, got, err, c.want)
		}
	}
}
