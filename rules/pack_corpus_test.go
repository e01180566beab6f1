package rules_test

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/collectors/parsers/access"
	"github.com/vigil-siem/vigil/collectors/parsers/cloudtrail"
	"github.com/vigil-siem/vigil/collectors/parsers/k8saudit"
	"github.com/vigil-siem/vigil/collectors/parsers/sshd"
	"github.com/vigil-siem/vigil/collectors/parsers/suricata"
	"github.com/vigil-siem/vigil/collectors/parsers/windows"
	"github.com/vigil-siem/vigil/collectors/parsers/zeek"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/internal/corpus"
	"github.com/vigil-siem/vigil/rules"
)

// The pack's own tests: every rule's tests pass, every stateful rule has a
// positive and a negative test, and the pack lints clean.
func TestPackEveryRuleTested(t *testing.T) {
	results := rules.RunTests(rules.Pack(), ".")
	var out bytes.Buffer
	if failed := rules.WriteTestResults(&out, results, false); failed > 0 {
		t.Fatalf("%d pack rule tests failed:\n%s", failed, out.String())
	}
	compiled, errs := rules.LoadFS(rules.Pack(), ".")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if len(compiled) < 40 {
		t.Fatalf("the pack has %d rules, want at least 40", len(compiled))
	}
	for _, c := range compiled {
		pos, neg := 0, 0
		for _, tc := range c.Rule.Tests {
			if tc.Expect.Count != nil && *tc.Expect.Count == 0 {
				neg++
			} else {
				pos++
			}
		}
		if pos == 0 {
			t.Errorf("%s: no positive test", c.Rule.ID)
		}
		if c.Rule.IsStateful() && neg == 0 {
			t.Errorf("%s (%s): no negative test", c.Rule.ID, c.Rule.Kind)
		}
		if !strings.HasPrefix(c.Rule.ID, "vigil.") {
			t.Errorf("%s: id outside vigil.*", c.Rule.ID)
		}
		if c.Rule.Where == "" {
			t.Errorf("%s: no where", c.Rule.ID)
		}
		hasTechnique := slices.ContainsFunc(c.Rule.Tags, func(s string) bool { return strings.HasPrefix(s, "attack.t") })
		if !hasTechnique && !strings.HasPrefix(c.Rule.ID, "vigil.suricata.") {
			t.Errorf("%s: no ATT&CK technique tag", c.Rule.ID)
		}
	}
	for _, f := range rules.Lint(rules.Pack(), ".") {
		t.Errorf("lint: %s", f)
	}
}

// lineParser is the line-by-line shape of the format parsers.
type lineParser interface {
	Parse(src parsers.Source, line []byte) event.Event
}

// parseLines parses data line by line (nil results, such as Zeek headers,
// are skipped) and fails the test on flagged events.
func parseLines(t *testing.T, name string, data []byte, p lineParser) []event.Event {
	t.Helper()
	var evs []event.Event
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 16<<20)
	var off int64
	for sc.Scan() {
		line := sc.Bytes()
		if e := p.Parse(parsers.Source{Name: name, Offset: off}, line); e != nil {
			evs = append(evs, e)
		}
		off += int64(len(line)) + 1
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return evs
}

// parseDocument parses a whole file with a parser's ParseDocument.
func parseDocument(t *testing.T, name string, data []byte, parse func(string, *bytes.Reader, func(event.Event) error) error) []event.Event {
	t.Helper()
	var evs []event.Event
	if err := parse(name, bytes.NewReader(data), func(e event.Event) error {
		evs = append(evs, e)
		return nil
	}); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return evs
}

// scan runs the whole pack over events sorted by event time (the OTRF
// and Zeek files are not in time order) and returns the alerts by rule.
func scan(t *testing.T, evs []event.Event) map[string][]rules.Alert {
	t.Helper()
	compiled, errs := rules.LoadFS(rules.Pack(), ".")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	sort.SliceStable(evs, func(i, j int) bool {
		a, _ := evs[i].Time()
		b, _ := evs[j].Time()
		return a.Before(b)
	})
	engine := rules.NewEngine(compiled, rules.EngineConfig{})
	// A suppressed alert is emitted again with its count and the same id:
	// keep one alert per id.
	var all []rules.Alert
	for _, e := range evs {
		all = append(all, engine.Process(e)...)
	}
	all = append(all, engine.Flush()...)
	seen := map[string]bool{}
	out := map[string][]rules.Alert{}
	for _, a := range all {
		if !seen[a.Vigil.Alert.ID] {
			seen[a.Vigil.Alert.ID] = true
			out[a.Rule.ID] = append(out[a.Rule.ID], a)
		}
	}
	return out
}

func ruleIDs(alerts map[string][]rules.Alert) []string {
	var ids []string
	for id := range alerts {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func entities(alerts []rules.Alert) map[string]bool {
	m := map[string]bool{}
	for _, a := range alerts {
		for _, k := range a.Vigil.Alert.GroupKeys {
			m[k.Value] = true
		}
	}
	return m
}

// OTRF Security-Datasets: each Windows attack raises its pack rule.
func TestPackOnOTRFWindowsAttacks(t *testing.T) {
	dir := filepath.Join(corpus.Dir(t), "otrf-security-datasets", "windows")
	cases := []struct {
		glob  string
		rules []string
	}{
		{"credential_access/host/psh_lsass_memory_dump_comsvcs_*.json", []string{"vigil.windows.comsvcs_minidump", "vigil.windows.lsass_access", "vigil.windows.lsass_dump_file"}},
		{"credential_access/host/cmd_lsass_memory_dumpert_syscalls_*.json", []string{"vigil.windows.lsass_access", "vigil.windows.lsass_dump_tool", "vigil.windows.lsass_dump_file"}},
		{"credential_access/host/cmd_psexec_lsa_secrets_dump_*.json", []string{"vigil.windows.psexec_service", "vigil.windows.registry_hive_dump", "vigil.windows.service_installed"}},
		{"credential_access/host/cmd_sam_copy_esentutl_*.json", []string{"vigil.windows.esentutl_sensitive_copy"}},
		{"credential_access/host/empire_shell_reg_dump_sam_*.json", []string{"vigil.windows.registry_hive_dump"}},
		{"lateral_movement/host/schtask_create_*.json", []string{"vigil.windows.remote_scheduled_task"}},
	}
	for _, c := range cases {
		t.Run(filepath.Base(c.glob), func(t *testing.T) {
			files, _ := filepath.Glob(filepath.Join(dir, c.glob))
			if len(files) != 1 {
				t.Skipf("%s: %d files", c.glob, len(files))
			}
			data, err := os.ReadFile(files[0])
			if err != nil {
				t.Fatal(err)
			}
			p := windows.New(windows.Config{Location: time.UTC})
			alerts := scan(t, parseDocument(t, files[0], data, func(n string, r *bytes.Reader, emit func(event.Event) error) error {
				return p.ParseDocument(n, r, emit)
			}))
			for _, id := range c.rules {
				if len(alerts[id]) == 0 {
					t.Errorf("%s did not fire; fired: %v", id, ruleIDs(alerts))
				}
			}
			// Each process is logged twice (Sysmon 1, Security 4688): the
			// process rules must alert once per process.
			if n := len(alerts["vigil.windows.comsvcs_minidump"]); n > 1 {
				t.Errorf("comsvcs MiniDump: %d alerts for one process", n)
			}
		})
	}
}

// Stratus Red Team detonations: each technique raises its pack rule, and
// nothing fires on the benign ones it should not.
func TestPackOnStratusCloudTrail(t *testing.T) {
	dir := filepath.Join(corpus.Dir(t), "stratus-red-team", "detonation-logs")
	cases := []struct {
		file  string
		rules []string
	}{
		{"aws.defense-evasion.cloudtrail-stop.json", []string{"vigil.aws.cloudtrail_stopped"}},
		{"aws.defense-evasion.cloudtrail-delete.json", []string{"vigil.aws.cloudtrail_stopped"}},
		{"aws.defense-evasion.cloudtrail-event-selectors.json", []string{"vigil.aws.cloudtrail_event_selectors"}},
		{"aws.initial-access.console-login-without-mfa.json", []string{"vigil.aws.console_login_without_mfa"}},
		// Its three calls share one second, which CloudTrail does not
		// order (AttachUserPolicy comes first in the file):
		// vigil.aws.new_admin_user counts them in either order.
		{"aws.persistence.iam-create-admin-user.json", []string{"vigil.aws.access_key_for_other_user", "vigil.aws.admin_policy_attached", "vigil.aws.new_admin_user"}},
		{"aws.persistence.iam-backdoor-user.json", []string{"vigil.aws.access_key_for_other_user"}},
		{"aws.credential-access.ec2-get-password-data.json", []string{"vigil.aws.get_password_data_burst"}},
		{"aws.credential-access.secretsmanager-retrieve-secrets.json", []string{"vigil.aws.secrets_retrieval_burst"}},
		{"aws.defense-evasion.vpc-remove-flow-logs.json", []string{"vigil.aws.vpc_flow_logs_deleted"}},
		{"aws.exfiltration.ec2-security-group-open-port-22-ingress.json", []string{"vigil.aws.security_group_open_to_world"}},
		{"aws.exfiltration.ec2-share-ebs-snapshot.json", []string{"vigil.aws.snapshot_or_image_shared"}},
		{"aws.exfiltration.ec2-share-ami.json", []string{"vigil.aws.snapshot_or_image_shared"}},
		{"aws.exfiltration.rds-share-snapshot.json", []string{"vigil.aws.snapshot_or_image_shared"}},
		// Negatives: a few secrets, one refused burst of another API.
		{"aws.credential-access.secretsmanager-batch-retrieve-secrets.json", nil},
		{"aws.discovery.ec2-download-user-data.json", nil},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, c.file))
			if err != nil {
				t.Skip(err)
			}
			p := cloudtrail.New(cloudtrail.Config{})
			alerts := scan(t, parseDocument(t, c.file, data, func(n string, r *bytes.Reader, emit func(event.Event) error) error {
				return p.ParseDocument(n, r, emit)
			}))
			for _, id := range c.rules {
				if len(alerts[id]) == 0 {
					t.Errorf("%s did not fire; fired: %v", id, ruleIDs(alerts))
				}
			}
			if c.rules == nil && len(alerts) > 0 {
				t.Errorf("want no alert, got %v", ruleIDs(alerts))
			}
			if c.file == "aws.credential-access.ec2-get-password-data.json" && len(alerts["vigil.aws.get_password_data_burst"]) != 1 {
				t.Errorf("30 GetPasswordData in one burst: %d alerts, want 1 (suppressed)", len(alerts["vigil.aws.get_password_data_burst"]))
			}
		})
	}
}

// Falco's k8s audit trace files, against falco_k8s_audit_tests.yaml's
// expected results.
func TestPackOnFalcoK8sAudit(t *testing.T) {
	dir := filepath.Join(corpus.Dir(t), "k8s-audit-falco", "trace_files")
	cases := []struct {
		file string
		rule string // "" = none of the k8s rules below may fire
	}{
		{"create_nginx_pod_privileged.json", "vigil.k8s.privileged_pod"},
		{"create_nginx_pod_privileged_2nd_container.json", "vigil.k8s.privileged_pod"},
		{"create_nginx_pod_no_secctx_1st_container_privileged_2nd_container.json", "vigil.k8s.privileged_pod"},
		{"create_nginx_pod_hostnetwork.json", "vigil.k8s.hostnetwork_pod"},
		{"exec_pod.json", "vigil.k8s.pod_exec_attach"},
		{"attach_pod.json", "vigil.k8s.pod_exec_attach"},
		{"attach_cluster_admin_role.json", "vigil.k8s.cluster_admin_binding"},
		{"anonymous_creates_namespace_foo.json", "vigil.k8s.anonymous_request_allowed"},
		{"create_nginx_pod_sensitive_mount.json", "vigil.k8s.sensitive_hostpath_mount"},
		{"create_nginx_service_nodeport.json", "vigil.k8s.nodeport_service"},
		{"create_nginx_pod_unprivileged.json", ""},
		{"create_nginx_pod_nohostnetwork.json", ""},
		{"create_nginx_pod_unsensitive_mount.json", ""},
		{"create_kube_system_secret.json", ""},
		{"create_nginx_service_nonodeport.json", ""},
		{"fal_01_003.json", ""},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, c.file))
			if err != nil {
				t.Skip(err)
			}
			alerts := scan(t, parseLines(t, c.file, data, k8saudit.New(k8saudit.Config{})))
			if c.rule != "" {
				// Falco expects exactly one detection per file.
				if n := len(alerts[c.rule]); n != 1 {
					t.Errorf("%s: %d alerts, want 1; fired: %v", c.rule, n, ruleIDs(alerts))
				}
				return
			}
			if len(alerts) > 0 {
				t.Errorf("want no alert, got %v", ruleIDs(alerts))
			}
		})
	}
}

// Zeek WRCCDC 2018: remote service creation and task registration over
// DCE-RPC, NTLM spraying, mass RDP.
func TestPackOnZeek(t *testing.T) {
	dir := filepath.Join(corpus.Dir(t), "zeek-wrccdc2018", "tsv")
	read := func(t *testing.T, name string) []event.Event {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Skip(err)
		}
		return parseLines(t, name, data, zeek.New(zeek.Config{}))
	}
	t.Run("dce_rpc", func(t *testing.T) {
		alerts := scan(t, read(t, "dce_rpc.log"))
		got := entities(alerts["vigil.zeek.dce_rpc_remote_execution"])
		for _, ip := range []string{"10.128.0.214", "10.150.0.20", "10.128.0.233"} {
			if !got[ip] {
				t.Errorf("remote service/task creation from %s not flagged", ip)
			}
		}
		for _, a := range alerts["vigil.zeek.dce_rpc_remote_execution"] {
			if src := a.Vigil.Alert.GroupKeys[0].Value; !slices.Contains([]string{"10.128.0.214", "10.150.0.20", "10.128.0.233"}, src) {
				t.Errorf("unexpected source %s", src)
			}
		}
	})
	t.Run("ntlm", func(t *testing.T) {
		alerts := scan(t, read(t, "ntlm.log"))
		if !entities(alerts["vigil.zeek.ntlm_spraying"])["10.150.0.20"] {
			t.Errorf("10.150.0.20's NTLM spraying not flagged; fired: %v", ruleIDs(alerts))
		}
	})
	t.Run("rdp", func(t *testing.T) {
		alerts := scan(t, read(t, "rdp.log"))
		got := entities(alerts["vigil.zeek.rdp_mass_connections"])
		if !got["10.164.94.120"] || len(got) != 1 {
			t.Errorf("mass RDP: flagged %v, want only 10.164.94.120", got)
		}
	})
}

// Suricata EVE: the corpus holds severity 2 and 3 alerts only.
func TestPackOnSuricata(t *testing.T) {
	root := filepath.Join(corpus.Dir(t), "suricata-eve")
	for _, c := range []struct {
		file   string
		medium int
	}{{"surevego_eve.json", 0}, {"tenzir_ctu_malware_eve.json", 1}, {"beats_eve-6.0.log", 1}} {
		t.Run(c.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(root, c.file))
			if err != nil {
				t.Skip(err)
			}
			alerts := scan(t, parseLines(t, c.file, data, suricata.New(suricata.Config{})))
			if n := len(alerts["vigil.suricata.medium_severity_alert"]); n != c.medium {
				t.Errorf("%d severity-2 alerts, want %d", n, c.medium)
			}
			if n := len(alerts["vigil.suricata.high_severity_alert"]); n != 0 {
				t.Errorf("%d severity-1 alerts, want 0", n)
			}
		})
	}
}

// loghub OpenSSH_2k: every source with 10+ failures flagged, no brute
// force followed by success, the spraying source found.
func TestPackOnOpenSSH(t *testing.T) {
	data := corpus.Read(t, "loghub/OpenSSH_2k.log")
	p := sshd.New(sshd.Config{Reference: time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC), Location: time.UTC})
	alerts := scan(t, parseLines(t, "OpenSSH_2k.log", data, p))
	bf := entities(alerts["vigil.ssh.brute_force"])
	for _, ip := range []string{"183.62.140.253", "187.141.143.180", "103.99.0.122", "112.95.230.3", "5.188.10.180", "185.190.58.151"} {
		if !bf[ip] {
			t.Errorf("brute force from %s not flagged", ip)
		}
	}
	if n := len(alerts["vigil.ssh.brute_force_success"]); n != 0 {
		t.Errorf("%d brute-force-then-success alerts, want 0", n)
	}
	if !entities(alerts["vigil.linux.password_spraying"])["187.141.143.180"] {
		t.Errorf("187.141.143.180 (28 user names in 7 minutes) not flagged as spraying")
	}
	if entities(alerts["vigil.ssh.root_login"])["119.137.62.142"] {
		t.Errorf("fztu's login flagged as a root login")
	}
}

// loghub Linux_2k: every remote host with ten or more PAM failures within
// five minutes is flagged, those PAM logs by name too (SOURCES.md's
// table), and no failure is followed by a success.
func TestPackOnLinuxPAM(t *testing.T) {
	data := corpus.Read(t, "loghub/Linux_2k.log")
	p := sshd.New(sshd.Config{Reference: time.Date(2005, 12, 31, 0, 0, 0, 0, time.UTC), Location: time.UTC})
	alerts := scan(t, parseLines(t, "Linux_2k.log", data, p))
	flagged := entities(alerts["vigil.linux.pam_brute_force"])
	for k := range entities(alerts["vigil.linux.pam_brute_force_hostname"]) {
		flagged[k] = true
	}
	for _, rhost := range []string{"150.183.249.110", "n219076184117.netvigator.com", "207.243.167.114", "60.30.224.116", "195.129.24.210"} {
		if !flagged[rhost] {
			t.Errorf("PAM brute force from %s not flagged", rhost)
		}
	}
	if n := len(alerts["vigil.ssh.brute_force_success"]); n != 0 {
		t.Errorf("%d brute-force-then-success alerts, want 0", n)
	}
}

// Web access logs: the w3af scanner is flagged; the real Apache log of
// semicomplete.com raises no injection alert.
func TestPackOnWebLogs(t *testing.T) {
	t.Run("w3af", func(t *testing.T) {
		data := corpus.Read(t, "web-access-logs/ocatak-apache-http-logs/w3af.txt")
		alerts := scan(t, parseLines(t, "w3af.txt", data, access.New(access.Config{})))
		for _, id := range []string{"vigil.web.scanner_user_agent", "vigil.web.404_burst"} {
			got := entities(alerts[id])
			if !got["192.168.4.163"] {
				t.Errorf("%s: scanner 192.168.4.163 not flagged (flagged %v)", id, got)
			}
			if got["192.168.4.25"] {
				t.Errorf("%s: the browser 192.168.4.25 flagged", id)
			}
		}
	})
	t.Run("apache_logs", func(t *testing.T) {
		data := corpus.Read(t, "web-access-logs/elastic-examples/apache_logs")
		alerts := scan(t, parseLines(t, "apache_logs", data, access.New(access.Config{})))
		for _, id := range []string{"vigil.web.sql_injection", "vigil.web.xss", "vigil.web.path_traversal", "vigil.web.log4shell", "vigil.web.scanner_user_agent"} {
			for _, a := range alerts[id] {
				t.Errorf("%s on a benign log: %v", id, a.Vigil.Alert.Entity)
			}
		}
	})
}
