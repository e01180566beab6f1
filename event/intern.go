package event

import (
	"encoding/binary"
	"strings"
)

// knownPaths lists the ECS paths the collectors and enrichers write, and
// values they write often; the decoder returns these strings instead of
// allocating a new one for every field of every event.
const knownPaths = `
@timestamp message tags labels
vigil.event_id vigil.collector vigil.received_at vigil.repeat_count vigil.parse_error vigil.parse_warning vigil.truncated
vigil.source.ip_class vigil.destination.ip_class vigil.user.privileged
vigil.host.asset.criticality vigil.host.asset.environment vigil.host.asset.owner vigil.host.asset.tags
vigil.source.asset.criticality vigil.source.asset.owner vigil.destination.asset.owner
event.action event.category event.code event.dataset event.duration event.end event.id event.kind event.module
event.original event.outcome event.provider event.reason event.sequence event.severity event.start event.type
event.created event.ingested event.risk_score
agent.name agent.type agent.version ecs.version input.type log.file.path log.offset log.level log.logger
log.syslog.appname log.syslog.facility.code log.syslog.facility.name log.syslog.hostname log.syslog.msgid
log.syslog.priority log.syslog.procid log.syslog.severity.code log.syslog.severity.name log.syslog.structured_data log.syslog.version
host.hostname host.ip host.name host.os.type
source.address source.as.number source.as.organization.name source.bytes source.domain source.geo.city_name
source.geo.country_iso_code source.geo.location source.geo.region_iso_code source.ip source.mac source.port
destination.address destination.domain destination.geo.city_name destination.geo.country_iso_code destination.geo.timezone
destination.ip destination.packets destination.port destination.bytes
related.ip related.user related.hosts related.hash
user.domain user.effective.group.name user.effective.id user.effective.name user.email user.full_name user.group.id
user.group.name user.id user.name user.roles user.target.name user_agent.original
group.id group.name service.name
process.args process.args_count process.command_line process.entity_id process.executable process.hash.md5 process.name
process.parent.command_line process.parent.name process.parent.pid process.parent.executable process.pe.original_file_name process.pid
process.thread.id process.title process.working_directory
file.directory file.extension file.hash.md5 file.hash.sha1 file.hash.sha256 file.name file.path
dll.code_signature.exists dll.path dns.id dns.question.name dns.type
http.request.method http.request.referrer http.response.body.bytes http.response.status_code http.version
url.domain url.full url.original url.path url.query
network.bytes network.direction network.packets network.protocol network.transport observer.ingress.interface.name
cloud.account.id cloud.provider cloud.region
orchestrator.api_version orchestrator.namespace orchestrator.resource.name orchestrator.resource.type orchestrator.type
registry.data.strings registry.hive registry.key registry.path registry.value
rule.category rule.id rule.name rule.version threat.enrichments
tls.client.server_name tls.server.hash.sha1 tls.server.issuer tls.server.ja3s tls.server.not_after tls.server.subject tls.version tls.version_protocol
winlog.channel winlog.computer_name winlog.event_id winlog.process.pid winlog.record_id winlog.user.identifier
auditd.log.a0 auditd.log.auid auditd.log.key auditd.log.proctitle auditd.log.record_type auditd.log.sequence
aws.cloudtrail.error_code aws.cloudtrail.read_only aws.cloudtrail.request_parameters aws.cloudtrail.user_identity.type
suricata.eve.flow.state suricata.eve.flow_id suricata.eve.payload_printable
zeek.conn.history zeek.conn.local_orig zeek.conn.service zeek.session_id
`

// knownValues are values that recur on most events.
const knownValues = `
event alert pipeline_error signal metric state
success failure unknown
authentication session process network file iam web intrusion_detection configuration host package driver registry
start end info denied allowed access connection creation deletion change user group admin error protocol
system system.auth system.syslog syslog sshd sudo su cron CRON systemd systemd-logind kernel
ssh_login ssh_disconnect ssh_invalid_user ssh_preauth_disconnect ssh_max_auth_tries ssh_reverse_mapping_failed
file stdin syslog http journald
root admin tcp udp icmp ingress egress inbound outbound internal external private public loopback
apache.access nginx.access apache.error windows.security windows.sysmon_operational windows.system aws.cloudtrail
kubernetes.audit suricata.eve zeek.conn zeek.dns zeek.http zeek.ssl zeek.rdp zeek.ntlm zeek.smb_mapping zeek.dce_rpc
auditd.log auditd windows apache nginx aws kubernetes suricata zeek
`

// internTable maps each of its strings to itself; read-only after
// newInternTable.
type internTable map[string]string

func newInternTable(lists ...string) internTable {
	t := internTable{}
	for _, l := range lists {
		for _, s := range strings.Fields(l) {
			t[s] = s
			// Every segment of a path is a key of some object, and every
			// prefix a parent path.
			for i := 0; i < len(s); i++ {
				if s[i] == '.' {
					t[s[:i]] = s[:i]
				}
			}
			for _, seg := range strings.Split(s, ".") {
				t[seg] = seg
			}
		}
	}
	return t
}

// interned is the table of known paths, segments and values.
var interned = newInternTable(knownPaths, knownValues)

// knownTable finds the strings of an internTable by their bytes without
// hashing them through a map: an open-addressed table of indexes into
// entries, probed linearly from a hash of the length and the first and
// last eight bytes. A slot also holds 16 bits of the hash, so that a
// string that is not known is mostly turned away without reading an
// entry. Read-only after newKnownTable.
type knownTable struct {
	slots   []uint32 // hash bits << 16 | index+1 into entries; 0 is an empty slot
	entries []knownEntry
	shift   uint // 64 minus log2(len(slots))
	// lens and firsts have a bit per length and per first byte of the
	// known strings: most strings that are not known (addresses, times,
	// ids) are turned away by them before hashing.
	lens   uint64
	firsts [4]uint64
}

// knownEntry is one known string, also boxed as a value.
type knownEntry struct {
	s string
	v any
}

func newKnownTable(t internTable) *knownTable {
	size, bits := 64, uint(6)
	for size < 4*len(t) {
		size, bits = size*2, bits+1
	}
	k := &knownTable{slots: make([]uint32, size), shift: 64 - bits}
	for s := range t {
		if s == "" || len(k.entries) >= 1<<16-1 {
			continue
		}
		if len(s) > maxKnownLen {
			continue
		}
		k.entries = append(k.entries, knownEntry{s: s, v: s})
		k.lens |= 1 << len(s)
		k.firsts[s[0]>>6] |= 1 << (s[0] & 63)
		h := knownHash([]byte(s))
		i := h >> k.shift
		for k.slots[i] != 0 {
			i = (i + 1) & uint64(size-1)
		}
		k.slots[i] = uint32(uint16(h))<<16 | uint32(len(k.entries))
	}
	return k
}

// knownHash mixes the length and the first and last (up to) eight bytes.
func knownHash(b []byte) uint64 {
	n := len(b)
	var a, z uint64
	switch {
	case n >= 8:
		a = binary.LittleEndian.Uint64(b)
		z = binary.LittleEndian.Uint64(b[n-8:])
	case n >= 4:
		a = uint64(binary.LittleEndian.Uint32(b))
		z = uint64(binary.LittleEndian.Uint32(b[n-4:]))
	case n > 0:
		a = uint64(b[0]) | uint64(b[n/2])<<8 | uint64(b[n-1])<<16
	}
	h := (a^uint64(n))*0x9E3779B97F4A7C15 ^ z*0xC2B2AE3D27D4EB4F
	return h ^ h>>31
}

// find returns the entry of b, or nil when b is not known.
func (k *knownTable) find(b []byte) *knownEntry {
	if len(b) == 0 || len(b) > maxKnownLen || k.lens&(1<<len(b)) == 0 || k.firsts[b[0]>>6]&(1<<(b[0]&63)) == 0 {
		return nil
	}
	mask := uint64(len(k.slots) - 1)
	h := knownHash(b)
	tag := uint32(uint16(h)) << 16
	for i := h >> k.shift; ; i = (i + 1) & mask {
		j := k.slots[i]
		if j == 0 {
			return nil
		}
		if j&^0xffff != tag {
			continue
		}
		if e := &k.entries[j&0xffff-1]; len(e.s) == len(b) && e.s == string(b) {
			return e
		}
	}
}

// maxKnownLen bounds the known strings: longer input is never looked up.
const maxKnownLen = 48

// known is the table of known paths, segments and values.
var known = newKnownTable(interned)
