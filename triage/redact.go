package triage

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/vigil-siem/vigil/event"
)

// Redacted replaces a secret in text that leaves the process.
const Redacted = "[REDACTED]"

// RedactConfig configures the redaction of secrets from everything that
// leaves the process with log content in it: prompts, verdicts and the
// matched events of alerts.
type RedactConfig struct {
	// ExtraPatterns are more regular expressions (RE2 syntax) whose
	// matches are replaced by [REDACTED]. A pattern with a capture group
	// named "secret" replaces only that group, keeping the context
	// ("token=[REDACTED]").
	ExtraPatterns []string `yaml:"extra_patterns"`
}

// redactRule is one secret shape: a regexp and, when the match carries
// context worth keeping, the groups that are the secret.
type redactRule struct {
	name   string
	re     *regexp.Regexp
	groups []int // the groups named "secret"; none: the whole match is the secret
	// hints: one of these (lower case; as they are with exactHints)
	// must occur in the text for re to be worth running; so must one byte
	// of needs, when set.
	hints      []string
	exactHints bool
	needs      string
	// reject, when set, vetoes a match of re that it matches: what looks
	// like the shape but is known not to be a secret.
	reject *regexp.Regexp
}

// Parts of the built-in expressions. A value is a shell word: quoted and
// unquoted runs up to the next blank ("pa ss"word is one word). A quote
// left open runs to the end of the line, so a value a length cap cut
// ("Secr…) is still covered. A backtick ends a value too, so that a
// secret quoted as Markdown code in a verdict's notes is redacted without
// the closing backtick. optValue is the value of an option given as the
// next word: one starting with a dash is the next option (the option
// took no value, or prompts for it), not a secret. sameCmd is the rest of
// one shell command: a tool's option applies up to the next pipe, list or
// line.
const (
	quoted   = `"[^"\n]*"?|'[^'\n]*'?`
	value    = `(?P<secret>(?:` + quoted + `|[^\s"'\x60])+)`
	optValue = `(?P<secret>(?:` + quoted + `|[^\s"'\x60-])(?:` + quoted + `|[^\s"'\x60])*)`
	sameCmd  = `[^|;&\n]*?`
	// winValue is a Windows command's positional password: not a /switch,
	// not * (which asks for it).
	winValue = `(?P<secret>(?:"[^"\n]*"?|[^\s/"*\x60])(?:"[^"\n]*"?|[^\s"\x60])*)`
	// htFlags are htpasswd's option clusters, with the number -C and -r
	// take.
	htFlags = `(?:\s+-[A-Za-z]+(?:\s+\d+)?)*`
)

// netHints are what "net user"/"net use" (net1, net.exe) start with,
// ending with the blank or the suffix after "net": "net" alone is in
// every "network" and "internet".
var netHints = []string{"net ", "net\t", "net\n", "net\r", "net\v", "net\f", "net1", "net.exe"}

// builtinRedactions are the secret shapes Vigil always removes. Each keeps
// its key ("--password=") and replaces the value, so the notes can still
// say that a password was passed on the command line. Every expression is
// run on the original text and the secrets all of them find are replaced
// at once, so one shape's replacement never hides another's context
// ("-Password (ConvertTo-SecureString 'x' -AsPlainText)").
var builtinRedactions = []struct {
	name, expr string
	hints      []string
	exactHints bool // hints in the case they must have (not lower case)
	needs      string
	reject     string
}{
	{name: "private key block", expr: `-----BEGIN[A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----(?s:.*?)(-----END[A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----|\z)`, hints: []string{"private key"}},
	{name: "authorization header", expr: `(?i)\b(?:proxy-)?authori[sz]ation["']?\s*[:=]\s*["']?(?:(?:bearer|basic|token|digest|negotiate|ntlm|apikey|sso-key)\s+)?(?P<secret>[^\s"'\x60,;]+)`, hints: []string{"authori"}, needs: ":="},
	{name: "bearer token", expr: `(?i)\bbearer\s+(?P<secret>[A-Za-z0-9\-._~+/]{8,}=*)`, hints: []string{"bearer"}},
	{name: "AWS access key id", expr: `\b(?:AKIA|ASIA|AIDA|AROA|AGPA|ANPA|ANVA|AIPA|ABIA|ACCA)[A-Z0-9]{16}\b`, hints: []string{"akia", "asia", "aida", "aroa", "agpa", "anpa", "anva", "aipa", "abia", "acca"}},
	// "aws configure set aws_secret_access_key KEY" separates key and
	// value by a blank; the JSON of an STS answer ("SecretAccessKey": …)
	// by a colon.
	{name: "AWS secret key", expr: `(?i)(?:aws)?_?secret_?(?:access)?_?key(?:_id)?["']?(?:\s*[:=]\s*|\s+)["']?(?P<secret>[A-Za-z0-9/+=]{16,})`, hints: []string{"secret"}},
	{name: "AWS session token", expr: `(?i)\b(?:aws_?)?session_?token["']?(?:\s*[:=]\s*|\s+)["']?(?P<secret>[A-Za-z0-9/+=]{16,})`, hints: []string{"sessiontoken", "session_token"}},
	{name: "JWT", expr: `\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`, hints: []string{"eyj"}},
	{name: "GitHub token", expr: `\b(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{22,255})\b`, hints: []string{"gh", "github_pat"}},
	{name: "GitLab token", expr: `\bglpat-[A-Za-z0-9_-]{20,}`, hints: []string{"glpat-"}},
	{name: "npm token", expr: `\bnpm_[A-Za-z0-9]{36}\b`, hints: []string{"npm_"}},
	{name: "Vault token", expr: `\bhv[sbr]\.[A-Za-z0-9_-]{20,}`, hints: []string{"hvs.", "hvb.", "hvr."}},
	{name: "Slack token", expr: `\bxox[abposre]-[A-Za-z0-9-]{10,}`, hints: []string{"xox"}},
	{name: "Slack webhook", expr: `https://hooks\.slack\.com/services/(?P<secret>[A-Za-z0-9/]+)`, hints: []string{"hooks.slack"}},
	{name: "OpenAI-style key", expr: `\bsk-(?:proj-|live-|test-)?[A-Za-z0-9_-]{20,}`, hints: []string{"sk-"}},
	{name: "Stripe key", expr: `\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}`, hints: []string{"_live_", "_test_"}},
	{name: "Google API key", expr: `\bAIza[0-9A-Za-z_-]{35}\b`, hints: []string{"aiza"}},
	// The user may be empty (redis://:PASS@host); the password runs to
	// the last @ before the host, so an @ in it does not end it.
	{name: "credentials in URL", expr: `\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s"'\x60]*:(?P<secret>[^\s"'\x60/]+)@`, hints: []string{"://"}, needs: "@"},
	{name: "sshpass", expr: `\bsshpass\s+-p\s*` + value, hints: []string{"sshpass"}},
	{name: "mysql -p", expr: `\b(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlshow|mysqlcheck|mysqlpump|mysqlslap|mysqlbinlog|mysqlsh|mariadb|mariadb-dump|mariadb-admin)\b` + sameCmd + `\s-p(?P<secret>(?:` + quoted + `|[^\s"'\x60-])(?:` + quoted + `|[^\s"'\x60])*)`, hints: []string{"mysql", "mariadb"}},
	// --password VALUE, --db-password=VALUE, -Password VALUE (PowerShell,
	// where the value may be a parenthesised expression), -pw (plink).
	// --no-password, --ask-pass and the like take no value: the word after
	// them is not a secret.
	{
		name: "password option",
		expr: `(?i)(?:^|\s)--?(?:(?:[a-z0-9]+[-_]){0,3}(?:password|passwd|pass|pwd|pw|passphrase|secret|token|api[-_]?key|access[-_]?key|secret[-_]?key|client[-_]?secret|auth[-_]?token)|[a-z0-9]*(?:password|passwd|passphrase))` +
			`(?:=-*|\s+)(?P<secret>\([^)\n]*\)?(?:` + quoted + `|[^\s"'\x60])*|(?:` + quoted + `|[^\s"'\x60(-])(?:` + quoted + `|[^\s"'\x60])*)`,
		hints:  []string{"pass", "pwd", "pw", "secret", "token", "key"},
		reject: `(?i)^\s*--?(?:no|skip|ask|prompt|read|use|show|change|reset|check|require|allow|empty|forgot|forget|ignore|hide)[-_]?[a-z]`,
	},
	// curl -u user:pass. docker run -u 1000:1000 is a uid and gid, and
	// redis-cli -u takes a URL (credentials in URL).
	{name: "curl user", expr: `(?:^|\s)(?:-u|--user|--proxy-user)(?:=|\s*)(?:"[^":\n]+:(?P<secret>[^"\n]+)"?|'[^':\n]+:(?P<secret>[^'\n]+)'?|[^:\s"']+:(?P<secret>[^\s"'\x60]+))`, hints: []string{"-u", "--user", "--proxy-user"}, needs: ":", reject: `^\s*(?:-u|--user)(?:=|\s*)\d+:\d+$|://`},
	// smbclient, rpcclient, net (Samba): -U user%pass, -U 'DOMAIN\user%pass'.
	{name: "Samba user%pass", expr: `(?:^|\s)(?:-U|--user(?:name)?)(?:=|\s*)(?:"[^"%\n]+%(?P<secret>[^"\n]+)"?|'[^'%\n]+%(?P<secret>[^'\n]+)'?|[^\s%"']+%(?P<secret>[^\s"'\x60]+))`, hints: []string{"-u", "--user"}, needs: "%"},
	// Names of environment variables that hold secrets: PASSWORD, PASSWD
	// and PASSPHRASE anywhere in the name (PGPASSWORD), the shorter words
	// only as words of the name (DB_PASS, VAULT_TOKEN, OPENAI_API_KEY,
	// REDISCLI_AUTH, MYSQL_PWD), so that PWD and OLDPWD (the working
	// directory sudo logs) and names that merely contain the letters are
	// left alone.
	{
		name: "environment secret",
		expr: `\b(?:[A-Za-z0-9_]*(?:PASSWORD|PASSWD|PASSPHRASE)[A-Za-z0-9_]*|SSHPASS|(?:[A-Za-z0-9]+_)*(?:PASS|SECRET|TOKEN|APIKEY|ACCESSKEY|CREDENTIALS?)(?:_[A-Za-z0-9]+)*|(?:[A-Za-z0-9]+_)*(?:API|SECRET|PRIVATE|ACCESS|ENCRYPTION|SIGNING|MASTER|ACCOUNT|LICENSE|SERVICE)_KEY|(?:[A-Za-z0-9]+_)+(?:PWD?(?:_[A-Za-z0-9]+)*|AUTH))` +
			`=(?P<secret>(?:` + quoted + `|[^\s&;"'\x60])+)`,
		// Upper case, as the names: "auth" would run it on every PAM line.
		hints: []string{"PASS", "PW", "SECRET", "TOKEN", "KEY", "CREDENTIAL", "AUTH"}, exactHints: true, needs: "=",
	},
	{
		name: "key=value secret",
		expr: `(?i)\b(?:[a-z0-9]+[_.-]){0,3}(?:password|passwd|pass|passphrase|secret|token|api_?key|apikey|access_?token|refresh_?token|id_?token|client_?secret|auth_?token|session_?id|sessionid|sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token)\s*=\s*` +
			`(?P<secret>(?:` + quoted + `|[^\s&;"',\x60])+)`,
		hints: []string{"pass", "secret", "token", "key", "session_id", "sessionid", "sig", "x-amz"}, needs: "=",
	},
	// The YAML and log form: "password: hunter2", "db.password: x". Only
	// names that are secrets by themselves (not "token", which logs use
	// in prose: "invalid token: expired"), and a colon right after them.
	{
		name:  "key: value secret",
		expr:  `(?i)\b(?:[a-z0-9]+[_.-]){0,3}(?:password|passwd|passphrase|client_?secret|secret_?key|api_?key)["']?:[ \t]+(?P<secret>(?:` + quoted + `|[^\s,;"'\x60])+)`,
		hints: []string{"pass", "secret", "key"}, needs: ":",
	},
	// pwd= is a password in query and ODBC connection strings
	// (UID=sa;PWD=…), but PWD=/home/deploy is the working directory sudo
	// logs: a value that is an absolute path is not redacted.
	{name: "pwd=", expr: `(?i)\b(?:[a-z0-9]+[_.-]){0,3}pwd\s*=\s*(?P<secret>(?:` + quoted + `|[^/\s&;"',\x60])(?:` + quoted + `|[^\s&;"',\x60])*)`, hints: []string{"pwd"}, needs: "="},
	{name: "JSON secret", expr: `(?i)"[a-z0-9_-]*(?:password|passwd|passphrase|secret|token|api[_-]?key|apikey|private_?key)"\s*:\s*"(?P<secret>(?:[^"\\]|\\.)*)"`, hints: []string{"pass", "secret", "token", "key"}, needs: ":"},
	{name: "SQL password", expr: `(?i)\b(?:identified\s+by|password\s*\(?)\s*(?P<secret>'(?:[^'\n]|'')*'?|"[^"\n]*"?)`, hints: []string{"identified", "password"}, needs: "'\""},
	// An API key or token header's value is one word; a cookie header's
	// runs to the end of the line ("a=1; b=2").
	{name: "API key header", expr: `(?i)\b(?:x-api-key|api-key|x-auth-token|x-access-token|private-token|x-vault-token|x-goog-api-key|x-amz-security-token|x-csrf-token|x-xsrf-token)["']?\s*:\s*["']?(?P<secret>[^\s"'\x60]+)`, hints: []string{"api-key", "-token"}, needs: ":"},
	{name: "cookie header", expr: `(?i)\b(?:cookie|set-cookie)["']?\s*:\s*["']?(?P<secret>[^\r\n"\x60]+)`, hints: []string{"cookie"}, needs: ":"},
	{name: "password prompt echo", expr: `(?i)\bpassword\s+(?:is|was)\s*:?\s*(?P<secret>\S+)`, hints: []string{"password"}, needs: " "},
	// Tools whose password option is a short one that means something
	// else elsewhere (-p is a port to ssh), so only after the tool's name
	// in the same command.
	{name: "registry login -p", expr: `\b(?:docker|podman|buildah|skopeo|nerdctl|oras|helm\s+registry|az|oc)\s+login\b` + sameCmd + `\s-p\s*` + optValue, hints: []string{"login"}},
	{name: "redis-cli -a", expr: `\b(?:redis-cli|valkey-cli|keydb-cli)\b` + sameCmd + `\s-a\s*` + optValue, hints: []string{"-cli"}},
	{name: "LDAP bind password", expr: `\bldap(?:search|modify|add|delete|whoami|passwd|compare|modrdn|exop|url|vc)\b` + sameCmd + `\s-w\s*` + optValue, hints: []string{"ldap"}},
	{name: "ldappasswd -s/-a", expr: `\bldappasswd\b` + sameCmd + `\s-[as]\s*` + optValue, hints: []string{"ldappasswd"}},
	{name: "sqlcmd -P", expr: `\b(?:sqlcmd|osql|bcp)\b` + sameCmd + `\s-P\s*` + optValue, hints: []string{"sqlcmd", "osql", "bcp"}},
	{name: "mongo -p", expr: `\b(?:mongo|mongosh|mongodump|mongorestore|mongoexport|mongoimport|mongostat|mongotop|mongofiles)\b` + sameCmd + `\s-p\s*` + optValue, hints: []string{"mongo"}},
	{name: "zip -P", expr: `\b(?:zip|unzip|zipcloak)\b` + sameCmd + `\s-P\s*` + optValue, hints: []string{"zip"}},
	{name: "7z/rar -p", expr: `\b(?:7z|7za|7zr|7zz|rar|unrar)\b` + sameCmd + `\s-p(?P<secret>(?:` + quoted + `|[^\s"'\x60-])(?:` + quoted + `|[^\s"'\x60])*)`, hints: []string{"7z", "rar"}},
	{name: "useradd -p", expr: `\b(?:useradd|usermod|adduser|luseradd|lusermod)\b` + sameCmd + `\s(?:-p|--password)\s*` + optValue, hints: []string{"useradd", "usermod", "adduser", "luseradd", "lusermod"}},
	{name: "openssl pass:", expr: `(?:^|\s)-(?:passin|passout|pass|passwd|password|kpass)\s+pass:` + value, hints: []string{"pass:"}},
	{name: "openssl -k", expr: `\bopenssl\b` + sameCmd + `\s-k\s+` + optValue, hints: []string{"openssl"}},
	{name: "openssl passwd", expr: `\bopenssl\s+passwd\b(?:\s+(?:-salt\s+\S+|-\S+))*\s+(?P<secret>(?:` + quoted + `|[^\s"'\x60|;&)-])(?:` + quoted + `|[^\s"'\x60|;&)])*)`, hints: []string{"openssl"}},
	// htpasswd -b FILE USER PASS; with -n there is no FILE: -nb USER PASS.
	{
		name: "htpasswd -b",
		expr: `\bhtpasswd` + htFlags + `\s+-[A-Za-z]*b[A-Za-z]*` + htFlags + `\s+[^\s|;&-]\S*\s+[^\s|;&-]\S*\s+(?P<secret>(?:` + quoted + `|[^\s"'\x60|;&-])(?:` + quoted + `|[^\s"'\x60|;&])*)` +
			`|\bhtpasswd` + htFlags + `\s+-[A-Za-z]*n[A-Za-z]*` + htFlags + `\s+[^\s|;&-]\S*\s+(?P<secret>(?:` + quoted + `|[^\s"'\x60|;&-])(?:` + quoted + `|[^\s"'\x60|;&])*)`,
		hints: []string{"htpasswd"},
	},
	// A password piped into what reads one from standard input:
	// echo PASS | passwd --stdin USER, echo USER:PASS | chpasswd,
	// echo PASS | sudo -S CMD, echo TOKEN | docker login --password-stdin.
	{
		name: "password on stdin",
		expr: `\b(?:echo|printf)(?:\s+-[neE]+)*\s+(?P<secret>(?:` + quoted + `|[^\s|;&\x60])+(?:[ \t]+(?:` + quoted + `|[^\s|;&\x60])+)*?)\s*\|\s*(?:\S*/)?` +
			`(?:(?:passwd|chpasswd)\b|sudo(?:\s+-[A-Za-z-]+)*?\s+(?:-S|--stdin)\b|` + sameCmd + `--password-stdin\b)`,
		hints: []string{"echo", "printf"},
	},
	// Windows: net user NAME PASS, net use \\HOST\SHARE PASS [/user:U],
	// net use … /user:U PASS, /password:PASS (wmic), /pass:PASS (cmdkey),
	// /p:PASS (xfreerdp), schtasks /RP PASS, PowerShell's
	// ConvertTo-SecureString "PASS" -AsPlainText.
	{name: "net user", expr: `(?i)\bnet1?(?:\.exe)?\s+user\s+(?:"[^"]*"|[^\s/"]+)\s+` + winValue, hints: netHints},
	{
		name: "net use",
		expr: `(?i)\bnet1?(?:\.exe)?\s+use\s+(?:[a-z]:\s+|\*\s+)?\\\\\S+\s+` + winValue +
			`|(?i)\bnet1?(?:\.exe)?\s+use\b` + sameCmd + `\s/u(?:ser)?:(?:"[^"]*"|\S+)\s+` + winValue,
		hints: netHints,
	},
	{name: "Windows /password:", expr: `(?i)(?:^|\s)/(?:p|pass|password|passwd|pwd)[:=](?P<secret>(?:"[^"\n]*"?|[^\s"\x60])+)`, hints: []string{"/p:", "/p=", "/pass", "/pwd"}},
	{name: "schtasks /RP", expr: `(?i)\bschtasks(?:\.exe)?\b` + sameCmd + `\s/R?P\s+` + winValue, hints: []string{"schtasks"}},
	{name: "ConvertTo-SecureString", expr: `(?i)\bConvertTo-SecureString\b(?:\s+-(?:AsPlainText|Force)\b(?::\$true)?)*\s+(?:-String\s+)?(?P<secret>(?:` + quoted + `|[^\s\-)"'\x60])(?:` + quoted + `|[^\s)"'\x60])*)`, hints: []string{"convertto-securestring"}},
	// Remote-access and credential tools whose -p is the password, and the
	// NT hashes (pass the hash) they and Impacket take.
	{
		name:  "remote tool -p",
		expr:  `(?i)\b(?:psexec|psexec64|paexec|crackmapexec|cme|nxc|netexec|evil-winrm|hydra|medusa|smbmap|enum4linux|enum4linux-ng|rdesktop|plink|pscp)(?:\.exe|\.py)?\b` + sameCmd + `\s-p\s+` + optValue,
		hints: []string{"psexec", "paexec", "crackmapexec", "cme", "nxc", "netexec", "evil-winrm", "hydra", "medusa", "smbmap", "enum4linux", "rdesktop", "plink", "pscp"},
	},
	{
		name:  "NT hash option",
		expr:  `(?:^|\s)-hashes\s+` + value + `|(?i)\b(?:crackmapexec|cme|nxc|netexec|evil-winrm)\b` + sameCmd + `\s(?:-H|--hash(?:es)?)\s+` + optValue,
		hints: []string{"-hashes", "crackmapexec", "cme", "nxc", "netexec", "evil-winrm"},
	},
	// Impacket's targets: [DOMAIN/]USER:PASS@HOST.
	{
		name:  "Impacket target",
		expr:  `(?i)\b(?:impacket-)?(?:psexec|smbexec|wmiexec|atexec|dcomexec|secretsdump|getuserspns|getnpusers|gettgt|getst|lookupsid|mssqlclient|rpcdump|samrdump|smbclient|reg|services|addcomputer|ticketer|dacledit|changepasswd)(?:\.py)?\b` + sameCmd + `(?:^|[\s'"])(?:[\w.-]+/)?[^\s:/@'"]+:(?P<secret>[^\s'"\x60]+)@[\w.-]+`,
		hints: []string{"psexec", "smbexec", "wmiexec", "atexec", "dcomexec", "secretsdump", "getuserspns", "getnpusers", "gettgt", "getst", "impacket", "lookupsid", "mssqlclient", "rpcdump", "samrdump", "smbclient.py", "reg.py", "services.py", "addcomputer", "ticketer", "dacledit", "changepasswd"},
		needs: "@",
	},
}

// Redactor removes secrets from text. It is safe for concurrent use.
type Redactor struct {
	rules []redactRule
}

// builtinRules are builtinRedactions compiled, once per process: every
// Prompter (BuildPrompt and Explain make one per call) and the detect
// stage share them, as a Regexp is safe for concurrent use.
var builtinRules = sync.OnceValue(func() []redactRule {
	rules := make([]redactRule, 0, len(builtinRedactions))
	for _, b := range builtinRedactions {
		rule := redactRule{name: b.name, re: regexp.MustCompile(b.expr), hints: b.hints, exactHints: b.exactHints, needs: b.needs}
		rule.groups = secretGroups(rule.re)
		if b.reject != "" {
			rule.reject = regexp.MustCompile(b.reject)
		}
		rules = append(rules, rule)
	}
	return rules
})

// NewRedactor returns a Redactor with the built-in secret shapes plus
// cfg.ExtraPatterns.
func NewRedactor(cfg RedactConfig) (*Redactor, error) {
	r := &Redactor{rules: slices.Clip(builtinRules())}
	for i, p := range cfg.ExtraPatterns {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("triage.redact.extra_patterns[%d] %q: %w", i, p, err)
		}
		r.rules = append(r.rules, redactRule{name: fmt.Sprintf("extra pattern %d", i), re: re, groups: secretGroups(re)})
	}
	return r, nil
}

// secretGroups are the indexes of re's groups named "secret" (a shape
// with several forms names the secret in each).
func secretGroups(re *regexp.Regexp) []int {
	var gs []int
	for i, n := range re.SubexpNames() {
		if n == "secret" {
			gs = append(gs, i)
		}
	}
	return gs
}

// secretSpan is a secret's byte range in a text.
type secretSpan struct{ from, to int }

// Redact returns s with every secret replaced by [REDACTED].
func (r *Redactor) Redact(s string) string {
	if r == nil || len(s) < 6 {
		return s
	}
	return replaceSpans(s, r.spans(s, nil))
}

// spans appends to out the secrets every rule finds in s, each rule
// running on s as it is (not on what another rule left of it), sorted
// and merged.
func (r *Redactor) spans(s string, out []secretSpan) []secretSpan {
	if len(s) < 6 {
		return out
	}
	n := len(out)
	lower := ""
	for i := range r.rules {
		rule := &r.rules[i]
		if rule.needs != "" && !strings.ContainsAny(s, rule.needs) {
			continue
		}
		switch {
		case len(rule.hints) == 0:
		case rule.exactHints:
			if !containsAnyOf(s, rule.hints) {
				continue
			}
		default:
			if lower == "" {
				lower = strings.ToLower(s)
			}
			if !containsAnyOf(lower, rule.hints) {
				continue
			}
		}
		for _, m := range rule.re.FindAllStringSubmatchIndex(s, -1) {
			if rule.reject != nil && rule.reject.MatchString(s[m[0]:m[1]]) {
				continue
			}
			if len(rule.groups) == 0 {
				out = append(out, secretSpan{m[0], m[1]})
				continue
			}
			for _, g := range rule.groups {
				if from, to := m[2*g], m[2*g+1]; from >= 0 && to > from {
					out = append(out, secretSpan{from, to})
				}
			}
		}
	}
	return mergeSpans(out, n)
}

// mergeSpans sorts out[from:] and joins the spans that overlap or touch.
func mergeSpans(out []secretSpan, from int) []secretSpan {
	ss := out[from:]
	if len(ss) < 2 {
		return out
	}
	slices.SortFunc(ss, func(a, b secretSpan) int { return cmp.Compare(a.from, b.from) })
	k := 0
	for _, sp := range ss[1:] {
		if sp.from <= ss[k].to {
			ss[k].to = max(ss[k].to, sp.to)
			continue
		}
		k++
		ss[k] = sp
	}
	return out[:from+k+1]
}

// replaceSpans replaces each of the sorted, disjoint spans of s by
// [REDACTED].
func replaceSpans(s string, spans []secretSpan) string {
	if len(spans) == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + len(spans)*len(Redacted))
	last := 0
	for _, sp := range spans {
		b.WriteString(s[last:sp.from])
		b.WriteString(Redacted)
		last = sp.to
	}
	b.WriteString(s[last:])
	return b.String()
}

// RedactList redacts a list of strings as one argument vector: besides
// the secrets each item holds, those that only their neighbours reveal
// ("--password", "VALUE"; "-H", "X-Api-Key:", "VALUE"; a private key
// split on blanks). The items are read joined by blanks, as the command
// line they came from; an item is replaced where a secret covers it, so
// the list keeps its length and its other items. in is never modified;
// the result is in itself when nothing was found.
func (r *Redactor) RedactList(in []string) []string {
	if r == nil || len(in) == 0 {
		return in
	}
	if len(in) == 1 {
		if s := r.Redact(in[0]); s != in[0] {
			return []string{s}
		}
		return in
	}
	joined := strings.Join(in, " ")
	// An item's secret is one in the joined text too (blanks separate
	// the items, as the start and end of a text do): none there, none at
	// all.
	spans := r.spans(joined, nil)
	if len(spans) == 0 {
		return in
	}
	// Each item alone too: a match in the joined text may start before
	// an item and so hide one that starts inside it.
	off := 0
	for _, s := range in {
		k := len(spans)
		spans = r.spans(s, spans)
		for i := k; i < len(spans); i++ {
			spans[i].from += off
			spans[i].to += off
		}
		off += len(s) + 1
	}
	spans = mergeSpans(spans, 0)
	out := slices.Clone(in)
	off = 0
	for i, s := range in {
		start, end := off, off+len(s)
		off = end + 1
		var b strings.Builder
		last := start
		for _, sp := range spans {
			if sp.to <= start || sp.from >= end {
				continue
			}
			from, to := max(sp.from, start), min(sp.to, end)
			b.WriteString(joined[last:from])
			b.WriteString(Redacted)
			last = to
		}
		if last != start {
			b.WriteString(joined[last:end])
			out[i] = b.String()
		}
	}
	return out
}

// secretFieldSuffixes end the field names (the last part of a dotted
// path, lower case, without _ and -) whose value is a secret whatever it
// looks like: {"password": "hunter2"} in a decoded JSON log, CloudTrail's
// credentials.sessionToken and secretAccessKey, db_password, clientSecret.
// "pwd" is not one: sudo's PWD is the working directory; nor "key" alone
// (sort_key, ssh_key_path).
var secretFieldSuffixes = []string{
	"password", "passwd", "passphrase", "secret", "token",
	"apikey", "secretkey", "privatekey", "accesskey", "signingkey", "encryptionkey",
}

// SecretField reports whether a field's name says its value is a secret.
func SecretField(name string) bool {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	if len(name) < 5 || len(name) > 64 {
		return false
	}
	squashed := strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(name))
	if squashed == "accesskey" {
		return false // often the key's id (AWS AccessKeyId's shape), not the secret
	}
	for _, suffix := range secretFieldSuffixes {
		if strings.HasSuffix(squashed, suffix) {
			return true
		}
	}
	return false
}

// RedactValue returns v (a decoded JSON value: a string, a list, an
// object, or any other scalar) with every secret in its strings and keys
// redacted: lists as argument vectors (RedactList), the string value of
// a field that SecretField names entirely. v is never modified; the
// result shares what did not change.
func (r *Redactor) RedactValue(v any) any {
	out, _ := r.redactValue(v, 0)
	return out
}

// redactMaxDepth bounds the recursion into nested lists and objects.
const redactMaxDepth = 32

func (r *Redactor) redactValue(v any, depth int) (any, bool) {
	if r == nil {
		return v, false
	}
	if depth > redactMaxDepth {
		return Redacted, true // nothing that deep is worth the risk
	}
	switch t := v.(type) {
	case string:
		s := r.Redact(t)
		return s, s != t
	case []string:
		out := r.RedactList(t)
		if len(out) > 0 && &out[0] != &t[0] {
			return out, true
		}
		return t, false
	case []any:
		return r.redactAnyList(t, depth)
	case map[string]any:
		out, changed := r.redactMap(t, depth)
		if !changed {
			return t, false
		}
		return out, true
	case event.Event:
		out, changed := r.redactMap(t, depth)
		if !changed {
			return t, false
		}
		return event.Event(out), true
	}
	return v, false
}

// redactAnyList redacts the strings of t as one argument vector and the
// other values one by one.
func (r *Redactor) redactAnyList(t []any, depth int) (any, bool) {
	var strs []string
	var at []int
	for i, x := range t {
		if s, ok := x.(string); ok {
			strs = append(strs, s)
			at = append(at, i)
		}
	}
	var out []any
	if len(strs) > 0 {
		red := r.RedactList(strs)
		if &red[0] != &strs[0] {
			out = slices.Clone(t)
			for k, i := range at {
				out[i] = red[k]
			}
		}
	}
	for i, x := range t {
		if _, ok := x.(string); ok {
			continue
		}
		if nx, changed := r.redactValue(x, depth+1); changed {
			if out == nil {
				out = slices.Clone(t)
			}
			out[i] = nx
		}
	}
	if out == nil {
		return t, false
	}
	return out, true
}

func (r *Redactor) redactMap(m map[string]any, depth int) (map[string]any, bool) {
	return r.redactFields(m, depth, nil)
}

// redactFields is redactMap, leaving the keys keep says so as they are.
func (r *Redactor) redactFields(m map[string]any, depth int, keep func(string) bool) (map[string]any, bool) {
	var out map[string]any
	for k, x := range m {
		if keep != nil && keep(k) {
			continue
		}
		nk := r.Redact(k)
		var nx any
		changed := nk != k
		if s, ok := x.(string); ok && s != "" && SecretField(k) {
			nx, changed = Redacted, true
		} else {
			var c bool
			nx, c = r.redactValue(x, depth+1)
			changed = changed || c
		}
		if !changed {
			continue
		}
		if out == nil {
			out = maps.Clone(m)
		}
		if nk != k {
			delete(out, k)
		}
		out[nk] = nx
	}
	if out == nil {
		return m, false
	}
	return out, true
}

// RedactEvent returns e with every secret in its keys and string values
// redacted (RedactValue) and true, or e itself and false when it holds
// none. e is never modified: a matched event inside an alert is shared
// with rule state. The event's id and timestamp are left as they are:
// they identify it.
func (r *Redactor) RedactEvent(e event.Event) (event.Event, bool) {
	if r == nil || e == nil {
		return e, false
	}
	out, changed := r.redactFields(e, -1, func(k string) bool { return k == event.FieldID || k == event.FieldTimestamp })
	return out, changed
}

// RedactTriage returns t with the secrets in what its engine wrote from
// log content removed: the summary, the notes, the ATT&CK ids and the
// recommended actions. Every verdict passes through it (Triager.Triage),
// whatever engine answered: the fallback engine quotes events, and a
// model may repeat a secret it inferred or that a redaction missed.
func (r *Redactor) RedactTriage(t Triage) Triage {
	if r == nil {
		return t
	}
	t.Summary = r.Redact(t.Summary)
	t.Notes = r.Redact(t.Notes)
	t.Attack, _ = r.RedactStrings(t.Attack)
	t.RecommendedActions, _ = r.RedactStrings(t.RecommendedActions)
	return t
}

// RedactStrings redacts each of in on its own (sentences or values, not
// an argument vector) and reports whether any changed; in is never
// modified, a change goes into a copy.
func (r *Redactor) RedactStrings(in []string) ([]string, bool) {
	var out []string
	for i, s := range in {
		if red := r.Redact(s); red != s {
			if out == nil {
				out = slices.Clone(in)
			}
			out[i] = red
		}
	}
	if out == nil {
		return in, false
	}
	return out, true
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
