package event

import (
	"bytes"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// The decoder keeps the bytes of an event's strings (values, and paths
// not in the known table) in one strings.Builder, d.text, and takes its
// strings as substrings of the Builder's content: one allocation per
// event instead of one per string, and not zeroed first. A Builder only
// ever appends, so a string taken from it never changes. The buffer is
// sized, when a string first needs it, at three quarters of the rest of
// the document: the rest bounds what is left to keep (an escape never
// decodes longer than it is written), and keys, known values and
// punctuation take at least a quarter of a typical event. When that falls
// short, a new Builder is started and the old buffer lives on in its
// strings.

// reserve makes room for n more bytes in d.text.
func (d *decoder) reserve(n int) {
	if d.text.Cap()-d.text.Len() >= n {
		return
	}
	d.text = strings.Builder{}
	d.text.Grow(max(n, (len(d.data)-d.pos)*3/4, 64))
}

// keep returns b as a string whose bytes live in d.text.
func (d *decoder) keep(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	d.reserve(len(b))
	mark := d.text.Len()
	d.text.Write(b)
	return d.text.String()[mark:]
}

// unescapeText returns the decoded content of a JSON string holding
// escapes, its bytes in d.text. It declines (false) what it leaves to
// encoding/json: invalid UTF-8, \u escapes of surrogates, anything
// malformed.
func (d *decoder) unescapeText(raw []byte) (string, bool) {
	if !validEscapes(raw) {
		return "", false
	}
	d.reserve(len(raw))
	mark := d.text.Len()
	for {
		i := bytes.IndexByte(raw, '\\')
		if i < 0 {
			d.text.Write(raw)
			return d.text.String()[mark:], true
		}
		d.text.Write(raw[:i])
		c := raw[i+1]
		raw = raw[i+2:]
		switch c {
		case 'b':
			c = '\b'
		case 'f':
			c = '\f'
		case 'n':
			c = '\n'
		case 'r':
			c = '\r'
		case 't':
			c = '\t'
		case 'u':
			r, _ := hex4(raw)
			d.text.WriteRune(r)
			raw = raw[4:]
			continue
		}
		d.text.WriteByte(c) // '"', '\\', '/' stand for themselves
	}
}

// validEscapes says whether raw, the content of a JSON string, is valid
// UTF-8 with escapes unescapeText decodes.
func validEscapes(raw []byte) bool {
	if !utf8.Valid(raw) {
		return false
	}
	for {
		i := bytes.IndexByte(raw, '\\')
		if i < 0 {
			return true
		}
		if i+1 >= len(raw) {
			return false
		}
		c := raw[i+1]
		raw = raw[i+2:]
		switch c {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		case 'u':
			r, ok := hex4(raw)
			if !ok || utf16.IsSurrogate(r) {
				return false
			}
			raw = raw[4:]
		default:
			return false
		}
	}
}

// hex4 reads the four hex digits of a \u escape.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, h := range b[:4] {
		switch {
		case '0' <= h && h <= '9':
			r = r<<4 | rune(h-'0')
		case 'a' <= h && h <= 'f':
			r = r<<4 | rune(h-'a'+10)
		case 'A' <= h && h <= 'F':
			r = r<<4 | rune(h-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
