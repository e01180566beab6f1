package enrichers

import (
	"fmt"
	"net/netip"

	"github.com/vigil-siem/vigil/enrichers/network"
	"github.com/vigil-siem/vigil/event"
)

// RuleFunctions returns the lookup helpers rule expressions can call, by
// name, in the form expr.Function takes:
//
//	in_intel(value) bool              an address, domain, URL or hash in a loaded feed
//	asset(host) map                   criticality, owner, environment, tags ({} when unknown)
//	is_private(ip) bool               RFC 1918, unique local, loopback, link-local, …
//	user_info(name) map               privileged, department, full_name, email, groups ({} when unknown)
//	host_criticality(host) string     the asset's criticality, "" when unknown
//
// A missing field (nil) is an unknown value, never an error: in_intel(nil)
// is false and asset(nil).criticality is nil. An enricher that is not
// configured answers as if it knew nothing.
func (s *Set) RuleFunctions() map[string]func(params ...any) (any, error) {
	return map[string]func(params ...any) (any, error){
		"in_intel": func(params ...any) (any, error) {
			v, err := oneString("in_intel", params)
			if err != nil || v == "" || s.intel == nil {
				return false, err
			}
			return s.intel.Match(v) != nil, nil
		},
		"asset": func(params ...any) (any, error) {
			v, err := oneString("asset", params)
			if err != nil || v == "" || s.assets == nil {
				return map[string]any{}, err
			}
			return s.assets.Resolve(v).Map(), nil
		},
		"host_criticality": func(params ...any) (any, error) {
			v, err := oneString("host_criticality", params)
			if err != nil || v == "" || s.assets == nil {
				return "", err
			}
			if a := s.assets.Resolve(v); a != nil {
				return a.Criticality, nil
			}
			return "", nil
		},
		"is_private": func(params ...any) (any, error) {
			v, err := oneString("is_private", params)
			if err != nil || v == "" {
				return false, err
			}
			a, perr := netip.ParseAddr(v)
			if perr != nil {
				return false, nil
			}
			if s.network != nil {
				class, _ := s.network.Lookup(a)
				return class.Local(), nil
			}
			return network.IsPrivate(a), nil
		},
		"user_info": func(params ...any) (any, error) {
			v, err := oneString("user_info", params)
			if err != nil || v == "" || s.users == nil {
				return map[string]any{}, err
			}
			return s.users.User(v).Map(), nil
		},
	}
}

// oneString checks a helper got one argument and renders it as text; nil
// (a field the event lacks) is "".
func oneString(name string, params []any) (string, error) {
	if len(params) != 1 {
		return "", fmt.Errorf("%s() takes 1 argument, got %d", name, len(params))
	}
	switch v := params[0].(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case []any:
		if len(v) == 0 {
			return "", nil
		}
		return event.Stringify(v[0]), nil
	}
	return event.Stringify(params[0]), nil
}
