package triage

import (
	"cmp"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
)

// Redacted replaces a secret in text that leaves the process.
const Redacted = "[REDACTED]"

// RedactConfig configures the redaction of secrets from prompts.
type RedactConfig struct {
	// ExtraPatterns are more regular expressions (RE2 syntax) whose
	// matches are replaced by [REDACTED]. A pattern with a capture group
	// named "secret" replaces only that group, keeping the context
	// ("token=[REDACTED]").
	ExtraPatterns []string `yaml:"extra_patterns"`
}

// redactRule is one secret shape: a regexp and, when the match carries
// context worth keeping, the group that is the secret.
type redactRule struct {
	name  string
	re    *regexp.Regexp
	group int // 0: the whole match is the secret
	// hints: one of these (lower case) must occur in the text for re to
	// be worth running; so must one byte of needs, when set.
	hints []string
	needs string
}

// builtinRedactions are the secret shapes Vigil always removes. Each keeps
// its key ("--password=") and replaces the value, so the notes can still
// say that a password was passed on the command line.
var builtinRedactions = []struct {
	name, expr string
	hints      []string
	needs      string
}{
	{"private key block", `-----BEGIN[A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----(?s:.*?)(-----END[A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----|\z)`, []string{"private key"}, ""},
	{"authorization header", `(?i)\b(?:proxy-)?authori[sz]ation\s*[:=]\s*(?:(?:bearer|basic|token|digest|negotiate|ntlm|apikey|sso-key)\s+)?(?P<secret>[^\s"',;]+)`, []string{"authori"}, ":="},
	{"bearer token", `(?i)\bbearer\s+(?P<secret>[A-Za-z0-9\-._~+/]{8,}=*)`, []string{"bearer"}, ""},
	{"AWS access key id", `\b(?:AKIA|ASIA|AIDA|AROA|AGPA|ANPA|ANVA|AIPA|ABIA|ACCA)[A-Z0-9]{16}\b`, []string{"akia", "asia", "aida", "aroa", "agpa", "anpa", "anva", "aipa", "abia", "acca"}, ""},
	{"AWS secret key", `(?i)(?:aws)?_?secret_?(?:access)?_?key(?:_id)?["']?\s*[:=]\s*["']?(?P<secret>[A-Za-z0-9/+=]{16,})`, []string{"secret"}, ""},
	{"JWT", `\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`, []string{"eyj"}, ""},
	{"GitHub token", `\b(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{22,255})\b`, []string{"gh", "github_pat"}, ""},
	{"Slack token", `\bxox[abposre]-[A-Za-z0-9-]{10,}`, []string{"xox"}, ""},
	{"Slack webhook", `https://hooks\.slack\.com/services/(?P<secret>[A-Za-z0-9/]+)`, []string{"hooks.slack"}, ""},
	{"OpenAI-style key", `\bsk-(?:proj-|live-|test-)?[A-Za-z0-9_-]{20,}`, []string{"sk-"}, ""},
	{"Stripe key", `\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}`, []string{"_live_", "_test_"}, ""},
	{"Google API key", `\bAIza[0-9A-Za-z_-]{35}\b`, []string{"aiza"}, ""},
	{"credentials in URL", `\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s"']+:(?P<secret>[^@\s"'/]+)@`, []string{"://"}, "@"},
	{"sshpass", `\bsshpass\s+-p\s*(?P<secret>"[^"]*"|'[^']*'|\S+)`, []string{"sshpass"}, ""},
	{"mysql -p", `\b(?:mysql|mysqldump|mysqladmin|mariadb|mariadb-dump|mysqlimport|mysqlshow|mysqlcheck)\b[^|;&\n]*?\s-p(?P<secret>[^\s-][^\s]*)`, []string{"mysql", "mariadb"}, ""},
	{"password option", `(?i)(?:^|\s)--?(?:password|passwd|pass|pwd|secret|token|api[-_]?key|access[-_]?key|secret[-_]?key|client[-_]?secret|auth[-_]?token)(?:=|\s+)(?P<secret>"[^"]*"|'[^']*'|[^\s"']+)`, []string{"pass", "pwd", "secret", "token", "key"}, ""},
	{"curl user", `(?:^|\s)(?:-u|--user|--proxy-user)\s*[^:\s]+:(?P<secret>\S+)`, []string{"-u", "--user", "--proxy-user"}, ":"},
	{"environment secret", `\b[A-Za-z0-9_]*(?:PASSWORD|PASSWD|PWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|CREDENTIALS?)[A-Za-z0-9_]*=(?P<secret>"[^"]*"|'[^']*'|[^\s&;"']+)`, []string{"pass", "pwd", "secret", "token", "key", "credential"}, "="},
	{"key=value secret", `(?i)\b(?:password|passwd|pwd|pass|secret|token|api_?key|apikey|access_?token|refresh_?token|client_?secret|auth_?token|session_?id|sig|signature|x-amz-signature|x-amz-credential)\s*=\s*(?P<secret>"[^"]*"|'[^']*'|[^\s&;"',]+)`, []string{"pass", "pwd", "secret", "token", "key", "session", "sig", "x-amz"}, "="},
	{"JSON secret", `(?i)"(?:password|passwd|secret|token|api_?key|apikey|access_?token|client_?secret|private_?key)"\s*:\s*"(?P<secret>[^"]*)"`, []string{"pass", "secret", "token", "key"}, ":"},
	{"SQL password", `(?i)\b(?:identified\s+by|password\s*\(?)\s*(?P<secret>'[^']*'|"[^"]*")`, []string{"identified", "password"}, "'\""},
	{"header secret", `(?i)\b(?:x-api-key|api-key|x-auth-token|x-access-token|cookie|set-cookie)\s*:\s*(?P<secret>[^\r\n"]+)`, []string{"api-key", "auth-token", "access-token", "cookie"}, ":"},
	{"password prompt echo", `(?i)\bpassword\s+(?:is|was)\s*:?\s*(?P<secret>\S+)`, []string{"password"}, " "},
}

// Redactor removes secrets from text. It is safe for concurrent use.
type Redactor struct {
	rules []redactRule
}

// NewRedactor returns a Redactor with the built-in secret shapes plus
// cfg.ExtraPatterns.
func NewRedactor(cfg RedactConfig) (*Redactor, error) {
	r := &Redactor{}
	for _, b := range builtinRedactions {
		re := regexp.MustCompile(b.expr)
		r.rules = append(r.rules, redactRule{name: b.name, re: re, group: re.SubexpIndex("secret"), hints: b.hints, needs: b.needs})
	}
	for i, p := range cfg.ExtraPatterns {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("triage.redact.extra_patterns[%d] %q: %w", i, p, err)
		}
		g := re.SubexpIndex("secret")
		r.rules = append(r.rules, redactRule{name: fmt.Sprintf("extra pattern %d", i), re: re, group: max(g, 0)})
	}
	return r, nil
}

// Redact returns s with every secret replaced by [REDACTED].
func (r *Redactor) Redact(s string) string {
	if r == nil || len(s) < 6 {
		return s
	}
	lower := ""
	for _, rule := range r.rules {
		if rule.needs != "" && !strings.ContainsAny(s, rule.needs) {
			continue
		}
		if len(rule.hints) > 0 {
			if lower == "" {
				lower = strings.ToLower(s)
			}
			if !containsAnyOf(lower, rule.hints) {
				continue
			}
		}
		if rule.group <= 0 {
			if rule.re.MatchString(s) {
				s = rule.re.ReplaceAllLiteralString(s, Redacted)
				lower = ""
			}
			continue
		}
		idx := rule.re.FindAllStringSubmatchIndex(s, -1)
		if len(idx) == 0 {
			continue
		}
		var b strings.Builder
		last := 0
		for _, m := range idx {
			from, to := m[2*rule.group], m[2*rule.group+1]
			if from < 0 {
				continue
			}
			if from < last {
				continue
			}
			b.WriteString(s[last:from])
			b.WriteString(Redacted)
			last = to
		}
		b.WriteString(s[last:])
		s = b.String()
		lower = ""
	}
	return s
}

func containsAnyOf(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// pseudonyms is the reversible per-incident map of user names and internal
// IP addresses to stand-ins (USER_01, INTERNAL_IP_01). It is built from
// the incident before the prompt is rendered and applied back to the
// answer's text.
type pseudonyms struct {
	forward map[string]string // original → stand-in
	users   *regexp.Regexp    // every known user name, longest first
	reverse *strings.Replacer
}

// pseudoIPRe finds IPv4 and (loosely) IPv6 addresses in free text.
var pseudoIPRe = regexp.MustCompile(`\b(?:\d{1,3}\.){3}\d{1,3}\b|\b(?:[0-9A-Fa-f]{1,4}:){2,7}[0-9A-Fa-f]{1,4}\b|\b[fF][cdCD][0-9a-fA-F]{2}:[0-9a-fA-F:]+\b`)

// newPseudonyms collects the user names of inc (related users, user
// entities, user.* fields of the alerts' events) and assigns stand-ins;
// internal IPs get theirs as they are met.
func newPseudonyms(inc *Incident) *pseudonyms {
	p := &pseudonyms{forward: make(map[string]string)}
	var users []string
	addUser := func(u string) {
		u = strings.TrimSpace(u)
		if len(u) < 2 || u == "-" || slices.Contains(users, u) {
			return
		}
		users = append(users, u)
	}
	for _, u := range inc.Users {
		addUser(u)
	}
	if strings.HasPrefix(inc.Entity.Field, "user.") {
		addUser(inc.Entity.Value)
	}
	for i := range inc.Alerts {
		d := &inc.Alerts[i].Vigil.Alert
		if strings.HasPrefix(d.Entity.Field, "user.") {
			addUser(d.Entity.Value)
		}
		for _, k := range d.GroupKeys {
			if k.Field == "user.name" || k.Field == "user.target.name" {
				addUser(k.Value)
			}
		}
		for _, e := range d.Events {
			for _, f := range []string{"user.name", "user.target.name", "user.effective.name", "source.user.name", "destination.user.name"} {
				addUser(fieldString(e, f))
			}
		}
	}
	slices.SortFunc(users, func(a, b string) int {
		if c := cmp.Compare(len(b), len(a)); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	sortedByName := slices.Clone(users)
	slices.Sort(sortedByName)
	for i, u := range sortedByName {
		p.forward[u] = fmt.Sprintf("USER_%02d", i+1)
	}
	if len(users) > 0 {
		quoted := make([]string, len(users))
		for i, u := range users {
			quoted[i] = regexp.QuoteMeta(u)
		}
		p.users = regexp.MustCompile(`(^|[^\p{L}\p{N}_.-])(` + strings.Join(quoted, "|") + `)($|[^\p{L}\p{N}_-])`)
	}
	return p
}

// apply replaces known user names and internal IPs in s by their
// stand-ins, assigning stand-ins to internal IPs not seen before.
func (p *pseudonyms) apply(s string) string {
	if p == nil || s == "" {
		return s
	}
	if v, ok := p.forward[s]; ok {
		return v
	}
	if p.users != nil {
		// Repeat: adjacent names share a separator the first pass consumed.
		for range 2 {
			s = p.users.ReplaceAllStringFunc(s, func(m string) string {
				sub := p.users.FindStringSubmatch(m)
				return sub[1] + p.forward[sub[2]] + sub[3]
			})
		}
	}
	if strings.ContainsAny(s, ".:") {
		s = pseudoIPRe.ReplaceAllStringFunc(s, func(m string) string {
			a, err := netip.ParseAddr(m)
			if err != nil || !isInternal(a) {
				return m
			}
			key := a.Unmap().String()
			v, ok := p.forward[key]
			if !ok {
				v = fmt.Sprintf("INTERNAL_IP_%02d", p.countIPs()+1)
				p.forward[key] = v
				p.reverse = nil
			}
			return v
		})
	}
	return s
}

func (p *pseudonyms) countIPs() int {
	n := 0
	for _, v := range p.forward {
		if strings.HasPrefix(v, "INTERNAL_IP_") {
			n++
		}
	}
	return n
}

// restore puts the original names and addresses back into text the model
// wrote about the pseudonymised data.
func (p *pseudonyms) restore(s string) string {
	if p == nil || len(p.forward) == 0 || s == "" {
		return s
	}
	if p.reverse == nil {
		pairs := make([]string, 0, 2*len(p.forward))
		// Longest stand-in first, so USER_10 is not read as USER_1 + "0".
		keys := make([]string, 0, len(p.forward))
		for k := range p.forward {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b string) int {
			return cmp.Compare(len(p.forward[b]), len(p.forward[a]))
		})
		for _, k := range keys {
			pairs = append(pairs, p.forward[k], k)
		}
		p.reverse = strings.NewReplacer(pairs...)
	}
	return p.reverse.Replace(s)
}
