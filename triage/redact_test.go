package triage

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/collectors/parsers/sshd"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/rules"
	"github.com/vigil-siem/vigil/triage/openaitest"
)

// redactShapes are command lines with a password, key or token in a shape
// the redactor must know, the secret, and the context that must survive
// around [REDACTED].
var redactShapes = []struct{ name, in, secret, keep string }{
	{"password: value (YAML, log dumps)", "config dump: db.password: Hunter2Secret, host: db1", "Hunter2Secret", "host: db1"},
	{"Impacket target after the tool", "python3 psexec.py corp/admin:Passw0rdX@10.0.0.5 cmd", "Passw0rdX", "@10.0.0.5 cmd"},
	{"aws configure set", "aws configure set aws_secret_access_key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws_secret_access_key [REDACTED]"},
	{"STS credentials JSON", `{"AccessKeyId":"ASIAXXX","SecretAccessKey":"StsSecretKey0123456789abcd","SessionToken":"IQoJb3JpZ2luX2VjEJr0123456789abcdef"}`, "StsSecretKey0123456789abcd", `"SessionToken":"[REDACTED]"`},
	{"docker login -p", "/usr/bin/docker login -u bob -p DockerSecret2 registry.internal", "DockerSecret2", "-p [REDACTED] registry.internal"},
	{"redis-cli -a", "/usr/bin/redis-cli -a RedisSecret11 -h cache", "RedisSecret11", "-a [REDACTED] -h cache"},
	{"redis URL without user", "redis-cli -u redis://:RedisUrlPw3@cache:6379", "RedisUrlPw3", "redis://:[REDACTED]@cache"},
	{"openssl -passin pass:", "/usr/bin/openssl rsa -in k.pem -passin pass:OpensslSecret6", "OpensslSecret6", "-passin pass:[REDACTED]"},
	{"openssl enc -k", "openssl enc -aes-256-cbc -k OpensslK3y9 -in f -out f.enc", "OpensslK3y9", "-k [REDACTED] -in f"},
	{"openssl passwd", "usermod -p $(openssl passwd -6 -salt xyz OpenPw12) bob", "OpenPw12", "-salt xyz [REDACTED]"},
	{"htpasswd -b", "/usr/bin/htpasswd -b /etc/nginx/.htpasswd bob HtpassSecret4", "HtpassSecret4", "/etc/nginx/.htpasswd bob [REDACTED]"},
	{"htpasswd -c -B -b -C 10", "htpasswd -c -B -b -C 10 /etc/h bob HtpassSecret6", "HtpassSecret6", "/etc/h bob [REDACTED]"},
	{"htpasswd -nbB", "htpasswd -nbB bob HtpassSecret5", "HtpassSecret5", "-nbB bob [REDACTED]"},
	{"smbclient -U user%pass", "/usr/bin/smbclient //fs/share -U bob%SmbSecret8", "SmbSecret8", "-U bob%[REDACTED]"},
	{"useradd -p", "/usr/sbin/useradd -p UseraddSecret21 eve", "UseraddSecret21", "-p [REDACTED] eve"},
	{"passwd --stdin", "/usr/bin/echo NewRootPw77 | /usr/bin/passwd --stdin root", "NewRootPw77", "| /usr/bin/passwd --stdin root"},
	{"chpasswd", "echo 'root:ChpasswdSecret55' | chpasswd", "ChpasswdSecret55", "| chpasswd"},
	{"sudo -S", "echo SudoPw4242 | sudo -S systemctl restart nginx", "SudoPw4242", "| sudo -S systemctl"},
	{"--password-stdin", "printf '%s' RegTok3n99 | docker login -u bob --password-stdin reg", "RegTok3n99", "--password-stdin reg"},
	{"ldapsearch -w", "/usr/bin/ldapsearch -x -D cn=admin -w LdapSecret13 -b dc=x", "LdapSecret13", "-w [REDACTED] -b dc=x"},
	{"sqlcmd -P", "/opt/mssql-tools/bin/sqlcmd -S db -U sa -P SqlcmdSecret41", "SqlcmdSecret41", "-U sa -P [REDACTED]"},
	{"mongosh -p", "mongosh --host db -u admin -p MongoPw55 --authenticationDatabase admin", "MongoPw55", "-p [REDACTED] --auth"},
	{"zip -P", "zip -r -P ZipPw123 out.zip /etc", "ZipPw123", "-P [REDACTED] out.zip"},
	{"7z -p", "7z a -pSevenPw1 -mhe=on out.7z /etc", "SevenPw1", "-p[REDACTED] -mhe=on"},
	{"--password VALUE", "/usr/bin/mysql -u root --password SecretMySpace1 db", "SecretMySpace1", "--password [REDACTED] db"},
	{"--http-password VALUE", "wget --http-user bob --http-password WgetSpacePw1 http://x/f", "WgetSpacePw1", "--http-password [REDACTED] http://x/f"},
	{"plink -pw", "plink -ssh -pw PlinkPw1 root@10.0.0.5", "PlinkPw1", "-pw [REDACTED] root@"},
	{"MYSQL_PWD", "MYSQL_PWD=MysqlEnvPw1 mysql -u root", "MysqlEnvPw1", "MYSQL_PWD=[REDACTED] mysql"},
	{"DB_PASS", "env DB_PASS=DbPassEnv1 ./app", "DbPassEnv1", "DB_PASS=[REDACTED] ./app"},
	{"SSHPASS", "SSHPASS=SshEnvPw1 sshpass -e ssh h", "SshEnvPw1", "SSHPASS=[REDACTED] sshpass"},
	{"REDISCLI_AUTH", "REDISCLI_AUTH=RedisEnvPw1 redis-cli", "RedisEnvPw1", "REDISCLI_AUTH=[REDACTED] redis-cli"},
	{"ODBC PWD", "Driver={ODBC Driver 18};Server=db;UID=sa;PWD=OdbcPw1;", "OdbcPw1", "UID=sa;PWD=[REDACTED];"},
	{"net user", "net user bob NetUserPw9 /add", "NetUserPw9", "net user bob [REDACTED] /add"},
	{"net use", `net use Z: \\fs\share NetUsePw8 /user:CORP\bob`, "NetUsePw8", `\\fs\share [REDACTED] /user:CORP\bob`},
	{"net use /user: first", `net use \\fs\ipc$ /user:CORP\bob NetUsePw7`, "NetUsePw7", `/user:CORP\bob [REDACTED]`},
	{"PowerShell -Password", `New-LocalUser bob -Password (ConvertTo-SecureString "PsPw7!x" -AsPlainText -Force)`, "PsPw7!x", "-Password [REDACTED]"},
	{"ConvertTo-SecureString", `$p = ConvertTo-SecureString 'PsPw8!y' -AsPlainText -Force`, "PsPw8!y", "ConvertTo-SecureString [REDACTED] -AsPlainText"},
	{"Set-ADAccountPassword -NewPassword", `Set-ADAccountPassword bob -Reset -NewPassword 'PsPw9!z'`, "PsPw9!z", "-NewPassword [REDACTED]"},
	{"cmdkey /pass:", "cmdkey /add:srv /user:bob /pass:CmdkeyPw1", "CmdkeyPw1", "/pass:[REDACTED]"},
	{"wmic /password:", "wmic /node:srv /user:bob /password:WmicPw1 process list", "WmicPw1", "/password:[REDACTED] process"},
	{"schtasks /RP", "schtasks /create /tn x /ru bob /rp SchtasksPw1 /tr c.exe", "SchtasksPw1", "/rp [REDACTED] /tr"},
	{"PsExec -p", `PsExec.exe \\srv -u corp\adm -p PsExecPw1 cmd`, "PsExecPw1", "-p [REDACTED] cmd"},
	{"Impacket target", "secretsdump.py corp.local/admin:Imp@cketPw1@10.0.0.1", "Imp@cketPw1", "corp.local/admin:[REDACTED]@10.0.0.1"},
	{"pass the hash", "nxc smb 10.0.0.0/24 -u admin -H 31d6cfe0d16ae931b73c59d7e0c089c0", "31d6cfe0d16ae931b73c59d7e0c089c0", "-H [REDACTED]"},
	{"X-Api-Key header", "/usr/bin/curl -H X-Api-Key: XApiKeyValue12345 http://10.0.0.9/api", "XApiKeyValue12345", "X-Api-Key: [REDACTED] http://10.0.0.9/api"},
	{"quoted and unquoted runs", `app --password "pa ss"Word9 --verbose`, "Word9", "--password [REDACTED] --verbose"},
	{"quote cut by a length cap", `… COMMAND=/usr/bin/backup --password "Secr…`, "Secr", "--password [REDACTED]"},
	{"JSON X-Api-Key", `{"headers": {"X-Api-Key": "XApiJson12345"}}`, "XApiJson12345", `"X-Api-Key": "[REDACTED]"`},
}

func TestRedactorKnowsCommonSecretShapes(t *testing.T) {
	r, err := NewRedactor(RedactConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range redactShapes {
		got := r.Redact(tc.in)
		if strings.Contains(got, tc.secret) {
			t.Errorf("%s: secret left in %q", tc.name, got)
		}
		if !strings.Contains(got, tc.keep) {
			t.Errorf("%s: %q does not keep %q", tc.name, got, tc.keep)
		}
		// The verdict stage redacts text a prompt's redaction already
		// went over: a second pass changes nothing.
		if again := r.Redact(got); again != got {
			t.Errorf("%s: a second pass changed %q to %q", tc.name, got, again)
		}
	}
}

// TestRedactorLeavesLookalikesAlone: what resembles a secret's context
// but is not one stays readable, for the analyst and the model.
func TestRedactorLeavesLookalikesAlone(t *testing.T) {
	r, err := NewRedactor(RedactConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		// sudo logs the working directory as PWD; the shell keeps the
		// previous one in OLDPWD.
		"deploy : TTY=pts/0 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx",
		"env OLDPWD=/root PWD=/srv/app make install",
		"Failed password for root from 203.0.113.7 port 22 ssh2",
		"mysql -u root -p",
		"ssh -p 2222 root@10.0.0.5",
		// user:host-like text in a PsExec alert is no Impacket target
		// unless it follows an Impacket tool.
		"PsExec service started; connection from svc:worker@node-3",
		"principal=corp:alice@dc01 getstatus ok",
		// KEY names that hold no secret.
		"SSH_KEY_PATH=/home/u/.ssh/id_rsa SORT_KEY=name PARTITION_KEY=tenant",
		"invalid token: expired",
		"docker run -u 1000:1000 alpine id",
		"ansible-playbook --ask-pass -i hosts site.yml",
		"psql --no-password -h db app",
		"docker login --password-stdin -u bob registry",
		"TOKENIZERS_PARALLELISM=false SSH_AUTH_SOCK=/tmp/ssh-x/agent.1 python3 x.py",
		"net user bob /add",
		"net user bob * /domain",
		"htpasswd -D /etc/nginx/.htpasswd bob",
	} {
		if got := r.Redact(s); got != s {
			t.Errorf("Redact(%q) = %q, want it unchanged", s, got)
		}
	}
}

// TestRedactListReadsArgumentsInContext: an argument vector splits a
// secret from the option or header that reveals it; each element alone
// looks like nothing.
func TestRedactListReadsArgumentsInContext(t *testing.T) {
	r, err := NewRedactor(RedactConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ in, want []string }{
		{[]string{"/usr/bin/mysql", "-uroot", "-pSecretMy123", "-e", "select"}, []string{"/usr/bin/mysql", "-uroot", "-p[REDACTED]", "-e", "select"}},
		{[]string{"/usr/bin/mysql", "-u", "root", "--password", "SecretMySpace1", "db"}, []string{"/usr/bin/mysql", "-u", "root", "--password", "[REDACTED]", "db"}},
		{[]string{"/usr/bin/curl", "-H", "X-Api-Key:", "XApiKeyValue12345", "http://10.0.0.9/api"}, []string{"/usr/bin/curl", "-H", "X-Api-Key:", "[REDACTED]", "http://10.0.0.9/api"}},
		{[]string{"/usr/bin/curl", "-H", "Authorization:", "Bearer", "BearerTok3nValue987654321", "http://10.0.0.9/api"}, []string{"/usr/bin/curl", "-H", "Authorization:", "Bearer", "[REDACTED]", "http://10.0.0.9/api"}},
		{[]string{"/usr/local/bin/tool", "--token", "VaultTok4nSecret", "run"}, []string{"/usr/local/bin/tool", "--token", "[REDACTED]", "run"}},
		{[]string{"/usr/bin/docker", "login", "-u", "bob", "-p", "DockerSecret2", "registry.internal"}, []string{"/usr/bin/docker", "login", "-u", "bob", "-p", "[REDACTED]", "registry.internal"}},
		{[]string{"/usr/bin/echo", "-----BEGIN", "OPENSSH", "PRIVATE", "KEY-----", "b3BlbnNzaC1rZXktdjEAAAAA", "-----END", "OPENSSH", "PRIVATE", "KEY-----"},
			[]string{"/usr/bin/echo", "[REDACTED]", "[REDACTED]", "[REDACTED]", "[REDACTED]", "[REDACTED]", "[REDACTED]", "[REDACTED]", "[REDACTED]", "[REDACTED]"}},
		{[]string{"a secret", "--password=inline1", "x"}, []string{"a secret", "--password=[REDACTED]", "x"}},
	} {
		in := append([]string(nil), tc.in...)
		got := r.RedactList(in)
		if strings.Join(got, "\x00") != strings.Join(tc.want, "\x00") {
			t.Errorf("RedactList(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if strings.Join(in, "\x00") != strings.Join(tc.in, "\x00") {
			t.Errorf("RedactList modified its input: %q", in)
		}
	}
	clean := []string{"/usr/bin/systemctl", "restart", "nginx"}
	if got := r.RedactList(clean); &got[0] != &clean[0] {
		t.Errorf("a list without secrets was copied")
	}
}

// TestRedactEventNeverModifiesItsInput: the matched events of an alert
// are shared with rule state; redaction works on copies.
func TestRedactEventNeverModifiesItsInput(t *testing.T) {
	r, err := NewRedactor(RedactConfig{})
	if err != nil {
		t.Fatal(err)
	}
	args := []any{"/usr/bin/tool", "--token", "VaultTok4nSecret"}
	nested := map[string]any{"password": "NestedPw1", "user": "bob"}
	e := event.Event{"process.args": args, "http.request.body": nested, "vigil.event_id": "ev-1",
		"process.command_line": "/usr/bin/tool --token VaultTok4nSecret"}
	got, changed := r.RedactEvent(e)
	if !changed {
		t.Fatal("no change reported")
	}
	b, _ := json.Marshal(got)
	for _, s := range []string{"VaultTok4nSecret", "NestedPw1"} {
		if strings.Contains(string(b), s) {
			t.Errorf("%s left in %s", s, b)
		}
	}
	if args[2] != "VaultTok4nSecret" || nested["password"] != "NestedPw1" || e["process.command_line"] != "/usr/bin/tool --token VaultTok4nSecret" {
		t.Errorf("the input event was modified: %v", e)
	}
	if got["vigil.event_id"] != "ev-1" {
		t.Errorf("event id changed: %v", got["vigil.event_id"])
	}
	if same, changed := r.RedactEvent(event.Event{"message": "session opened for user bob"}); changed || same["message"] != "session opened for user bob" {
		t.Errorf("an event without secrets was changed")
	}
}

// reviewSudoLines are sudo log lines with secrets on the command line.
var reviewSudoLines = []string{
	"Dec 13 09:01:00 web-03 sudo:   ops : TTY=pts/1 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/bin/mysql -uroot -pSecretMy123 -e select",
	"Dec 13 09:01:01 web-03 sudo:   ops : TTY=pts/1 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/bin/mysql -u root --password SecretMySpace1 db",
	"Dec 13 09:01:02 web-03 sudo:   ops : TTY=pts/1 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/bin/env PGPASSWORD=PgEnvSecret9 psql -h db",
	"Dec 13 09:01:03 web-03 sudo:   ops : TTY=pts/1 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/bin/psql postgresql://admin:PgUrlSecret7@db.internal/prod",
	"Dec 13 09:01:04 web-03 sudo:   ops : TTY=pts/1 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/bin/curl -u admin:CurlUserPass5 http://10.0.0.9/api",
	"Dec 13 09:01:05 web-03 sudo:   ops : TTY=pts/1 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/bin/curl -H X-Api-Key: XApiKeyValue12345 http://10.0.0.9/api",
	"Dec 13 09:01:06 web-03 sudo:   ops : TTY=pts/1 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/bin/curl -H Authorization: Bearer BearerTok3nValue987654321 http://10.0.0.9/api",
	"Dec 13 09:01:07 web-03 sudo:   ops : TTY=pts/1 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/local/bin/tool --token VaultTok4nSecret run",
	"Dec 13 09:01:08 web-03 sudo:   ops : TTY=pts/1 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/bin/docker login -u bob -p DockerSecret2 registry.internal",
	"Dec 13 09:01:09 web-03 sudo:   ops : TTY=pts/1 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/bin/echo -----BEGIN OPENSSH PRIVATE KEY----- b3BlbnNzaC1rZXktdjEAAAAA -----END OPENSSH PRIVATE KEY-----",
	"Dec 13 09:01:10 web-03 sudo:   ops : TTY=pts/1 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/bin/curl https://api.stripe.com -u sk_live_51AbCdEfGhIjKlMnOpQrStUv:",
	"Dec 13 09:01:11 web-03 sudo:   ops : TTY=pts/1 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/bin/curl https://maps.googleapis.com/x?key=AIzaSyA1234567890abcdefghijklmnopqrstuv",
}

// reviewSecrets are the secrets of reviewSudoLines.
var reviewSecrets = []string{"SecretMy123", "SecretMySpace1", "PgEnvSecret9", "PgUrlSecret7", "CurlUserPass5", "XApiKeyValue12345",
	"BearerTok3nValue987654321", "VaultTok4nSecret", "DockerSecret2", "b3BlbnNzaC1rZXktdjEAAAAA", "sk_live_51AbCdEfGhIjKlMnOpQrStUv",
	"AIzaSyA1234567890abcdefghijklmnopqrstuv"}

// sudoIncident parses lines with the sshd parser and groups one alert per
// event (a rule that flags every sudo command) into one incident about
// user ops.
func sudoIncident(t testing.TB, lines []string) *Incident {
	t.Helper()
	p := sshd.New(sshd.Config{Reference: time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC), Location: time.UTC})
	g := NewGrouper(GrouperConfig{})
	var inc *Incident
	for i, l := range lines {
		e := p.Parse(parsers.Source{Name: "auth.log", Offset: int64(i * 200)}, []byte(l))
		if _, ok := e["process.args"]; !ok {
			t.Fatalf("line %d not parsed as a sudo command: %v", i, e)
		}
		at, _ := e.Time()
		evs := []event.Event{e}
		a := rules.Alert{
			Timestamp: at,
			Event:     rules.AlertEvent{Kind: "alert", Start: at, End: at},
			Rule:      rules.AlertRule{ID: "custom.sudo.any", Name: "Any sudo command"},
			Vigil: rules.AlertVigil{Alert: rules.AlertDetail{
				ID: rules.AlertID("custom.sudo.any", evs), Kind: "match", Severity: "high", RiskScore: 73,
				GroupKeys: []rules.Entity{{Field: "user.name", Value: "ops"}},
				Entity:    rules.Entity{Field: "user.name", Value: "ops"},
				FirstSeen: at, LastSeen: at, EventCount: 1, Events: evs,
			}},
		}
		inc, _ = g.Add(a)
	}
	return inc
}

// TestArgumentSecretsNeverReachTheLLM: process.args carries a command
// line's secrets split into elements; none reaches the API or the
// explain output, and the elements around them do.
func TestArgumentSecretsNeverReachTheLLM(t *testing.T) {
	srv := openaitest.NewServer(t, openaitest.Config{})
	tr := testTriager(t, srv, nil)
	inc := sudoIncident(t, reviewSudoLines)
	// A decoded JSON log names its secrets: the name is the context.
	ev := inc.Alerts[0].Vigil.Alert.Events[0]
	ev["app.config.password"] = "FieldPw123"
	ev["app.request"] = map[string]any{"db": map[string]any{"api_key": "NestedKey456", "host": "db1"}}
	if _, err := tr.Triage(context.Background(), inc); err != nil {
		t.Fatal(err)
	}
	if srv.Calls() != 1 {
		t.Fatalf("%d calls, want 1", srv.Calls())
	}
	raw := string(srv.Requests()[0].Raw)
	prompt, _, err := tr.Explain(inc)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range append([]string{"FieldPw123", "NestedKey456"}, reviewSecrets...) {
		if strings.Contains(raw, s) {
			t.Errorf("%s reached the API", s)
		}
		if strings.Contains(prompt, s) {
			t.Errorf("%s is in the explain output", s)
		}
	}
	for _, keep := range []string{`"--password","[REDACTED]","db"`, `"-H","X-Api-Key:","[REDACTED]","http://10.0.0.9/api"`, `"--token","[REDACTED]","run"`, `"-p","[REDACTED]","registry.internal"`} {
		if !strings.Contains(prompt, keep) {
			t.Errorf("the prompt's process.args lack %s", keep)
		}
	}
}

// TestPromptKeepsSudosWorkingDirectory: PWD in a sudo line is the
// working directory, evidence for the analyst, not a password.
func TestPromptKeepsSudosWorkingDirectory(t *testing.T) {
	inc := sudoIncident(t, reviewSudoLines[2:3])
	_, user, err := BuildPrompt(inc)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(user, "PWD=/home/deploy ; USER=root") {
		t.Errorf("the working directory was redacted from message and event.original:\n%s", user)
	}
	if strings.Contains(user, "PgEnvSecret9") || !strings.Contains(user, "PGPASSWORD=[REDACTED]") {
		t.Errorf("PGPASSWORD not redacted:\n%s", user)
	}
}

// TestFallbackVerdictsAreRedacted: the fallback engine quotes the events
// it judged in its summary and notes; the verdict leaves Triage without
// their secrets.
func TestFallbackVerdictsAreRedacted(t *testing.T) {
	tr, err := NewTriager(Config{Engine: EngineFallback, CacheSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	inc := sudoIncident(t, reviewSudoLines)
	got, err := tr.Triage(context.Background(), inc)
	if err != nil {
		t.Fatal(err)
	}
	text := got.Summary + "\n" + got.Notes + "\n" + strings.Join(got.RecommendedActions, "\n")
	for _, s := range reviewSecrets {
		if strings.Contains(text, s) {
			t.Errorf("%s is in the fallback verdict", s)
		}
	}
	if !strings.Contains(text, "-p[REDACTED]") || !strings.Contains(text, "PWD=/home/deploy") {
		t.Errorf("the verdict lost its evidence instead of only the secrets:\n%s", text)
	}
	// The context store (the next prompt's history) has the redacted one.
	for _, h := range tr.Store().History(inc.Entity) {
		if strings.Contains(h.Summary, "SecretMy123") {
			t.Errorf("the remembered verdict keeps a secret: %s", h.Summary)
		}
	}
}

// TestLLMAnswersAreRedacted: a model may repeat a secret (one a
// redaction missed, or that it reconstructed); the verdict does not.
func TestLLMAnswersAreRedacted(t *testing.T) {
	var ans map[string]any
	if err := json.Unmarshal([]byte(openaitest.ValidAnswer), &ans); err != nil {
		t.Fatal(err)
	}
	ans["summary"] = "root ran mysql -uroot -pEchoedPw12345 on web-1."
	ans["notes"] = "## What happened\n\nThe attacker exported `PGPASSWORD=EchoedPg9876` and used ghp_abcdefghijklmnopqrstuvwxyz0123456789."
	ans["recommended_actions"] = []any{"Rotate the password passed as mysql -pEchoedPw12345"}
	b, _ := json.Marshal(ans)
	srv := openaitest.NewServer(t, openaitest.Config{})
	srv.SetResponder(func(openaitest.Request) openaitest.Reply { return openaitest.Reply{Content: string(b)} })
	tr := testTriager(t, srv, nil)
	got, err := tr.Triage(context.Background(), llmIncident("203.0.113.9", llmBaseTime, ""))
	if err != nil {
		t.Fatal(err)
	}
	if got.Engine == "fallback" {
		t.Fatalf("the answer was not accepted: %v %s", got.Flags, got.Notes)
	}
	text := got.Summary + got.Notes + strings.Join(got.RecommendedActions, " ")
	for _, s := range []string{"EchoedPw12345", "EchoedPg9876", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"} {
		if strings.Contains(text, s) {
			t.Errorf("%s is in the verdict", s)
		}
	}
	if !strings.Contains(got.Notes, "`PGPASSWORD=[REDACTED]`") {
		t.Errorf("notes %q: want the Markdown code span kept around [REDACTED]", got.Notes)
	}
}

// FuzzRedactor: a second pass changes nothing (verdicts are redacted
// again after the prompt was); an argument vector keeps its length, the
// input is never modified, and an item with a secret of its own is
// always redacted, whatever its neighbours.
func FuzzRedactor(f *testing.F) {
	for _, tc := range redactShapes {
		f.Add(tc.in)
	}
	for _, l := range reviewSudoLines {
		f.Add(l)
	}
	r, err := NewRedactor(RedactConfig{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		red := r.Redact(s)
		if again := r.Redact(red); again != red {
			t.Fatalf("Redact(%q) = %q, and again %q", s, red, again)
		}
		in := strings.Fields(s)
		keep := strings.Join(in, "\x00")
		out := r.RedactList(in)
		if len(out) != len(in) {
			t.Fatalf("RedactList(%q): %d items, want %d", in, len(out), len(in))
		}
		if strings.Join(in, "\x00") != keep {
			t.Fatalf("RedactList modified its input")
		}
		for i := range in {
			if r.Redact(in[i]) != in[i] && out[i] == in[i] {
				t.Fatalf("RedactList(%q): item %d %q kept the secret Redact finds in it alone", in, i, in[i])
			}
		}
	})
}

// A field whose name says it holds a secret, in any spelling a log uses,
// is a secret whatever its value looks like (CloudTrail's decoded
// credentials carry no pattern the text rules know).
func TestSecretFieldNames(t *testing.T) {
	for name, want := range map[string]bool{
		"sessionToken": true, "secretAccessKey": true, "accessToken": true, "clientSecret": true,
		"db_password": true, "user-password": true, "response_elements.credentials.sessionToken": true, "api_key": true,
		"accessKeyId": false, "sort_key": false, "ssh_key_path": false, "pwd": false, "tokenizer": false, "user.name": false,
	} {
		if got := SecretField(name); got != want {
			t.Errorf("SecretField(%q) = %v, want %v", name, got, want)
		}
	}
}
