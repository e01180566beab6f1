package indexer

import (
	"encoding/binary"
	"math/bits"
)

// validJSON reports whether b is one valid JSON value, surrounded by
// optional whitespace; it accepts exactly what encoding/json.Valid
// accepts (invalid UTF-8 inside strings included), several times faster:
// strings, most of a document, are skipped eight bytes at a time. The
// fuzz target FuzzValidJSON holds it to json.Valid.
func validJSON(b []byte) bool {
	var stack []byte // open containers: '{' or '['
	var small [32]byte
	stack = small[:0]
	i := skipSpace(b, 0)
	for {
		// A value is expected at i.
		if i >= len(b) {
			return false
		}
		switch c := b[i]; {
		case c == '{':
			i = skipSpace(b, i+1)
			if i < len(b) && b[i] == '}' {
				i++
				break
			}
			stack = append(stack, '{')
			var ok bool
			if i, ok = key(b, i); !ok {
				return false
			}
			continue
		case c == '[':
			i = skipSpace(b, i+1)
			if i < len(b) && b[i] == ']' {
				i++
				break
			}
			stack = append(stack, '[')
			continue
		case c == '"':
			var ok bool
			if i, ok = str(b, i); !ok {
				return false
			}
		case c == '-' || (c >= '0' && c <= '9'):
			var ok bool
			if i, ok = number(b, i); !ok {
				return false
			}
		case c == 't':
			if !hasPrefix(b[i:], "true") {
				return false
			}
			i += 4
		case c == 'f':
			if !hasPrefix(b[i:], "false") {
				return false
			}
			i += 5
		case c == 'n':
			if !hasPrefix(b[i:], "null") {
				return false
			}
			i += 4
		default:
			return false
		}
		// A value ended at i: close containers or move to the next element.
		for {
			i = skipSpace(b, i)
			if len(stack) == 0 {
				return i == len(b)
			}
			if i >= len(b) {
				return false
			}
			top := stack[len(stack)-1]
			switch {
			case b[i] == ',' && top == '{':
				var ok bool
				if i, ok = key(b, skipSpace(b, i+1)); !ok {
					return false
				}
			case b[i] == ',' && top == '[':
				i = skipSpace(b, i+1)
			case (b[i] == '}' && top == '{') || (b[i] == ']' && top == '['):
				stack = stack[:len(stack)-1]
				i++
				continue
			default:
				return false
			}
			break
		}
	}
}

// key reads `"name" :` at i and returns the position of the value.
func key(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return i, false
	}
	i, ok := str(b, i)
	if !ok {
		return i, false
	}
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != ':' {
		return i, false
	}
	return skipSpace(b, i+1), true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

func hasPrefix(b []byte, s string) bool {
	return len(b) >= len(s) && string(b[:len(s)]) == s
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// specialMask marks, in the little-endian word x, the bytes that are a
// quote, a backslash or a control character (< 0x20), by their high bit.
// The lowest mark is exact (higher ones can be false, after a true one),
// so its position is the first such byte.
func specialMask(x uint64) uint64 {
	less := (x - ones*0x20) & ^x & highs
	q := x ^ (ones * '"')
	quote := (q - ones) & ^q & highs
	bs := x ^ (ones * '\\')
	back := (bs - ones) & ^bs & highs
	return less | quote | back
}

// str reads the string starting with the quote at i and returns the
// position after its closing quote.
func str(b []byte, i int) (int, bool) {
	i++
	for {
		// Skip to the first quote, backslash or control character.
		for {
			if i+8 > len(b) {
				for i < len(b) && b[i] >= 0x20 && b[i] != '"' && b[i] != '\\' {
					i++
				}
				break
			}
			if m := specialMask(binary.LittleEndian.Uint64(b[i:])); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		if i >= len(b) {
			return i, false
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return i, false
		case c == '\\':
			if i+1 >= len(b) {
				return i, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return i, false
				}
				for _, h := range b[i+2 : i+6] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return i, false
					}
				}
				i += 6
			default:
				return i, false
			}
		default:
			i++
		}
	}
}

// number reads -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? at i.
func number(b []byte, i int) (int, bool) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return i, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return i, false
		}
		i = j
	}
	return i, true
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}
