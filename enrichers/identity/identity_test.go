package identity

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-siem/vigil/event"
)

func TestDirectory(t *testing.T) {
	e, err := New(Config{Files: []string{"testdata/users.csv", "testdata/users.yaml"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		user string
		want map[string]any // nil: absent
	}{
		{"CSV user", "alice", map[string]any{"user.full_name": "Alice Example", "user.email": "alice@corp.example",
			FieldDepartment: "Engineering", FieldPrivileged: false, "user.roles": nil}},
		{"privileged yes", "deploy", map[string]any{FieldPrivileged: true, "user.full_name": "Deploy Bot"}},
		{"YAML user, name case differs", "bob", map[string]any{"user.full_name": "Bob Example", FieldDepartment: "Finance"}},
		{"DOMAIN\\user", `CORP\admin`, map[string]any{FieldPrivileged: true, "user.full_name": "Admin Account"}},
		{"user@domain", "alice@other.example", map[string]any{"user.full_name": "Alice Example"}},
		{"unknown user", "mallory", map[string]any{"user.full_name": nil, FieldPrivileged: nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := event.Event{"user.name": tt.user}
			if err := e.Enrich(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
			for k, want := range tt.want {
				got, has := ev[k]
				if want == nil && has || want != nil && got != want {
					t.Errorf("%s = %v, want %v", k, got, want)
				}
			}
		})
	}
	ev := event.Event{"user.name": "admin", "user.full_name": "From the log"}
	_ = e.Enrich(context.Background(), ev)
	if ev["user.full_name"] != "From the log" {
		t.Errorf("a name the collector set was overwritten: %v", ev["user.full_name"])
	}
	if g, _ := ev["user.group.name"].([]any); !slices.Equal(g, []any{"wheel", "sudo"}) {
		t.Errorf("groups = %v", ev["user.group.name"])
	}
	if r, _ := ev["user.roles"].([]any); !slices.Equal(r, []any{"domain_admin"}) {
		t.Errorf("roles = %v", ev["user.roles"])
	}
	if m := e.User("root").Map(); m["privileged"] != true || m["department"] != "IT" {
		t.Errorf("Map = %v", m)
	}
}

func TestBadDirectory(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "u.csv")
	if err := os.WriteFile(p, []byte("name,privileged\nbob,maybe\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Files: []string{p}}); err == nil || !strings.Contains(err.Error(), "u.csv:2: privileged \"maybe\" is not true or false") {
		t.Errorf("error %v", err)
	}
	q := filepath.Join(dir, "v.csv")
	if err := os.WriteFile(q, []byte("email\nx@y\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Files: []string{q}}); err == nil || !strings.Contains(err.Error(), "v.csv:2: a user needs a name") {
		t.Errorf("error %v", err)
	}
}
