package auditd

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
)

// Values of event.dataset and event.module, as Elastic's auditd module
// names them.
const (
	Dataset = "auditd.log"
	Module  = "auditd"
)

// Fields this package sets outside ECS, under auditd.log.* as Elastic's
// auditd module does. Every key=value pair of a record is kept under
// auditd.log.<key> as well.
const (
	FieldRecordType  = "auditd.log.record_type"
	FieldSequence    = "auditd.log.sequence"
	FieldRecordTypes = "auditd.log.record_types" // a joined event's record types, in order
)

// Config is empty: audit records carry their own time zone (UTC epoch).
type Config struct{}

// Parser turns audit records into ECS events.
type Parser struct{}

// New returns a parser.
func New(Config) *Parser { return &Parser{} }

// Parse turns one record line into one event; it never fails.
func (p *Parser) Parse(src parsers.Source, line []byte) event.Event {
	s := strings.TrimRight(string(line), "\r\n")
	e := parsers.Start(src, line, s)
	r, reason := parseRecord(s)
	if reason != "" {
		return parsers.Flag(e, "not an audit record: "+reason)
	}
	fill(e, []record{r})
	return e
}

// unset is the value of an id that was never set (auid of a daemon).
const unset = "4294967295"

// fill sets the fields of one audit event made of records (one record for
// Parse, every record of the event for ParseDocument).
func fill(e event.Event, recs []record) {
	first := recs[0]
	e.SetTime(first.time)
	e["event.kind"] = "event"
	e["event.dataset"] = Dataset
	e["event.module"] = Module
	e[FieldRecordType] = first.typ
	e[FieldSequence] = first.serial
	e["event.sequence"] = first.serial
	if first.node != "" {
		e["host.name"] = first.node
	}
	for _, p := range first.kv {
		key := "auditd.log." + p.key
		if _, taken := e[key]; !taken {
			e[key] = p.value
		}
	}
	if len(recs) > 1 {
		types := make([]any, len(recs))
		for i, r := range recs {
			types[i] = r.typ
		}
		e[FieldRecordTypes] = types
	}
	action := strings.ToLower(first.typ)
	var execve *record
	for i := range recs {
		r := &recs[i]
		switch r.typ {
		case "SYSCALL":
			syscall(e, r)
		case "EXECVE":
			execve = r
			args(e, r)
		case "CWD":
			e.SetString("process.working_directory", r.get("cwd"))
		case "PATH":
			if _, ok := e["file.path"]; !ok && r.get("name") != "(null)" {
				e.SetString("file.path", r.get("name"))
			}
		case "PROCTITLE":
			if t := strings.TrimSpace(strings.ReplaceAll(r.get("proctitle"), "\x00", " ")); t != "" {
				e["process.title"] = t
			}
		default:
			userRecord(e, r)
		}
	}
	switch {
	case execve != nil:
		action = "executed"
		e["event.category"] = []any{"process"}
		e["event.type"] = []any{"start"}
	case first.typ == "USER_LOGIN":
		e["event.category"] = []any{"authentication"}
		e["event.type"] = []any{"start"}
	case first.typ == "USER_AUTH" || first.typ == "USER_ERR":
		e["event.category"] = []any{"authentication"}
		e["event.type"] = []any{"info"}
	case first.typ == "ADD_USER":
		e["event.category"] = []any{"iam"}
		e["event.type"] = []any{"user", "creation"}
	case first.typ == "DEL_USER":
		e["event.category"] = []any{"iam"}
		e["event.type"] = []any{"user", "deletion"}
	case first.typ == "ADD_GROUP":
		e["event.category"] = []any{"iam"}
		e["event.type"] = []any{"group", "creation"}
	}
	e["event.action"] = action
	related(e)
}

// syscall maps the SYSCALL record's process and credentials.
func syscall(e event.Event, r *record) {
	setInt(e, "process.pid", r.get("pid"))
	setInt(e, "process.parent.pid", r.get("ppid"))
	e.SetString("process.name", r.get("comm"))
	e.SetString("process.executable", r.get("exe"))
	setID(e, "user.id", r.get("uid"))
	setID(e, "user.effective.id", r.get("euid"))
	setID(e, "user.group.id", r.get("gid"))
	switch r.get("success") {
	case "yes":
		e["event.outcome"] = "success"
	case "no":
		e["event.outcome"] = "failure"
	}
	// The enriched format adds the names: UID="wardog".
	e.SetString("user.name", r.get("UID"))
}

// args maps an EXECVE record: a0, a1, ... (a long argument is split into
// aN[0], aN[1], ... pieces, joined here).
func args(e event.Event, r *record) {
	argc, err := strconv.Atoi(r.get("argc"))
	if err != nil || argc < 0 || argc > len(r.kv) {
		argc = len(r.kv)
	}
	// One pass over the pairs files each aN and aN[i] under N: looking
	// each argument up in turn would be quadratic in a record of many.
	// The first aN wins over the pieces; without it, the aN[...] pieces
	// are joined in order.
	type arg struct {
		whole, ok bool
		pieces    []string
	}
	found := make([]arg, argc)
	for _, p := range r.kv {
		n, piece, isArg := argKey(p.key)
		if !isArg || n >= argc || found[n].whole {
			continue
		}
		if piece {
			found[n].pieces = append(found[n].pieces, p.value)
		} else {
			found[n].pieces = append(found[n].pieces[:0], p.value)
			found[n].whole = true
		}
		found[n].ok = true
	}
	list := make([]any, 0, argc)
	parts := make([]string, 0, argc)
	for i := 0; i < argc; i++ {
		if !found[i].ok {
			break
		}
		v := strings.Join(found[i].pieces, "")
		list = append(list, v)
		if strings.ContainsAny(v, " \t\"") || v == "" {
			v = strconv.Quote(v)
		}
		parts = append(parts, v)
	}
	if len(list) == 0 {
		return
	}
	e["process.args"] = list
	e["process.args_count"] = int64(len(list))
	e["process.command_line"] = strings.Join(parts, " ")
}

// argKey reads an EXECVE key: "aN" (whole) or "aN[..." (a piece of a
// long argument), N in decimal without leading zeros, as "a" +
// strconv.Itoa(N) spells it.
func argKey(key string) (n int, piece, ok bool) {
	if len(key) < 2 || key[0] != 'a' {
		return 0, false, false
	}
	digits, rest, piece := strings.Cut(key[1:], "[")
	if !isDigits(digits, false) || len(digits) > 1 && digits[0] == '0' || len(digits) > 9 {
		return 0, false, false
	}
	if !piece && rest != "" {
		return 0, false, false
	}
	n, _ = strconv.Atoi(digits)
	return n, piece, true
}

// userRecord maps the user-space records (USER_LOGIN, USER_AUTH,
// USER_CMD, ADD_USER, ...), whose msg='...' holds acct, addr, exe, res.
func userRecord(e event.Event, r *record) {
	setInt(e, "process.pid", r.get("pid"))
	setID(e, "user.id", r.get("uid"))
	if acct := r.get("acct"); acct != "" && acct != "?" && acct != "(unknown)" {
		e["user.name"] = acct
	} else if id := r.get("id"); id != "" && r.typ != "ADD_GROUP" && r.typ != "DEL_GROUP" {
		setID(e, "user.id", id)
	}
	if exe := r.get("exe"); exe != "" {
		e.SetString("process.executable", exe)
	}
	if a, err := netip.ParseAddr(r.get("addr")); err == nil {
		e["source.ip"] = a.WithZone("").String()
	} else if h := r.get("hostname"); h != "" && h != "?" {
		if a, err := netip.ParseAddr(h); err == nil {
			e["source.ip"] = a.WithZone("").String()
		} else {
			e["source.domain"] = h
		}
	}
	switch r.get("res") {
	case "success", "yes":
		e["event.outcome"] = "success"
	case "failed", "no":
		e["event.outcome"] = "failure"
	}
}

func related(e event.Event) {
	var users []any
	for _, k := range []string{"user.name", "auditd.log.AUID", "auditd.log.UID"} {
		if v := e.String(k); v != "" && v != "unset" && !contains(users, v) {
			users = append(users, v)
		}
	}
	if len(users) > 0 {
		e["related.user"] = users
	}
	if ip := e.String("source.ip"); ip != "" {
		e["related.ip"] = []any{ip}
	}
}

func contains(list []any, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func setInt(e event.Event, key, s string) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		e[key] = n
	}
}

// setID stores a numeric id as ECS keeps ids: a string; the unset id is
// left out.
func setID(e event.Event, key, s string) {
	if s != "" && s != unset && isDigits(s, false) {
		e[key] = s
	}
}

// Fork implements parsers.Forker: lines are parsed independently, so a
// copy parses the lines that follow as p would.
func (p *Parser) Fork() parsers.Line {
	cp := *p
	return &cp
}

// Skip implements parsers.Forker: a line changes nothing in p.
func (p *Parser) Skip([]byte) {}
