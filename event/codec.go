package event

import "strings"

// Marshal encodes e as nested JSON with sorted keys: "source.ip" becomes
// {"source":{"ip":...}}. A path that is both a value and a parent of other
// paths ("a" and "a.b") keeps the value under its dotted key, which
// Elasticsearch reads the same way. Values are written as encoding/json
// writes them; NaN and infinite floats are an error.
func Marshal(e Event) ([]byte, error) {
	b, err := AppendMarshal(make([]byte, 0, sizeHint(e)), e)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// comparePaths orders dotted paths segment by segment ("a.b" < "a_b" <
// "ab"), as if the dot were the smallest byte, so every path under one
// prefix sorts together.
func comparePaths(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		ca, cb := a[i], b[i]
		if ca == cb {
			continue
		}
		if ca == '.' {
			return -1
		}
		if cb == '.' {
			return 1
		}
		return int(ca) - int(cb)
	}
	return len(a) - len(b)
}

// isParentPath says whether next (sorted right after prev) lies under prev.
func isParentPath(prev, next string) bool {
	return len(next) > len(prev) && next[len(prev)] == '.' && strings.HasPrefix(next, prev)
}

// MarshalJSON makes Event encode nested wherever it is embedded.
func (e Event) MarshalJSON() ([]byte, error) { return Marshal(e) }

// UnmarshalJSON makes Event decode (and flatten) wherever it is embedded.
func (e *Event) UnmarshalJSON(data []byte) error {
	ev, err := Unmarshal(data)
	if err != nil {
		return err
	}
	*e = ev
	return nil
}

// Unmarshal decodes one JSON object into a flat Event. Nested objects are
// flattened into dotted paths; arrays are kept as values. Integers that fit
// int64 decode as int64, other numbers as float64. Anything after the
// object but white space is an error.
func Unmarshal(data []byte) (Event, error) {
	return unmarshal(data)
}
