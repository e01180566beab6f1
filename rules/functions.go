package rules

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io/fs"
	"net/netip"
	"path"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf16"

	lru "github.com/hashicorp/golang-lru/v2"
)

// Helper functions of rule expressions, beside expr's builtins. They never
// fail on a missing (nil) or mistyped argument: such a call is false (or
// "" / 0), so `icontains(process.command_line, "x")` on an event without a
// command line is simply no match.
//
//	cidr(ip, "10.0.0.0/8")        ip inside the network (a bare address: just it)
//	re(str, "pattern")            RE2 match, compiled once per pattern
//	icontains(str, sub)           case-insensitive contains
//	istartsWith(str, prefix)      case-insensitive startsWith
//	iendsWith(str, suffix)        case-insensitive endsWith
//	base64_contains(str, needle)  needle (case-insensitive) inside the
//	                              base64-decoded value or any base64 run in it
//	                              (UTF-16LE decoded too: PowerShell -enc)
//	in_list(value, "name")        value in the list name.txt (WithLists)
//	lower(str), upper(str)        nil → ""
//	len(v)                        nil → 0
//
// The operators <, >, <=, >= are rewritten into calls that compare numbers
// with numbers, strings with strings and times with times, and are false
// for anything else: `source.port > 1024` on an event without a port, or
// with the port as a string, is no match instead of a run-time error.

// maxRegexCache bounds the compiled patterns kept for re() with patterns
// that are not constants.
const maxRegexCache = 1024

// helperNames lists the Vigil helpers, for the unknown-function check.
var helperNames = []string{"cidr", "re", "icontains", "istartsWith", "iendsWith", "base64_contains", "in_list", "lower", "upper", "len", cmpLT, cmpGT, cmpLE, cmpGE}

const (
	cmpLT = "__vigil_lt"
	cmpGT = "__vigil_gt"
	cmpLE = "__vigil_le"
	cmpGE = "__vigil_ge"
)

// valueList is one list of in_list: exact values, and networks for
// entries written as CIDR.
type valueList struct {
	values   map[string]bool
	networks []netip.Prefix
}

func (l *valueList) contains(v string) bool {
	if l.values[v] {
		return true
	}
	if len(l.networks) > 0 {
		if addr, err := netip.ParseAddr(v); err == nil {
			for _, n := range l.networks {
				if n.Contains(addr.Unmap()) {
					return true
				}
			}
		}
	}
	return false
}

// env is what the expressions of one load share: the helpers, the
// caller's functions, the lists and the regex cache. It is safe for
// concurrent use once built, so engines on several goroutines can share
// the compiled rules.
type env struct {
	extra map[string]Function
	lists map[string]*valueList
	regex *lru.Cache[string, *matcher]
	lits  *litUniverse // numbers the literal sets of the patterns
}

func newEnv(cfg *loadConfig) (*env, []error) {
	cache, _ := lru.New[string, *matcher](maxRegexCache) // size is positive
	e := &env{extra: cfg.functions, lists: map[string]*valueList{}, regex: cache, lits: &litUniverse{}}
	var errs []error
	for _, fsys := range cfg.listFS {
		errs = append(errs, e.loadLists(fsys)...)
	}
	return e, errs
}

// loadLists reads every name.txt at the root of fsys.
func (e *env) loadLists(fsys fs.FS) []error {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return []error{fmt.Errorf("read lists: %w", err)}
	}
	var errs []error
	for _, ent := range entries {
		if ent.IsDir() || !strings.HasSuffix(ent.Name(), ".txt") {
			continue
		}
		data, err := fs.ReadFile(fsys, ent.Name())
		if err != nil {
			errs = append(errs, fmt.Errorf("read list %s: %w", ent.Name(), err))
			continue
		}
		name := strings.TrimSuffix(ent.Name(), ".txt")
		l := e.lists[name]
		if l == nil {
			l = &valueList{values: map[string]bool{}}
			e.lists[name] = l
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			line := sc.Text()
			if i := strings.IndexByte(line, '#'); i >= 0 {
				line = line[:i]
			}
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			if strings.Contains(line, "/") {
				if p, err := netip.ParsePrefix(line); err == nil {
					l.networks = append(l.networks, p.Masked())
					continue
				}
			}
			l.values[line] = true
		}
		if err := sc.Err(); err != nil {
			errs = append(errs, fmt.Errorf("read list %s: %w", path.Join(".", ent.Name()), err))
		}
	}
	return errs
}

func (e *env) listNames() []string {
	out := make([]string, 0, len(e.lists))
	for n := range e.lists {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// known says whether name is a function an expression may call.
func (e *env) known(name string) bool {
	if _, ok := e.extra[name]; ok {
		return true
	}
	for _, h := range helperNames {
		if h == name {
			return true
		}
	}
	return false
}

// functions returns the helpers, with the caller's functions over them.
func (e *env) functions() map[string]Function {
	fns := map[string]Function{
		"cidr":            cidrFunc,
		"re":              e.reFunc,
		"icontains":       stringPredicate(func(s, sub string) bool { return strings.Contains(strings.ToLower(s), strings.ToLower(sub)) }),
		"istartsWith":     stringPredicate(func(s, p string) bool { return len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) }),
		"iendsWith":       stringPredicate(func(s, p string) bool { return len(s) >= len(p) && strings.EqualFold(s[len(s)-len(p):], p) }),
		"base64_contains": stringPredicate(base64Contains),
		"in_list":         e.inListFunc,
		"lower":           stringMap(strings.ToLower),
		"upper":           stringMap(strings.ToUpper),
		"len":             lenFunc,
		cmpLT:             compareFunc(func(c int) bool { return c < 0 }),
		cmpGT:             compareFunc(func(c int) bool { return c > 0 }),
		cmpLE:             compareFunc(func(c int) bool { return c <= 0 }),
		cmpGE:             compareFunc(func(c int) bool { return c >= 0 }),
	}
	for name, fn := range e.extra {
		fns[name] = fn
	}
	return fns
}

// compileRegex returns the compiled pattern, from the cache when it was
// seen before.
func (e *env) compileRegex(pattern string) (*matcher, error) {
	if m, ok := e.regex.Get(pattern); ok {
		return m, nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("re: bad pattern %q: %w", pattern, err)
	}
	m := newMatcher(re)
	e.lits.number(m.sets)
	e.regex.Add(pattern, m)
	return m, nil
}

func (e *env) reFunc(params ...any) (any, error) {
	if len(params) != 2 {
		return false, fmt.Errorf("re(str, pattern) takes 2 arguments, got %d", len(params))
	}
	pattern, ok := params[1].(string)
	if !ok {
		return false, fmt.Errorf("re: the pattern must be a string, got %T", params[1])
	}
	s, ok := params[0].(string)
	if !ok {
		return false, nil
	}
	re, err := e.compileRegex(pattern)
	if err != nil {
		return false, err
	}
	return re.MatchString(s), nil
}

func (e *env) inListFunc(params ...any) (any, error) {
	if len(params) != 2 {
		return false, fmt.Errorf("in_list(value, list) takes 2 arguments, got %d", len(params))
	}
	name, _ := params[1].(string)
	l := e.lists[name]
	if l == nil {
		return false, fmt.Errorf("in_list: no list %q", name)
	}
	switch v := params[0].(type) {
	case nil:
		return false, nil
	case []any:
		for _, x := range v {
			if l.contains(KeyValue(x)) {
				return true, nil
			}
		}
		return false, nil
	case []string:
		for _, x := range v {
			if l.contains(x) {
				return true, nil
			}
		}
		return false, nil
	default:
		return l.contains(KeyValue(v)), nil
	}
}

// stringPredicate adapts f(str, arg) to expr: false unless both are strings.
func stringPredicate(f func(s, arg string) bool) Function {
	return func(params ...any) (any, error) {
		if len(params) != 2 {
			return false, fmt.Errorf("takes 2 arguments, got %d", len(params))
		}
		s, ok1 := params[0].(string)
		arg, ok2 := params[1].(string)
		if !ok1 || !ok2 {
			return false, nil
		}
		return f(s, arg), nil
	}
}

func stringMap(f func(string) string) Function {
	return func(params ...any) (any, error) {
		if len(params) != 1 {
			return "", fmt.Errorf("takes 1 argument, got %d", len(params))
		}
		s, _ := params[0].(string)
		return f(s), nil
	}
}

func lenFunc(params ...any) (any, error) {
	if len(params) != 1 {
		return 0, fmt.Errorf("len takes 1 argument, got %d", len(params))
	}
	switch v := params[0].(type) {
	case nil:
		return 0, nil
	case string:
		return len(v), nil
	case []any:
		return len(v), nil
	}
	rv := reflect.ValueOf(params[0])
	switch rv.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map, reflect.String:
		return rv.Len(), nil
	}
	return 0, fmt.Errorf("len of %T", params[0])
}

// compareFunc builds a safe ordering operator: numbers with numbers,
// strings with strings, times and durations with their own kind; any
// other pair (nil included) is false.
func compareFunc(ok func(int) bool) Function {
	return func(params ...any) (any, error) {
		if len(params) != 2 {
			return false, fmt.Errorf("comparison takes 2 operands, got %d", len(params))
		}
		c, comparable := compare(params[0], params[1])
		return comparable && ok(c), nil
	}
}

func compare(a, b any) (int, bool) {
	if ai, ok := asInt(a); ok {
		if bi, ok := asInt(b); ok {
			return cmpOrdered(ai, bi), true
		}
	}
	if af, ok := asFloat(a); ok {
		if bf, ok := asFloat(b); ok {
			return cmpOrdered(af, bf), true
		}
		return 0, false
	}
	switch x := a.(type) {
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y), true
		}
	case time.Time:
		if y, ok := b.(time.Time); ok {
			return x.Compare(y), true
		}
	case time.Duration:
		if y, ok := b.(time.Duration); ok {
			return cmpOrdered(x, y), true
		}
	}
	return 0, false
}

func cmpOrdered[T int64 | float64 | time.Duration](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func asInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int64:
		return n, true
	case int32:
		return int64(n), true
	case uint32:
		return int64(n), true
	case uint16:
		return int64(n), true
	case uint8:
		return int64(n), true
	}
	return 0, false
}

func asFloat(v any) (float64, bool) {
	if i, ok := asInt(v); ok {
		return float64(i), true
	}
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case uint64:
		return float64(n), true
	case uint:
		return float64(n), true
	}
	return 0, false
}

func cidrFunc(params ...any) (any, error) {
	if len(params) != 2 {
		return false, fmt.Errorf("cidr(ip, network) takes 2 arguments, got %d", len(params))
	}
	ip, _ := params[0].(string)
	network, _ := params[1].(string)
	if ip == "" || network == "" {
		return false, nil
	}
	prefix, err := parseNetwork(network)
	if err != nil {
		return false, err
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return false, nil
	}
	return prefix.Contains(addr.Unmap()), nil
}

// parseNetwork reads the network of cidr(): a CIDR prefix, or a bare
// address as the network of that address alone (/32, /128), the way a
// firewall rule reads it, rather than a network nothing is in.
func parseNetwork(network string) (netip.Prefix, error) {
	prefix, err := netip.ParsePrefix(network)
	if err == nil {
		return prefix, nil
	}
	if addr, aerr := netip.ParseAddr(network); aerr == nil && addr.Zone() == "" {
		// Addresses are compared unmapped: ::ffff:192.0.2.1 is 192.0.2.1.
		addr = addr.Unmap()
		return netip.PrefixFrom(addr, addr.BitLen()), nil
	}
	if !strings.Contains(network, "/") {
		err = fmt.Errorf("not an address")
	} else if _, why, ok := strings.Cut(err.Error(), "): "); ok {
		err = fmt.Errorf("%s", why) // netip's message repeats the function and the text
	}
	return netip.Prefix{}, fmt.Errorf("cidr: bad network %q: %v (write a network as 10.0.0.0/8 or 2001:db8::/32, or one address)", network, err)
}

// base64Run is a run of base64 alphabet long enough to hold a word.
var base64Run = regexp.MustCompile(`[A-Za-z0-9+/_-]{8,}={0,2}`)

// maxBase64Input bounds the bytes base64_contains looks at in one value.
const maxBase64Input = 64 * 1024

// base64Contains says whether needle (case-insensitive) is in the decoded
// value, or in any base64 run inside it (`powershell -enc SQBFAFgA…`).
// Decoded bytes that look like UTF-16LE, as PowerShell encodes commands,
// are converted first.
func base64Contains(s, needle string) bool {
	if needle == "" {
		return false
	}
	if len(s) > maxBase64Input {
		s = s[:maxBase64Input]
	}
	needle = strings.ToLower(needle)
	if decodedContains(strings.TrimSpace(s), needle) {
		return true
	}
	for _, run := range base64Run.FindAllString(s, -1) {
		if decodedContains(run, needle) {
			return true
		}
	}
	return false
}

func decodedContains(candidate, needle string) bool {
	raw := strings.TrimRight(candidate, "=")
	if len(raw)%4 == 1 {
		raw = raw[:len(raw)-1]
	}
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		b, err := enc.DecodeString(raw)
		if err != nil {
			continue
		}
		if strings.Contains(strings.ToLower(decodeText(b)), needle) {
			return true
		}
	}
	return false
}

// decodeText reads bytes as UTF-16LE when every other byte is zero (the
// usual shape of ASCII text in UTF-16LE), else as they are.
func decodeText(b []byte) string {
	if len(b) >= 4 && b[1] == 0 && b[3] == 0 {
		u := make([]uint16, len(b)/2)
		for i := range u {
			u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
		}
		return string(utf16.Decode(u))
	}
	return string(b)
}
