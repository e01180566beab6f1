package windows

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/vigil-siem/vigil/event"
)

// fill writes the ECS and winlog.* fields of a parsed record.
func fill(e event.Event, r *record) {
	e["event.kind"] = "event"
	e["event.module"] = Module
	if r.channel != "" {
		e["event.dataset"] = Dataset(r.channel)
	} else {
		e["event.dataset"] = "windows.unknown"
	}
	e["event.code"] = r.id
	set(e, "event.provider", r.provider)
	set(e, "host.name", r.computer)
	set(e, "message", r.message)

	set(e, "winlog.channel", r.channel)
	e["winlog.event_id"] = r.id
	set(e, "winlog.computer_name", r.computer)
	set(e, "winlog.provider_name", r.provider)
	set(e, "winlog.provider_guid", r.providerGUID)
	set(e, "winlog.record_id", r.recordID)
	set(e, "winlog.task", r.task)
	set(e, "winlog.opcode", r.opcode)
	set(e, "winlog.level", r.level)
	set(e, "winlog.keywords", r.keywords)
	set(e, "winlog.version", r.version)
	setInt(e, "winlog.process.pid", r.pid)
	setInt(e, "winlog.process.thread.id", r.tid)
	set(e, "winlog.user.identifier", r.userSID)
	for k, v := range r.data {
		e["winlog.event_data."+k] = v
	}

	ch := strings.ToLower(r.channel)
	switch {
	case strings.Contains(ch, "sysmon") || strings.Contains(r.provider, "Sysmon"):
		sysmon(e, r)
	case ch == "security":
		security(e, r)
	case ch == "system":
		system(e, r)
	}
	related(e)
}

// classify sets the categorization fields; empty values are left out.
func classify(e event.Event, category, typ, action string) {
	if category != "" {
		e["event.category"] = []any{category}
	}
	if typ != "" {
		types := strings.Split(typ, ",")
		list := make([]any, len(types))
		for i, t := range types {
			list[i] = t
		}
		e["event.type"] = list
	}
	set(e, "event.action", action)
}

// set stores s unless it is empty or Windows' "-" for nothing.
func set(e event.Event, key, s string) {
	if s != "" && s != "-" {
		e[key] = s
	}
}

// setInt stores a decimal or 0x-hex number (Security events write pids in hex).
func setInt(e event.Event, key, s string) {
	if n, ok := parseInt(s); ok {
		e[key] = n
	}
}

func parseInt(s string) (int64, bool) {
	if h, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		n, err := strconv.ParseUint(h, 16, 63)
		return int64(n), err == nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && s != ""
}

// baseName returns the file name of a Windows (or slash) path.
func baseName(p string) string {
	if i := strings.LastIndexAny(p, `\/`); i >= 0 {
		return p[i+1:]
	}
	return p
}

// setProcess fills prefix.executable/name/pid/entity_id/command_line.
func setProcess(e event.Event, prefix, image, pid, guid, cmdline string) {
	if image != "" && image != "-" {
		e[prefix+".executable"] = image
		set(e, prefix+".name", baseName(image))
	}
	setInt(e, prefix+".pid", pid)
	set(e, prefix+".entity_id", guid)
	set(e, prefix+".command_line", cmdline)
}

// setUser splits "DOMAIN\name" into user.domain and user.name.
func setUser(e event.Event, prefix, account string) {
	if account == "" || account == "-" {
		return
	}
	if dom, name, ok := strings.Cut(account, `\`); ok {
		set(e, prefix+".domain", dom)
		set(e, prefix+".name", name)
		return
	}
	e[prefix+".name"] = account
}

// setHashes reads Sysmon's "SHA1=..,MD5=..,IMPHASH=.." into prefix.hash.*
// (lower case, as Elastic writes them) and pe.imphash.
func setHashes(e event.Event, prefix, hashes string) {
	for _, part := range strings.Split(hashes, ",") {
		alg, val, ok := strings.Cut(part, "=")
		if !ok || val == "" {
			continue
		}
		val = strings.ToLower(val)
		switch strings.ToUpper(alg) {
		case "MD5":
			e[prefix+".hash.md5"] = val
		case "SHA1":
			e[prefix+".hash.sha1"] = val
		case "SHA256":
			e[prefix+".hash.sha256"] = val
		case "IMPHASH":
			if prefix != "file" {
				e[prefix+".pe.imphash"] = val
			}
			continue
		default:
			continue
		}
		addRelated(e, "related.hash", val)
	}
}

// setPE copies the version resource Sysmon reports for an image.
func setPE(e event.Event, prefix string, d map[string]string) {
	set(e, prefix+".pe.original_file_name", d["OriginalFileName"])
	set(e, prefix+".pe.description", d["Description"])
	set(e, prefix+".pe.product", d["Product"])
	set(e, prefix+".pe.company", d["Company"])
	set(e, prefix+".pe.file_version", d["FileVersion"])
}

// setAddr stores an address and port as prefix.ip/port when the address
// is an IP (IPv4-mapped IPv6 as IPv4, as Windows writes ::ffff:a.b.c.d).
func setAddr(e event.Event, prefix, addr, port string) {
	a, err := netip.ParseAddr(strings.TrimSpace(addr))
	if err != nil {
		return
	}
	e[prefix+".ip"] = a.Unmap().WithZone("").String()
	if n, ok := parseInt(port); ok && n > 0 && n <= 65535 {
		e[prefix+".port"] = n
	}
}

func setFile(e event.Event, path string) {
	if path == "" || path == "-" {
		return
	}
	e["file.path"] = path
	set(e, "file.name", baseName(path))
	if i := strings.LastIndexAny(path, `\/`); i > 0 {
		e["file.directory"] = path[:i]
	}
	if i := strings.LastIndexByte(baseName(path), '.'); i >= 0 && i < len(baseName(path))-1 {
		e["file.extension"] = strings.ToLower(baseName(path)[i+1:])
	}
}

// hives are the registry root spellings Sysmon and Security events use.
var hives = map[string]string{
	"HKLM": "HKLM", "HKU": "HKU", "HKCR": "HKCR", "HKCU": "HKCU", "HKCC": "HKCC",
	`\REGISTRY\MACHINE`: "HKLM", `\REGISTRY\USER`: "HKU",
}

// setRegistry fills registry.path/hive/key, and registry.value when the
// last path element names a value rather than a key.
func setRegistry(e event.Event, path string, isValue bool) {
	if path == "" {
		return
	}
	e["registry.path"] = path
	rest := path
	for prefix, hive := range hives {
		if r, ok := strings.CutPrefix(path, prefix+`\`); ok {
			e["registry.hive"] = hive
			rest = r
			break
		}
	}
	if isValue {
		if i := strings.LastIndexByte(rest, '\\'); i >= 0 {
			e["registry.value"] = rest[i+1:]
			rest = rest[:i]
		}
	}
	set(e, "registry.key", rest)
}

var transports = map[string]string{"6": "tcp", "17": "udp", "1": "icmp", "58": "ipv6-icmp"}

// sysmon maps Microsoft-Windows-Sysmon/Operational events.
func sysmon(e event.Event, r *record) {
	d := r.data
	setUser(e, "user", d["User"])
	setProcess(e, "process", d["Image"], d["ProcessId"], d["ProcessGuid"], "")
	switch r.id {
	case "1":
		classify(e, "process", "start", "process-created")
		set(e, "process.command_line", d["CommandLine"])
		set(e, "process.working_directory", d["CurrentDirectory"])
		setProcess(e, "process.parent", d["ParentImage"], d["ParentProcessId"], d["ParentProcessGuid"], d["ParentCommandLine"])
		setHashes(e, "process", d["Hashes"])
		setPE(e, "process", d)
	case "2":
		classify(e, "file", "change", "file-creation-time-changed")
		setFile(e, d["TargetFilename"])
	case "3":
		classify(e, "network", "connection,start", "network-connection")
		setAddr(e, "source", d["SourceIp"], d["SourcePort"])
		setAddr(e, "destination", d["DestinationIp"], d["DestinationPort"])
		set(e, "source.domain", d["SourceHostname"])
		set(e, "destination.domain", d["DestinationHostname"])
		set(e, "network.transport", strings.ToLower(d["Protocol"]))
		switch d["Initiated"] {
		case "true":
			e["network.direction"] = "egress"
		case "false":
			e["network.direction"] = "ingress"
		}
	case "4":
		classify(e, "", "", "sysmon-service-state-changed")
	case "5":
		classify(e, "process", "end", "process-terminated")
	case "6":
		classify(e, "driver", "start", "driver-loaded")
		setFile(e, d["ImageLoaded"])
		setHashes(e, "file", d["Hashes"])
	case "7":
		classify(e, "library", "start", "image-loaded")
		if p := d["ImageLoaded"]; p != "" {
			e["dll.path"] = p
			set(e, "dll.name", baseName(p))
		}
		setHashes(e, "dll", d["Hashes"])
		setPE(e, "dll", d)
		if s := d["Signed"]; s == "true" || s == "false" {
			e["dll.code_signature.exists"] = s == "true"
		}
		set(e, "dll.code_signature.subject_name", d["Signature"])
		set(e, "dll.code_signature.status", d["SignatureStatus"])
	case "8":
		classify(e, "process", "change", "create-remote-thread")
		setProcess(e, "process", d["SourceImage"], d["SourceProcessId"], d["SourceProcessGuid"], "")
	case "9":
		classify(e, "", "", "raw-access-read")
	case "10":
		classify(e, "process", "access", "process-access")
		setProcess(e, "process", d["SourceImage"], d["SourceProcessId"], d["SourceProcessGUID"], "")
		set(e, "process.entity_id", d["SourceProcessGuid"])
		setInt(e, "process.thread.id", d["SourceThreadId"])
	case "11":
		classify(e, "file", "creation", "file-created")
		setFile(e, d["TargetFilename"])
	case "12":
		typ := "change"
		switch d["EventType"] {
		case "CreateKey":
			typ = "creation"
		case "DeleteKey", "DeleteValue":
			typ = "deletion"
		}
		classify(e, "registry", typ, "registry-key-or-value-created-or-deleted")
		setRegistry(e, d["TargetObject"], d["EventType"] == "DeleteValue")
	case "13":
		classify(e, "registry", "change", "registry-value-set")
		setRegistry(e, d["TargetObject"], true)
		if v := d["Details"]; v != "" {
			e["registry.data.strings"] = []any{v}
		}
	case "14":
		classify(e, "registry", "change", "registry-key-or-value-renamed")
		setRegistry(e, d["TargetObject"], false)
	case "15":
		classify(e, "file", "creation", "file-stream-created")
		setFile(e, d["TargetFilename"])
		setHashes(e, "file", d["Hash"])
	case "16":
		classify(e, "configuration", "change", "sysmon-configuration-changed")
	case "17":
		classify(e, "file", "creation", "pipe-created")
		set(e, "file.name", d["PipeName"])
	case "18":
		classify(e, "file", "access", "pipe-connected")
		set(e, "file.name", d["PipeName"])
	case "19", "20", "21":
		classify(e, "", "", "wmi-event")
	case "22":
		classify(e, "network", "protocol,info", "dns-query")
		set(e, "dns.question.name", d["QueryName"])
		e["network.protocol"] = "dns"
	case "23":
		classify(e, "file", "deletion", "file-deleted")
		setFile(e, d["TargetFilename"])
		setHashes(e, "file", d["Hashes"])
	case "24":
		classify(e, "", "", "clipboard-changed")
	case "25":
		classify(e, "process", "change", "process-tampering")
	case "26":
		classify(e, "file", "deletion", "file-delete-detected")
		setFile(e, d["TargetFilename"])
		setHashes(e, "file", d["Hashes"])
	}
}

// Audit keyword bits of the Security log.
const (
	keywordAuditFailure = 0x10000000000000
	keywordAuditSuccess = 0x20000000000000
)

// auditOutcome reads success or failure from the Keywords of a Security
// event (hex, or a signed decimal as NXLog writes it).
func auditOutcome(keywords string) string {
	var k uint64
	if h, ok := strings.CutPrefix(strings.ToLower(keywords), "0x"); ok {
		k, _ = strconv.ParseUint(h, 16, 64)
	} else if n, err := strconv.ParseInt(keywords, 10, 64); err == nil {
		k = uint64(n)
	}
	switch {
	case k&keywordAuditFailure != 0:
		return "failure"
	case k&keywordAuditSuccess != 0:
		return "success"
	}
	return ""
}

// security maps Security log events.
func security(e event.Event, r *record) {
	d := r.data
	set(e, "user.name", d["SubjectUserName"])
	set(e, "user.domain", d["SubjectDomainName"])
	set(e, "user.id", d["SubjectUserSid"])
	outcome := auditOutcome(r.keywords)
	switch r.id {
	case "4624", "4625", "4648":
		action := map[string]string{"4624": "logged-in", "4625": "logon-failed", "4648": "logged-in-explicit"}[r.id]
		classify(e, "authentication", "start", action)
		if r.id == "4625" {
			outcome = "failure"
		} else if r.id == "4624" {
			outcome = "success"
		}
		if r.id != "4648" {
			targetUser(e, d)
		} else {
			set(e, "user.target.name", d["TargetUserName"])
			set(e, "user.target.domain", d["TargetDomainName"])
		}
		setAddr(e, "source", d["IpAddress"], d["IpPort"])
		set(e, "source.domain", d["WorkstationName"])
		setProcess(e, "process", d["ProcessName"], d["ProcessId"], "", "")
	case "4634", "4647":
		classify(e, "authentication", "end", "logged-out")
		targetUser(e, d)
	case "4672":
		classify(e, "iam", "admin", "logged-in-special")
	case "4688":
		classify(e, "process", "start", "process-created")
		setProcess(e, "process", d["NewProcessName"], d["NewProcessId"], "", d["CommandLine"])
		setProcess(e, "process.parent", d["ParentProcessName"], d["ProcessId"], "", "")
		if u := d["TargetUserName"]; u != "" && u != "-" {
			targetUser(e, d)
		}
	case "4689":
		classify(e, "process", "end", "process-terminated")
		setProcess(e, "process", d["ProcessName"], d["ProcessId"], "", "")
	case "4697":
		classify(e, "configuration", "creation", "service-installed")
		set(e, "service.name", d["ServiceName"])
	case "4698", "4699", "4700", "4701", "4702":
		typ, action := "change", map[string]string{"4698": "scheduled-task-created", "4699": "scheduled-task-deleted",
			"4700": "scheduled-task-enabled", "4701": "scheduled-task-disabled", "4702": "scheduled-task-updated"}[r.id]
		switch r.id {
		case "4698":
			typ = "creation"
		case "4699":
			typ = "deletion"
		}
		classify(e, "configuration", typ, action)
	case "4720", "4722", "4725", "4726", "4738", "4740":
		action := map[string]string{"4720": "added-user-account", "4722": "enabled-user-account", "4725": "disabled-user-account",
			"4726": "deleted-user-account", "4738": "modified-user-account", "4740": "locked-out-user-account"}[r.id]
		typ := map[string]string{"4720": "user,creation", "4726": "user,deletion"}[r.id]
		if typ == "" {
			typ = "user,change"
		}
		classify(e, "iam", typ, action)
		set(e, "user.target.name", d["TargetUserName"])
		set(e, "user.target.domain", d["TargetDomainName"])
		set(e, "user.target.id", d["TargetSid"])
	case "4728", "4732", "4756", "4729", "4733", "4757":
		action := "added-member-to-group"
		if r.id == "4729" || r.id == "4733" || r.id == "4757" {
			action = "removed-member-from-group"
		}
		classify(e, "iam", "group,change", action)
		set(e, "group.name", d["TargetUserName"])
		set(e, "group.domain", d["TargetDomainName"])
		set(e, "group.id", d["TargetSid"])
		set(e, "user.target.id", d["MemberSid"])
		if m := d["MemberName"]; m != "" && m != "-" {
			e["user.target.name"] = m
		}
	case "4768", "4769", "4771", "4776":
		action := map[string]string{"4768": "kerberos-authentication-ticket-requested", "4769": "kerberos-service-ticket-requested",
			"4771": "kerberos-preauth-failed", "4776": "credential-validated"}[r.id]
		classify(e, "authentication", "start", action)
		set(e, "user.name", d["TargetUserName"])
		set(e, "user.domain", d["TargetDomainName"])
		setAddr(e, "source", d["IpAddress"], d["IpPort"])
		set(e, "source.domain", d["Workstation"])
		if st := d["Status"]; st != "" {
			if n, ok := parseInt(st); ok {
				if n == 0 {
					outcome = "success"
				} else {
					outcome = "failure"
				}
			}
		}
		if r.id == "4771" {
			outcome = "failure"
		}
	case "1102":
		classify(e, "iam", "admin,change", "audit-log-cleared")
	case "4656", "4663":
		classify(e, "file", "access", map[string]string{"4656": "requested-handle-to-object", "4663": "object-access-attempted"}[r.id])
		if d["ObjectType"] == "File" {
			setFile(e, d["ObjectName"])
		}
		setProcess(e, "process", d["ProcessName"], d["ProcessId"], "", "")
	case "4657":
		classify(e, "registry", "change", "registry-value-modified")
		setRegistry(e, d["ObjectName"]+`\`+d["ObjectValueName"], true)
		setProcess(e, "process", d["ProcessName"], d["ProcessId"], "", "")
	case "5140", "5145":
		classify(e, "file", "access", map[string]string{"5140": "network-share-object-accessed", "5145": "network-share-object-access-checked"}[r.id])
		setAddr(e, "source", d["IpAddress"], d["IpPort"])
		if name := d["RelativeTargetName"]; name != "" {
			set(e, "file.path", strings.TrimSuffix(d["ShareName"], `\`)+`\`+name)
			set(e, "file.name", baseName(name))
		}
	case "5156", "5157", "5158":
		typ := map[string]string{"5156": "connection,allowed", "5157": "connection,denied", "5158": "allowed"}[r.id]
		action := map[string]string{"5156": "network-connection-allowed", "5157": "network-connection-blocked", "5158": "bind-allowed"}[r.id]
		classify(e, "network", typ, action)
		outbound := d["Direction"] == "%%14593" || d["Direction"] == "Outbound"
		local, remote := "source", "destination"
		if !outbound && r.id != "5158" {
			local, remote = "destination", "source"
		}
		setAddr(e, local, d["SourceAddress"], d["SourcePort"])
		setAddr(e, remote, d["DestAddress"], d["DestPort"])
		set(e, "network.transport", transports[d["Protocol"]])
		setProcess(e, "process", d["Application"], d["ProcessID"], "", "")
		if r.id != "5158" {
			if outbound {
				e["network.direction"] = "egress"
			} else {
				e["network.direction"] = "ingress"
			}
		}
	}
	if outcome != "" {
		e["event.outcome"] = outcome
	}
}

// targetUser makes the Target* account of a logon event the user.
func targetUser(e event.Event, d map[string]string) {
	if u := d["TargetUserName"]; u != "" && u != "-" {
		if s := e.String("user.name"); s != "" && s != u {
			addRelated(e, "related.user", s)
		}
		e["user.name"] = u
		delete(e, "user.domain")
		delete(e, "user.id")
		set(e, "user.domain", d["TargetDomainName"])
		set(e, "user.id", d["TargetUserSid"])
	}
}

// system maps System log events.
func system(e event.Event, r *record) {
	d := r.data
	switch r.id {
	case "7045":
		classify(e, "configuration", "creation", "service-installed")
		set(e, "service.name", d["ServiceName"])
	case "104":
		classify(e, "iam", "admin,change", "log-cleared")
		set(e, "user.name", d["SubjectUserName"])
		set(e, "user.domain", d["SubjectDomainName"])
	}
}

// addRelated appends v to the list at key unless it is there already.
func addRelated(e event.Event, key, v string) {
	if v == "" || v == "-" {
		return
	}
	list, _ := e[key].([]any)
	for _, x := range list {
		if x == v {
			return
		}
	}
	e[key] = append(list, v)
}

// related fills related.user and related.ip from the fields set.
func related(e event.Event) {
	for _, k := range [...]string{"user.name", "user.target.name"} {
		addRelated(e, "related.user", e.String(k))
	}
	for _, k := range [...]string{"source.ip", "destination.ip"} {
		addRelated(e, "related.ip", e.String(k))
	}
}
