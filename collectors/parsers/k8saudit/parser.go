package k8saudit

import (
	"net/netip"
	"strings"
	"time"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
)

// Values of event.dataset and event.module.
const (
	Dataset = "kubernetes.audit"
	Module  = "kubernetes"
)

// Prefix is where the audit event's own fields are kept, as Elastic's
// Kubernetes integration keeps them (outside ECS).
const Prefix = "kubernetes.audit."

// Config is empty: audit events carry their own RFC 3339 times.
type Config struct{}

// Parser turns audit log lines into ECS events.
type Parser struct{}

// New returns a parser.
func New(Config) *Parser { return &Parser{} }

// Parse turns one line into one event; it never fails.
func (p *Parser) Parse(src parsers.Source, line []byte) event.Event {
	s := strings.TrimRight(string(line), "\r\n")
	e := parsers.Start(src, line, s)
	a, err := event.Unmarshal([]byte(s))
	if err != nil {
		return parsers.Flag(e, "not a Kubernetes audit event: "+err.Error())
	}
	if kind, _ := a["kind"].(string); kind != "Event" {
		return parsers.Flag(e, "not a Kubernetes audit event: kind is "+event.Stringify(a["kind"])+", want Event")
	}
	// Falco's traces, like some log shippers, leave apiVersion out.
	if v, has := a["apiVersion"]; has && !strings.HasPrefix(event.Stringify(v), "audit.k8s.io/") {
		return parsers.Flag(e, "not a Kubernetes audit event: apiVersion is "+event.Stringify(a["apiVersion"])+", want audit.k8s.io/*")
	}
	t, ok := firstTime(a, "requestReceivedTimestamp", "timestamp", "stageTimestamp", "metadata.creationTimestamp")
	if !ok {
		return parsers.Flag(e, "Kubernetes audit event without a valid requestReceivedTimestamp, timestamp or stageTimestamp")
	}
	for k, v := range a {
		e[Prefix+k] = v
	}
	e.SetTime(t)
	e["event.kind"] = "event"
	e["event.dataset"] = Dataset
	e["event.module"] = Module
	str := func(k string) string { s, _ := a[k].(string); return s }

	verb := str("verb")
	e.SetString("event.action", verb)
	e["event.category"] = []any{"configuration"}
	e["event.type"] = []any{eventType(verb)}
	e.SetString("user.name", str("user.username"))
	e.SetString("user.id", str("user.uid"))
	if groups := stringList(a["user.groups"]); len(groups) > 0 {
		e["user.group.name"] = groups
	}
	e.SetString("user_agent.original", str("userAgent"))
	e.SetString("url.original", str("requestURI"))
	e.SetString("event.id", str("auditID"))

	e["orchestrator.type"] = "kubernetes"
	e.SetString("orchestrator.namespace", str("objectRef.namespace"))
	e.SetString("orchestrator.resource.type", str("objectRef.resource"))
	e.SetString("orchestrator.resource.name", str("objectRef.name"))
	e.SetString("orchestrator.api_version", str("objectRef.apiVersion"))

	var ips []any
	for _, s := range stringList(a["sourceIPs"]) {
		if ip, err := netip.ParseAddr(s.(string)); err == nil {
			ips = append(ips, ip.WithZone("").String())
		}
	}
	if len(ips) > 0 {
		e["source.ip"] = ips[0]
		e["related.ip"] = ips
	}
	var users []any
	for _, k := range []string{"user.username", "impersonatedUser.username"} {
		if u := str(k); u != "" && (len(users) == 0 || users[0] != u) {
			users = append(users, u)
		}
	}
	if len(users) > 0 {
		e["related.user"] = users
	}

	// The outcome: the response code when there is one, else the
	// authorizer's decision.
	if code, ok := a["responseStatus.code"].(int64); ok && code > 0 {
		if code < 400 {
			e["event.outcome"] = "success"
		} else {
			e["event.outcome"] = "failure"
		}
	} else {
		switch str("annotations.authorization.k8s.io/decision") {
		case "allow":
			e["event.outcome"] = "success"
		case "forbid":
			e["event.outcome"] = "failure"
		}
	}
	return e
}

// eventType maps a Kubernetes verb to an ECS event.type allowed with the
// configuration category.
func eventType(verb string) string {
	switch verb {
	case "create":
		return "creation"
	case "update", "patch":
		return "change"
	case "delete", "deletecollection":
		return "deletion"
	case "get", "list", "watch":
		return "access"
	}
	return "info"
}

func firstTime(a event.Event, keys ...string) (time.Time, bool) {
	for _, k := range keys {
		if s, ok := a[k].(string); ok {
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil && t.UTC().Year() >= 1 && t.UTC().Year() <= 9999 {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

// stringList returns the non-empty strings of a JSON array.
func stringList(v any) []any {
	list, _ := v.([]any)
	var out []any
	for _, x := range list {
		if s, ok := x.(string); ok && s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Fork implements parsers.Forker: lines are parsed independently, so a
// copy parses the lines that follow as p would.
func (p *Parser) Fork() parsers.Line {
	cp := *p
	return &cp
}

// Skip implements parsers.Forker: a line changes nothing in p.
func (p *Parser) Skip([]byte) {}
