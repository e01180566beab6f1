package cloudtrail

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
)

// Values of event.dataset and event.module, as Elastic's AWS integration
// names them.
const (
	Dataset = "aws.cloudtrail"
	Module  = "aws"
)

// Config configures a Parser. CloudTrail needs no option yet; the struct
// keeps the constructor's shape stable.
type Config struct{}

// Parser turns CloudTrail records into ECS events. It keeps no state and
// is safe for concurrent use.
type Parser struct{}

// New returns a parser.
func New(Config) *Parser { return &Parser{} }

// Parse turns one CloudTrail record (a JSON object on one line) into one
// event. It never fails: a line that is not a JSON object, an envelope
// (which holds many records: read it with ParseDocument), or a record
// without eventName or time comes back flagged.
func (p *Parser) Parse(src parsers.Source, line []byte) event.Event {
	raw := bytes.TrimRight(line, "\r\n")
	e := parsers.Start(src, line, string(raw))
	rec, reason := parsers.DecodeJSONObject(raw, "record")
	if reason != "" {
		return parsers.Flag(e, reason)
	}
	if recs, ok := rec["Records"].([]any); ok {
		return parsers.Flag(e, "CloudTrail envelope of "+strconv.Itoa(len(recs))+" records on one line: read the file as a document")
	}
	name := str(rec["eventName"])
	if name == "" {
		return parsers.Flag(e, "CloudTrail record without eventName")
	}
	stamp := first(str(rec["eventTime"]), str(rec["@timestamp"]))
	t, err := time.Parse(time.RFC3339Nano, stamp)
	if err != nil {
		return parsers.Flag(e, "CloudTrail record "+name+": invalid eventTime "+strconv.Quote(stamp))
	}
	e.SetTime(t)
	fill(e, rec, name)
	return e
}

func str(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case json.Number:
		return t.String()
	case bool:
		return strconv.FormatBool(t)
	}
	return ""
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func set(e event.Event, key string, v any) {
	if s := str(v); s != "" {
		e[key] = s
	}
}

// setJSON stores an object as compact JSON text, as Elastic's integration
// keeps request_parameters and response_elements.
func setJSON(e event.Event, key string, v any) {
	switch v.(type) {
	case nil:
		return
	case string:
		set(e, key, v)
		return
	}
	if b, err := json.Marshal(v); err == nil && string(b) != "{}" {
		e[key] = string(b)
	}
}

func setBool(e event.Event, key string, v any) {
	switch t := v.(type) {
	case bool:
		e[key] = t
	case string:
		if b, err := strconv.ParseBool(t); err == nil {
			e[key] = b
		}
	}
}

// fill writes the ECS and aws.cloudtrail.* fields of a record.
func fill(e event.Event, rec map[string]any, name string) {
	source := str(rec["eventSource"])
	e["event.kind"] = "event"
	e["event.module"] = Module
	e["event.dataset"] = Dataset
	e["event.action"] = name
	set(e, "event.provider", source)
	set(e, "event.id", rec["eventID"])
	e["cloud.provider"] = "aws"
	set(e, "cloud.region", rec["awsRegion"])
	set(e, "cloud.account.id", rec["recipientAccountId"])
	set(e, "user_agent.original", rec["userAgent"])

	if addr := str(rec["sourceIPAddress"]); addr != "" {
		e["source.address"] = addr
		if a, ok := parseIP(addr); ok {
			e["source.ip"] = a.String()
			e["related.ip"] = []any{e["source.ip"]}
		} else {
			e["source.domain"] = addr
		}
	}

	outcome := "success"
	if code := str(rec["errorCode"]); code != "" {
		outcome = "failure"
		e["aws.cloudtrail.error_code"] = code
		set(e, "aws.cloudtrail.error_message", rec["errorMessage"])
	}
	resp, _ := rec["responseElements"].(map[string]any)
	if name == "ConsoleLogin" && str(resp["ConsoleLogin"]) == "Failure" {
		outcome = "failure"
	}
	e["event.outcome"] = outcome
	if category, types := classify(source, name); category != "" {
		e["event.category"] = []any{category}
		e["event.type"] = types
	}

	identity(e, rec["userIdentity"])

	set(e, "aws.cloudtrail.event_version", rec["eventVersion"])
	set(e, "aws.cloudtrail.event_type", rec["eventType"])
	set(e, "aws.cloudtrail.event_category", rec["eventCategory"])
	set(e, "aws.cloudtrail.request_id", rec["requestID"])
	set(e, "aws.cloudtrail.shared_event_id", rec["sharedEventID"])
	set(e, "aws.cloudtrail.recipient_account_id", rec["recipientAccountId"])
	set(e, "aws.cloudtrail.vpc_endpoint_id", rec["vpcEndpointId"])
	set(e, "aws.cloudtrail.api_version", rec["apiVersion"])
	setBool(e, "aws.cloudtrail.read_only", rec["readOnly"])
	setBool(e, "aws.cloudtrail.management_event", rec["managementEvent"])
	setJSON(e, "aws.cloudtrail.request_parameters", rec["requestParameters"])
	setJSON(e, "aws.cloudtrail.response_elements", rec["responseElements"])
	setJSON(e, "aws.cloudtrail.additional_eventdata", rec["additionalEventData"])
	setJSON(e, "aws.cloudtrail.service_event_details", rec["serviceEventDetails"])
	setJSON(e, "aws.cloudtrail.resources", rec["resources"])
	if tls, ok := rec["tlsDetails"].(map[string]any); ok {
		set(e, "aws.cloudtrail.tls_details.tls_version", tls["tlsVersion"])
		set(e, "aws.cloudtrail.tls_details.cipher_suite", tls["cipherSuite"])
		set(e, "aws.cloudtrail.tls_details.client_provided_host_header", tls["clientProvidedHostHeader"])
	}
	if name == "ConsoleLogin" {
		if add, ok := rec["additionalEventData"].(map[string]any); ok {
			yes := func(key string, v any) {
				switch str(v) {
				case "Yes":
					e[key] = true
				case "No":
					e[key] = false
				}
			}
			yes("aws.cloudtrail.console_login.additional_eventdata.mfa_used", add["MFAUsed"])
			yes("aws.cloudtrail.console_login.additional_eventdata.mobile_version", add["MobileVersion"])
			set(e, "aws.cloudtrail.console_login.additional_eventdata.login_to", add["LoginTo"])
		}
	}
}

// identity maps userIdentity: user.name is the IAM user name, else the
// last element of the ARN (an assumed role's session name, "root"), and
// user.id the principal id.
func identity(e event.Event, v any) {
	id, ok := v.(map[string]any)
	if !ok {
		return
	}
	arn := str(id["arn"])
	name := str(id["userName"])
	if name == "" && arn != "" {
		name = arn[strings.LastIndexAny(arn, "/:")+1:]
	}
	if name == "" {
		name = str(id["invokedBy"]) // an AWS service acting on its own
	}
	set(e, "user.name", name)
	set(e, "user.id", id["principalId"])
	if name != "" {
		e["related.user"] = []any{name}
	}
	set(e, "aws.cloudtrail.user_identity.type", id["type"])
	set(e, "aws.cloudtrail.user_identity.arn", arn)
	set(e, "aws.cloudtrail.user_identity.access_key_id", id["accessKeyId"])
	set(e, "aws.cloudtrail.user_identity.account_id", id["accountId"])
	set(e, "aws.cloudtrail.user_identity.invoked_by", id["invokedBy"])
	ctx, _ := id["sessionContext"].(map[string]any)
	attrs, _ := ctx["attributes"].(map[string]any)
	setBool(e, "aws.cloudtrail.user_identity.session_context.mfa_authenticated", attrs["mfaAuthenticated"])
	set(e, "aws.cloudtrail.user_identity.session_context.creation_date", attrs["creationDate"])
	issuer, _ := ctx["sessionIssuer"].(map[string]any)
	set(e, "aws.cloudtrail.user_identity.session_context.session_issuer.type", issuer["type"])
	set(e, "aws.cloudtrail.user_identity.session_context.session_issuer.arn", issuer["arn"])
	set(e, "aws.cloudtrail.user_identity.session_context.session_issuer.principal_id", issuer["principalId"])
	set(e, "aws.cloudtrail.user_identity.session_context.session_issuer.account_id", issuer["accountId"])
	set(e, "aws.cloudtrail.user_identity.session_context.session_issuer.user_name", issuer["userName"])
}

// verbs maps the leading verb of an API call to an event.type.
var verbs = []struct{ prefix, typ string }{
	{"Create", "creation"}, {"Put", "change"}, {"Add", "change"}, {"Attach", "change"}, {"Update", "change"},
	{"Modify", "change"}, {"Set", "change"}, {"Authorize", "change"}, {"Revoke", "change"}, {"Enable", "change"},
	{"Disable", "change"}, {"Stop", "change"}, {"Start", "change"}, {"Reset", "change"}, {"Upload", "change"},
	{"Change", "change"}, {"Tag", "change"}, {"Untag", "change"}, {"Register", "creation"}, {"Import", "creation"},
	{"Run", "creation"}, {"Delete", "deletion"}, {"Remove", "deletion"}, {"Detach", "deletion"},
	{"Deregister", "deletion"}, {"Terminate", "deletion"}, {"Leave", "deletion"},
	{"Get", "access"}, {"List", "access"}, {"Describe", "access"}, {"Lookup", "access"}, {"BatchGet", "access"},
}

// classify picks event.category and event.type from the service and the
// API call's verb. Sign-in and token calls are authentication; IAM calls
// are iam; calls that change a service's configuration are configuration.
func classify(source, name string) (category string, types []any) {
	switch {
	case name == "ConsoleLogin" || name == "GetSessionToken" || name == "GetFederationToken" ||
		strings.HasPrefix(name, "AssumeRole") || name == "CheckMfa" || name == "ExitRole" || name == "SwitchRole":
		return "authentication", []any{"start"}
	case name == "ConsoleLogout":
		return "authentication", []any{"end"}
	}
	typ := ""
	for _, v := range verbs {
		if strings.HasPrefix(name, v.prefix) {
			typ = v.typ
			break
		}
	}
	if typ == "" {
		return "", nil
	}
	if source == "iam.amazonaws.com" {
		switch {
		case typ == "access":
			return "iam", []any{"info"}
		case strings.Contains(name, "User"):
			return "iam", []any{"user", typ}
		case strings.Contains(name, "Group"):
			return "iam", []any{"group", typ}
		}
		return "iam", []any{typ}
	}
	return "configuration", []any{typ}
}

// parseIP parses an IP address, and also dotted-quad IPv4 written with
// leading zeros ("035.249.253.232", as Stratus Red Team's pseudonymised
// logs have them), read as decimal.
func parseIP(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return netip.Addr{}, false
	}
	var b [4]byte
	for i, part := range parts {
		if part == "" || len(part) > 3 {
			return netip.Addr{}, false
		}
		n, err := strconv.ParseUint(part, 10, 8)
		if err != nil {
			return netip.Addr{}, false
		}
		b[i] = byte(n)
	}
	return netip.AddrFrom4(b), true
}

// Fork implements parsers.Forker: lines are parsed independently, so a
// copy parses the lines that follow as p would.
func (p *Parser) Fork() parsers.Line {
	cp := *p
	return &cp
}

// Skip implements parsers.Forker: a line changes nothing in p.
func (p *Parser) Skip([]byte) {}
