package auditd

import (
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// record is one audit record line taken apart.
type record struct {
	node   string // node=host prefix, when auditd runs with name_format
	typ    string // SYSCALL, EXECVE, ...
	stamp  string // "1604994496.155:92733", the event key
	time   time.Time
	serial int64
	kv     []kv
}

type kv struct{ key, value string }

func (r *record) get(key string) string {
	for _, p := range r.kv {
		if p.key == key {
			return p.value
		}
	}
	return ""
}

// parseRecord reads "[node=N ]type=T msg=audit(SEC.MS:SERIAL): k=v ...". It
// returns why the line is not an audit record.
func parseRecord(s string) (r record, reason string) {
	if rest, ok := strings.CutPrefix(s, "node="); ok {
		r.node, s = cutSpace(rest)
	}
	rest, ok := strings.CutPrefix(s, "type=")
	if !ok {
		return r, "missing type="
	}
	r.typ, s = cutSpace(rest)
	if r.typ == "" {
		return r, "empty type="
	}
	rest, ok = strings.CutPrefix(s, "msg=audit(")
	if !ok {
		return r, "missing msg=audit("
	}
	end := strings.Index(rest, "):")
	if end < 0 {
		return r, "missing ): after msg=audit(time:serial"
	}
	r.stamp = rest[:end]
	sec, serial, ok := strings.Cut(r.stamp, ":")
	if !ok {
		return r, "msg=audit(" + r.stamp + ") has no serial"
	}
	n, err := strconv.ParseInt(serial, 10, 64)
	if err != nil || n < 0 {
		return r, "invalid serial in msg=audit(" + r.stamp + ")"
	}
	r.serial = n
	whole, frac, _ := strings.Cut(sec, ".")
	secs, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || secs < 0 || secs >= 253402300800 /* year 10000 */ || len(frac) > 9 || !isDigits(frac, true) {
		return r, "invalid time in msg=audit(" + r.stamp + ")"
	}
	nanos, _ := strconv.ParseInt((frac + "000000000")[:9], 10, 64)
	r.time = time.Unix(secs, nanos).UTC()
	r.kv = pairs(rest[end+2:], r.typ == "EXECVE")
	return r, ""
}

// pairs reads key=value pairs: values are bare, "double-quoted",
// 'single-quoted' (the msg='...' of user-space records, whose own pairs are
// read in turn) or hex-encoded (untrusted strings auditd could not log as
// they are). The enriched format's interpreted values (after \x1d) are
// read as well, under upper-case keys (AUID="alice").
func pairs(s string, execve bool) []kv {
	var out []kv
	for {
		s = strings.TrimLeft(s, " \x1d")
		if s == "" {
			return out
		}
		// One scan to whichever comes first, "=" or a separator: looking
		// for each on its own would read the rest of the line for every
		// pair or word, quadratic in a long line with no "=" (or no space).
		eq := strings.IndexAny(s, "= \x1d")
		if eq < 0 {
			return out
		}
		if s[eq] != '=' {
			// A word without "=": skip it.
			s = s[eq:]
			continue
		}
		key := s[:eq]
		s = s[eq+1:]
		var value string
		switch {
		case strings.HasPrefix(s, `"`):
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				value, s = s[1:], ""
			} else {
				value, s = s[1:end+1], s[end+2:]
			}
		case strings.HasPrefix(s, `'`):
			end := strings.IndexByte(s[1:], '\'')
			var inner string
			if end < 0 {
				inner, s = s[1:], ""
			} else {
				inner, s = s[1:end+1], s[end+2:]
			}
			if key == "msg" {
				out = append(out, pairs(inner, false)...)
				continue
			}
			value = inner
		default:
			end := strings.IndexAny(s, " \x1d")
			if end < 0 {
				end = len(s)
			}
			value, s = s[:end], s[end:]
			if encoded(key, execve) {
				value = decodeHex(value)
			}
		}
		out = append(out, kv{key, value})
	}
}

// encoded reports whether an unquoted value of key is hex-encoded text.
func encoded(key string, execve bool) bool {
	switch key {
	case "proctitle", "name", "cwd", "comm", "exe", "path", "acct", "cmd", "data", "old-path", "new-path":
		return true
	}
	return execve && len(key) > 1 && key[0] == 'a' && isDigits(key[1:], false) ||
		execve && strings.Contains(key, "[") // a1[0]=... of a long argument
}

// decodeHex decodes an even-length hex string; anything else is kept as
// it is ("(null)", "?").
func decodeHex(v string) string {
	if len(v) == 0 || len(v)%2 != 0 {
		return v
	}
	b, err := hex.DecodeString(v)
	if err != nil {
		return v
	}
	return string(b)
}

func isDigits(s string, emptyOK bool) bool {
	if s == "" {
		return emptyOK
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func cutSpace(s string) (word, rest string) {
	if i := strings.IndexByte(s, ' '); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}
