package incidents

import (
	"context"
	"fmt"
	"strings"
)

// Incident and alert ids are 16 bytes of SHA-256 in hex. A responder
// copies them from a table, a chat or a ticket, often shortened (as git
// commits are) or in upper case, and sometimes copies an alert id from
// Kibana's alerts view instead of the incident's.
const (
	idLen = 32
	// minPrefix is the shortest prefix taken: 6 hex digits are 16.7
	// million values, so a prefix that short is still unique among the
	// incidents of a SOC, and shorter ones are more likely typos.
	minPrefix = 6
	// maxCandidates is how many incidents an ambiguous prefix lists.
	maxCandidates = 10
)

// matchesID says whether r's incident id starts with prefix, or with
// byAlert whether one of its alert ids does.
func matchesID(r record, prefix string, byAlert bool) bool {
	if !byAlert {
		return strings.HasPrefix(strings.ToLower(r.v.ID()), prefix)
	}
	for _, a := range r.v.Vigil.Incident.AlertIDs {
		if strings.HasPrefix(strings.ToLower(a), prefix) {
			return true
		}
	}
	return false
}

// resolve finds the verdict an id names: an incident id, in any case, or
// a unique prefix of one (at least minPrefix hex digits); failing that,
// the incident holding an alert with that id or prefix; alert is then the
// alert's full id ("" for an incident id).
func resolve(ctx context.Context, st store, id string) (r record, alert string, err error) {
	key := strings.ToLower(strings.TrimSpace(id))
	if key == "" {
		return record{}, "", fmt.Errorf("incidents: incident id is empty")
	}
	if !isHex(key) || len(key) > idLen {
		return record{}, "", fmt.Errorf("incidents: %q is not an incident id: ids are %d hex digits (a unique prefix of at least %d works)",
			sanitize(id), idLen, minPrefix)
	}
	if len(key) < minPrefix {
		return record{}, "", fmt.Errorf("incidents: %q is too short: give at least %d hex digits of the incident id", key, minPrefix)
	}
	recs, err := st.find(ctx, key, false)
	if err != nil {
		return record{}, "", err
	}
	switch len(recs) {
	case 1:
		return recs[0], "", nil
	case 0:
	default:
		return record{}, "", ambiguous(key, "incidents", recs)
	}
	// Not an incident: the incident of an alert?
	recs, err = st.find(ctx, key, true)
	if err != nil {
		return record{}, "", err
	}
	switch len(recs) {
	case 1:
		alert := key // the verdict matched by the prefix: name the alert in full
		for _, a := range recs[0].v.Vigil.Incident.AlertIDs {
			if strings.HasPrefix(strings.ToLower(a), key) {
				alert = a
				break
			}
		}
		return recs[0], alert, nil
	case 0:
	default:
		return record{}, "", ambiguous(key, "incidents through their alerts", recs)
	}
	// An alert that no verdict lists yet: say so rather than "not found".
	if len(key) == idLen {
		if alerts, err := st.alerts(ctx, []string{key}); err == nil && len(alerts) > 0 {
			a := alerts[0]
			return record{}, "", fmt.Errorf("incidents: %s is an alert id (rule %s, %s), but no verdict in %s lists it yet: "+
				"triage has not judged its incident, or the verdict is not indexed", key, sanitize(a.Rule.ID), stamp(a.Timestamp), st.where())
		}
	}
	return record{}, "", fmt.Errorf("incidents: %s in %s: %w (nor a prefix of one, nor of an alert id of one)", key, st.where(), errNotFound)
}

// ambiguous lists the candidates of a prefix that matches several
// incidents, so that the responder can pick one.
func ambiguous(key, what string, recs []record) error {
	var b strings.Builder
	n := len(recs)
	more := ""
	if n > maxCandidates {
		recs, more = recs[:maxCandidates], "\n  … and more"
	}
	for _, r := range recs {
		inc := r.v.Vigil.Incident
		fmt.Fprintf(&b, "\n  %s  %s  %-10s  %s", inc.ID, inc.LastSeen.UTC().Format("2006-01-02 15:04"),
			effectiveVerdict(r), clip(inc.Entity.String(), 40))
	}
	if n > maxCandidates {
		return fmt.Errorf("incidents: %s matches more than %d %s; give more digits:%s%s", key, maxCandidates, what, b.String(), more)
	}
	return fmt.Errorf("incidents: %s matches %d %s; give more digits:%s", key, n, what, b.String())
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
