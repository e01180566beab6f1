package estest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// ilmPolicy is one stored index lifecycle policy.
type ilmPolicy struct {
	version  int64
	modified time.Time
	policy   map[string]any // the "policy" object as sent
}

// ilmPhases are the phases a policy may have, and the actions this server
// accepts in them (a subset of Elasticsearch's, enough for retention).
var ilmPhases = map[string]map[string]bool{
	"hot":    {"rollover": true, "set_priority": true, "forcemerge": true, "readonly": true, "shrink": true, "downsample": true, "unfollow": true},
	"warm":   {"set_priority": true, "forcemerge": true, "readonly": true, "shrink": true, "allocate": true, "migrate": true, "downsample": true, "unfollow": true},
	"cold":   {"set_priority": true, "readonly": true, "allocate": true, "migrate": true, "searchable_snapshot": true, "downsample": true, "unfollow": true},
	"frozen": {"searchable_snapshot": true, "unfollow": true},
	"delete": {"delete": true, "wait_for_snapshot": true},
}

// ilmAPI serves /_ilm/policy and /_ilm/policy/{name}.
func (s *Server) ilmAPI(w http.ResponseWriter, r *http.Request, name string) {
	if name == "" {
		if allow(w, r, http.MethodGet) {
			s.getPolicies(w, "*")
		}
		return
	}
	if !allow(w, r, http.MethodGet, http.MethodPut, http.MethodDelete) {
		return
	}
	switch r.Method {
	case http.MethodGet:
		s.getPolicies(w, name)
	case http.MethodDelete:
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, ok := s.policies[name]; !ok {
			writeError(w, policyNotFound(name))
			return
		}
		delete(s.policies, name)
		writeJSON(w, http.StatusOK, map[string]any{"acknowledged": true})
	case http.MethodPut:
		body, e := s.readBody(r)
		if e != nil {
			writeBodyError(w, e)
			return
		}
		policy, e := parsePolicy(name, body)
		if e != nil {
			writeError(w, e)
			return
		}
		s.mu.Lock()
		p := s.policies[name]
		if p == nil {
			p = &ilmPolicy{}
			s.policies[name] = p
		}
		p.version++
		p.modified = time.Now().UTC()
		p.policy = policy
		s.counters.PolicyWrites++
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"acknowledged": true})
	}
}

func policyNotFound(name string) *esError {
	return &esError{Status: http.StatusNotFound, Type: "resource_not_found_exception",
		Reason: fmt.Sprintf("Lifecycle policy not found: %s", name)}
}

// parsePolicy validates a PUT _ilm/policy body: {"policy": {"phases": {...}, "_meta": {...}}}.
func parsePolicy(name string, body []byte) (map[string]any, *esError) {
	if body == nil {
		return nil, badRequest("parse_exception", "request body is required")
	}
	doc, err := decodeObject(body)
	if err != nil {
		return nil, badRequest("x_content_parse_exception", "failed to parse the lifecycle policy [%s]: %v", name, err)
	}
	for k := range doc {
		if k != "policy" {
			return nil, badRequest("x_content_parse_exception", "[put_lifecycle_request] unknown field [%s]", k)
		}
	}
	policy, ok := doc["policy"].(map[string]any)
	if !ok {
		return nil, badRequest("x_content_parse_exception", "[put_lifecycle_request] policy must be an object")
	}
	for k, v := range policy {
		switch k {
		case "phases":
			phases, ok := v.(map[string]any)
			if !ok {
				return nil, badRequest("x_content_parse_exception", "[lifecycle_policy] phases must be an object")
			}
			for pn, pv := range phases {
				allowed, known := ilmPhases[pn]
				if !known {
					return nil, badRequest("illegal_argument_exception", "Lifecycle does not support phase [%s]", pn)
				}
				phase, ok := pv.(map[string]any)
				if !ok {
					return nil, badRequest("x_content_parse_exception", "[phase] %s must be an object", pn)
				}
				if ma, ok := phase["min_age"]; ok {
					if str, ok := ma.(string); !ok || !validTimeValue(str) {
						return nil, badRequest("illegal_argument_exception", "failed to parse setting [min_age] with value [%v] as a time value: unit is missing or unrecognized", ma)
					}
				}
				actions, _ := phase["actions"].(map[string]any)
				for an := range actions {
					if !allowed[an] {
						return nil, badRequest("illegal_argument_exception", "invalid action [%s] defined in phase [%s]", an, pn)
					}
				}
			}
		case "_meta":
		default:
			return nil, badRequest("x_content_parse_exception", "[lifecycle_policy] unknown field [%s]", k)
		}
	}
	return policy, nil
}

// validTimeValue accepts Elasticsearch time values such as "0ms", "30d", "12h".
func validTimeValue(v string) bool {
	for _, unit := range []string{"nanos", "micros", "ms", "s", "m", "h", "d"} {
		if n, ok := strings.CutSuffix(v, unit); ok && n != "" {
			if _, err := json.Number(n).Int64(); err == nil {
				return true
			}
		}
	}
	return v == "0" || v == "-1"
}

func (s *Server) getPolicies(w http.ResponseWriter, expr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for n := range s.policies {
		for _, p := range strings.Split(expr, ",") {
			if glob(p, n) {
				names = append(names, n)
				break
			}
		}
	}
	sort.Strings(names)
	if len(names) == 0 && !strings.Contains(expr, "*") {
		writeError(w, policyNotFound(expr))
		return
	}
	out := make(map[string]any, len(names))
	for _, n := range names {
		p := s.policies[n]
		out[n] = map[string]any{
			"version":       p.version,
			"modified_date": p.modified.Format("2006-01-02T15:04:05.000Z"),
			"policy":        p.policy,
			"in_use_by":     map[string]any{"indices": []any{}, "data_streams": []any{}, "composable_templates": []any{}},
		}
	}
	writeJSON(w, http.StatusOK, out)
}
