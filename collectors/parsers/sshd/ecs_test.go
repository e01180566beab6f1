package sshd

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/internal/corpus"
	"github.com/vigil-siem/vigil/internal/ecscheck"

	"github.com/vigil-siem/vigil/event"
)

// TestEventsAreValidECS parses every auth line of the corpus and the demo
// scenario and checks each field against ECS: it exists (outside vigil.*),
// its value fits the field's type, and the categorization values are
// allowed, with event.type expected for the event.category.
func TestEventsAreValidECS(t *testing.T) {
	dir := corpus.Dir(t)
	ref := time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)
	var events []event.Event
	for _, name := range []string{
		"loghub/OpenSSH_2k.log", "loghub/Linux_2k.log",
		"elastic-integrations-auth/test-auth.log", "elastic-integrations-auth/test-secure-rhel7.log",
	} {
		events = append(events, parseFile(t, filepath.Join(dir, filepath.FromSlash(name)), ref)...)
	}
	events = append(events, parseFile(t, filepath.Join("..", "..", "..", "testdata", "scenarios", "ssh-bruteforce", "auth.log"), ref)...)
	for _, line := range []string{ // shapes the files above lack
		"Dec 10 10:00:00 web-01 su[99]: (to root) alice on pts/0",
		"Dec 10 10:00:00 web-01 su[99]: FAILED su for root by mallory",
		"Dec 10 10:00:00 web-01 usermod[3131]: add 'deploy' to group 'sudo'",
		"Dec 10 10:00:00 web-01 userdel[3131]: delete user 'deploy'",
		"Dec 10 10:00:00 web-01 passwd[3131]: pam_unix(passwd:chauthtok): password changed for deploy",
		"Dec 10 10:00:00 web-01 sudo[3]: bob : TTY=pts/0 ; PWD=/home/bob ; USER=postgres ; GROUP=adm ; COMMAND=/bin/ls",
		"Dec 10 10:00:00 web-01 sshd[3]: Disconnecting invalid user admin 203.0.113.45 port 5022: Too many authentication failures [preauth]",
		"",
	} {
		events = append(events, parseOne(line))
	}
	ecscheck.Check(t, events)
}
