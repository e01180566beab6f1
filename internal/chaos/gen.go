package chaos

import (
	"bufio"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// GenConfig says what a Generator produces.
type GenConfig struct {
	// Events is how many records to produce in all (at least 1000),
	// malformed ones included.
	Events int
	// Seed makes the output reproducible: one seed, one sequence of records.
	Seed uint64
	// AttackEvery is how many records come, on average, between two
	// attacks (default 4000).
	AttackEvery int
	// MalformedEvery is how many records come, on average, between two
	// malformed ones (default 5000).
	MalformedEvery int
}

// Record is one generated log record: a line of File (an index into
// Files), stamped At in event time. Records come in event-time order.
type Record struct {
	File int
	Line string
	At   time.Time
}

// File is one generated log file: its name and the parser format that reads it.
type File struct {
	Name   string
	Format string
}

// Files returns the files a Generator writes to, in the order Record.File
// indexes them: OpenSSH auth.log (two, with hosts of their own), Apache
// combined access logs (two), Windows events as JSON lines, CloudTrail
// records as JSON lines. The entities of an attack are in one file, so a
// file read in order shows each entity's records in order.
func Files() []File {
	return []File{
		{"auth-a.log", "sshd"}, {"auth-b.log", "sshd"},
		{"access-a.log", "access"}, {"access-b.log", "access"},
		{"windows.jsonl", "windows"}, {"cloudtrail.jsonl", "cloudtrail"},
	}
}

// Start returns the event time of the first generated record.
func Start() time.Time { return time.Date(2025, time.December, 10, 0, 0, 0, 0, time.UTC) }

// Generator produces log records in the formats of the shared corpus with
// attacks mixed into benign traffic and some malformed records, all on one
// event-time clock.
type Generator struct {
	cfg                 GenConfig
	r                   *mrand.Rand
	now                 time.Time
	queue               []Record
	produced            int
	pMalformed, pAttack float64
	seq                 int
	files               []File
	// Malformed counts the records produced to be unparseable: each must
	// come out of the pipeline as a flagged event, not vanish.
	Malformed int
	// Attacks counts the attack scenarios produced, by kind.
	Attacks map[string]int
}

// NewGenerator returns a Generator for cfg, zero values set to defaults.
func NewGenerator(cfg GenConfig) *Generator {
	if cfg.Events < 1000 {
		cfg.Events = 1000
	}
	if cfg.AttackEvery <= 0 {
		cfg.AttackEvery = 4000
	}
	if cfg.MalformedEvery <= 0 {
		cfg.MalformedEvery = 5000
	}
	return &Generator{cfg: cfg, r: mrand.New(mrand.NewPCG(cfg.Seed, cfg.Seed^0x5bd1e995)), now: Start(), files: Files(),
		pMalformed: 1 / float64(cfg.MalformedEvery), pAttack: 1 / float64(cfg.AttackEvery), Attacks: map[string]int{}}
}

// Now is the event time of the last record produced.
func (g *Generator) Now() time.Time { return g.now }

// Next returns the next record; ok is false once Events records were produced.
func (g *Generator) Next() (rec Record, ok bool) {
	for len(g.queue) == 0 {
		if g.produced >= g.cfg.Events {
			return Record{}, false
		}
		g.fill()
	}
	rec, g.queue = g.queue[0], g.queue[1:]
	g.produced++
	return rec, true
}

// Tick returns perFile benign records for every file, from time at on
// (at must not be before Now), with entities picked at random. Appended
// after the replay (once Next returned false), they move the event time of
// every Kafka partition and every re-key partition on, so that windows
// close and reorder buffers release their events.
func (g *Generator) Tick(at time.Time, perFile int) []Record {
	g.now = at
	for fi := range g.files {
		for i := 0; i < perFile; i++ {
			g.benign(fi)
		}
	}
	out := g.queue
	g.queue = nil
	return out
}

// emit queues one line of file fi after advancing the clock by between
// min and max.
func (g *Generator) emit(fi int, min, max time.Duration, line func(t time.Time) string) {
	g.now = g.now.Add(min + time.Duration(g.r.Int64N(int64(max-min)+1)))
	g.queue = append(g.queue, Record{File: fi, Line: line(g.now), At: g.now})
}

// fill queues one benign record, one malformed record or one attack.
func (g *Generator) fill() {
	fi := pickFile(g.r)
	u := g.r.Float64()
	switch {
	case u < g.pMalformed:
		g.Malformed++
		g.emit(fi, 0, benignStep, func(time.Time) string { return malformed(g.files[fi].Format, g.r) })
	case u < g.pMalformed+g.pAttack:
		g.seq++
		g.Attacks[g.attack(fi, fi*1_000_000+g.seq)]++
	default:
		g.benign(fi)
	}
}

// benignStep is the most event time between two benign records: 5ms on
// average, so that event time moves slowly against the replay rate and a
// small allowed lateness covers the skew between inputs.
const benignStep = 10 * time.Millisecond

// pickFile picks a file: 20% each sshd file, 15% each of the others.
func pickFile(r *mrand.Rand) int {
	x := r.IntN(100)
	switch {
	case x < 40:
		return x / 20
	default:
		return 2 + (x-40)/15
	}
}

func (g *Generator) benign(fi int) {
	r := g.r
	switch g.files[fi].Format {
	case "sshd":
		g.emit(fi, 0, benignStep, func(t time.Time) string { return sshBenign(t, sshHost(fi, r), r) })
	case "access":
		g.emit(fi, 0, benignStep, func(t time.Time) string { return webBenign(t, r) })
	case "windows":
		g.emit(fi, 0, benignStep, func(t time.Time) string { return winBenign(t, winHost(r), r) })
	default:
		g.emit(fi, 0, benignStep, func(t time.Time) string { return ctBenign(t, r) })
	}
}

// attack queues the records of one attack in file fi and returns its kind.
// Records of one entity are at least a second apart, so equal timestamps
// never decide their order.
func (g *Generator) attack(fi, seq int) string {
	r := g.r
	ip := attackerIP(seq)
	switch g.files[fi].Format {
	case "sshd":
		// Twelve failed passwords from one address against one host, then
		// a successful login (vigil.ssh.brute_force, ..._success).
		h := sshHost(fi, r)
		for i := 0; i < 12; i++ {
			g.emit(fi, time.Second, 3*time.Second, func(t time.Time) string {
				return fmt.Sprintf("%s %s sshd[%d]: Failed password for invalid user admin from %s port %d ssh2", syslogTime(t), h, 20000+i, ip, 40000+i)
			})
		}
		g.emit(fi, time.Second, 3*time.Second, func(t time.Time) string {
			return fmt.Sprintf("%s %s sshd[%d]: Accepted password for deploy from %s port %d ssh2", syslogTime(t), h, 30000, ip, 45000)
		})
		return "ssh_bruteforce_success"
	case "access":
		// A Nikto scan: forty 404s within two minutes from one address
		// (vigil.web.scanner_user_agent, vigil.web.404_burst).
		for i := 0; i < 40; i++ {
			g.emit(fi, time.Second, 2*time.Second, func(t time.Time) string {
				return fmt.Sprintf(`%s - - [%s] "GET /admin/backup-%d.zip HTTP/1.1" 404 196 "-" "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:%06d)"`,
					ip, accessTime(t), i, i)
			})
		}
		return "web_scan"
	case "windows":
		// procdump opens lsass.exe with PROCESS_ALL_ACCESS (Sysmon 10,
		// vigil.windows.lsass_access).
		h := winHost(r)
		g.emit(fi, time.Second, 2*time.Second, func(t time.Time) string {
			return fmt.Sprintf(`{"EventID":10,"Channel":"Microsoft-Windows-Sysmon/Operational","Hostname":"%s","SourceName":"Microsoft-Windows-Sysmon","TimeCreated":"%s","SourceProcessId":"%d","SourceImage":"C:\\Users\\Public\\procdump%d.exe","TargetImage":"C:\\Windows\\system32\\lsass.exe","TargetProcessId":"652","GrantedAccess":"0x1fffff","CallTrace":"C:\\Windows\\SYSTEM32\\ntdll.dll+9d4c4"}`,
				h, winTime(t), 4000+seq%50000, seq)
		})
		return "lsass_dump"
	default:
		// A user stops the trail (vigil.aws.cloudtrail_stopped).
		g.emit(fi, time.Second, 2*time.Second, func(t time.Time) string {
			return ctRecord(t, fmt.Sprintf("intruder%d", seq), "cloudtrail.amazonaws.com", "StopLogging", ip, r)
		})
		return "cloudtrail_stop"
	}
}

// malformed returns a record its format's parser cannot read. JSON ones
// balance their braces, so that line and document readers both see one
// bad record.
func malformed(format string, r *mrand.Rand) string {
	switch format {
	case "sshd":
		return fmt.Sprintf("<garbage %d> not a syslog line at all", r.IntN(1000000))
	case "access":
		return fmt.Sprintf("\x16\x03\x01 TLS bytes %d", r.IntN(1000000))
	default:
		return fmt.Sprintf(`{"EventID": broken %d, "eventName": }`, r.IntN(1000000))
	}
}

// WriteFiles writes every record of g into Files under dir and returns
// the paths, indexed like Files.
func WriteFiles(dir string, g *Generator) ([]string, error) {
	files := Files()
	paths := make([]string, len(files))
	ws := make([]*bufio.Writer, len(files))
	fs := make([]*os.File, len(files))
	for i, f := range files {
		paths[i] = filepath.Join(dir, f.Name)
		out, err := os.Create(paths[i])
		if err != nil {
			return nil, fmt.Errorf("chaos: create %s: %w", paths[i], err)
		}
		defer out.Close()
		fs[i], ws[i] = out, bufio.NewWriterSize(out, 1<<20)
	}
	for {
		rec, ok := g.Next()
		if !ok {
			break
		}
		ws[rec.File].WriteString(rec.Line)
		ws[rec.File].WriteByte('\n')
	}
	for i, w := range ws {
		if err := w.Flush(); err != nil {
			return nil, fmt.Errorf("chaos: write %s: %w", paths[i], err)
		}
		if err := fs[i].Close(); err != nil {
			return nil, fmt.Errorf("chaos: close %s: %w", paths[i], err)
		}
	}
	return paths, nil
}

func sshHost(fi int, r *mrand.Rand) string {
	return fmt.Sprintf("ssh-%c-%02d", 'a'+fi, 1+r.IntN(20))
}

func winHost(r *mrand.Rand) string { return fmt.Sprintf("WS-%02d", 1+r.IntN(30)) }

// attackerIP returns a distinct address per attack sequence number, in
// 100.64.0.0/10 (shared address space: never a real attacker).
func attackerIP(seq int) string {
	d := seq%254 + 1
	seq /= 254
	return fmt.Sprintf("100.%d.%d.%d", 64+(seq/256)%64, seq%256, d)
}

var users = []string{"alice", "bob", "carol", "dave", "erin", "frank"}

func pick[T any](r *mrand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// --- OpenSSH auth.log (loghub OpenSSH / Linux format) ---

func syslogTime(t time.Time) string { return t.Format("Jan _2 15:04:05") }

func sshBenign(t time.Time, h string, r *mrand.Rand) string {
	pid := 1000 + r.IntN(60000)
	ip := fmt.Sprintf("10.%d.%d.%d", r.IntN(4), r.IntN(256), 1+r.IntN(254))
	switch r.IntN(5) {
	case 0:
		return fmt.Sprintf("%s %s sshd[%d]: Accepted publickey for %s from %s port %d ssh2: ED25519 SHA256:pEhKmBv+N/6WdEk5JDbmz2AyxDKBY6zs8Mj/Hb/kmXg",
			syslogTime(t), h, pid, pick(r, users), ip, 1024+r.IntN(60000))
	case 1:
		return fmt.Sprintf("%s %s sshd[%d]: pam_unix(sshd:session): session opened for user %s(uid=1000) by (uid=0)", syslogTime(t), h, pid, pick(r, users))
	case 2:
		return fmt.Sprintf("%s %s sshd[%d]: Received disconnect from %s port %d:11: disconnected by user", syslogTime(t), h, pid, ip, 1024+r.IntN(60000))
	case 3:
		return fmt.Sprintf("%s %s CRON[%d]: pam_unix(cron:session): session opened for user www-data(uid=33) by (uid=0)", syslogTime(t), h, pid)
	default:
		return fmt.Sprintf("%s %s CRON[%d]: pam_unix(cron:session): session closed for user www-data", syslogTime(t), h, pid)
	}
}

// --- Apache combined access log ---

func accessTime(t time.Time) string { return t.Format("02/Jan/2006:15:04:05 -0700") }

var pages = []string{"/", "/index.html", "/about", "/products?id=42", "/static/app.js", "/static/style.css", "/img/logo.png", "/login"}

func webBenign(t time.Time, r *mrand.Rand) string {
	status := 200
	if r.IntN(50) == 0 {
		status = 404
	}
	return fmt.Sprintf(`192.0.2.%d - - [%s] "GET %s HTTP/1.1" %d %d "-" "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"`,
		1+r.IntN(254), accessTime(t), pick(r, pages), status, 200+r.IntN(20000))
}

// --- Windows events, flat JSON lines (OTRF Security-Datasets shape) ---

func winTime(t time.Time) string { return t.Format("2006-01-02T15:04:05.000Z") }

func winBenign(t time.Time, h string, r *mrand.Rand) string {
	if r.IntN(2) == 0 {
		return fmt.Sprintf(`{"EventID":4624,"Channel":"Security","Hostname":"%s","SourceName":"Microsoft-Windows-Security-Auditing","TimeCreated":"%s","TargetUserName":"%s","TargetDomainName":"CORP","LogonType":"3","IpAddress":"10.1.%d.%d","IpPort":"0","LogonProcessName":"Kerberos"}`,
			h, winTime(t), pick(r, users), r.IntN(256), 1+r.IntN(254))
	}
	return fmt.Sprintf(`{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Hostname":"%s","SourceName":"Microsoft-Windows-Sysmon","TimeCreated":"%s","ProcessId":"%d","Image":"C:\\Windows\\System32\\notepad.exe","CommandLine":"notepad.exe C:\\Users\\%s\\notes.txt","ParentImage":"C:\\Windows\\explorer.exe","User":"CORP\\%s"}`,
		h, winTime(t), 1000+r.IntN(60000), pick(r, users), pick(r, users))
}

// --- CloudTrail records, JSON lines ---

var ctCalls = []struct{ source, name string }{
	{"s3.amazonaws.com", "ListBuckets"}, {"ec2.amazonaws.com", "DescribeInstances"},
	{"sts.amazonaws.com", "GetCallerIdentity"}, {"iam.amazonaws.com", "ListRoles"},
	{"cloudtrail.amazonaws.com", "DescribeTrails"},
}

func ctRecord(t time.Time, user, source, name, ip string, r *mrand.Rand) string {
	return fmt.Sprintf(`{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE%s","arn":"arn:aws:iam::123456789012:user/%s","accountId":"123456789012","userName":"%s"},"eventTime":"%s","eventSource":"%s","eventName":"%s","awsRegion":"us-east-1","sourceIPAddress":"%s","userAgent":"aws-cli/2.15.0","requestParameters":null,"responseElements":null,"eventID":"%08x-0000-4000-8000-%012x","eventType":"AwsApiCall","recipientAccountId":"123456789012"}`,
		strings.ToUpper(user), user, user, t.Format(time.RFC3339), source, name, ip, r.Uint32(), r.Uint64()&0xffffffffffff)
}

func ctBenign(t time.Time, r *mrand.Rand) string {
	c := pick(r, ctCalls)
	return ctRecord(t, pick(r, users), c.source, c.name, fmt.Sprintf("198.51.100.%d", 1+r.IntN(254)), r)
}

// CalmBurst writes one SSH brute force that succeeds, from the address of
// sequence number seq against host, timed from at: the calm phase of the
// chaos test appends these to a followed file to measure latency. It
// returns the event time after the burst.
func CalmBurst(w io.Writer, host string, seq int, at time.Time) (time.Time, error) {
	ip := attackerIP(seq)
	var b strings.Builder
	for i := 0; i < 10; i++ {
		fmt.Fprintf(&b, "%s %s sshd[%d]: Failed password for invalid user admin from %s port %d ssh2\n", syslogTime(at), host, 20000+i, ip, 40000+i)
		at = at.Add(time.Second)
	}
	fmt.Fprintf(&b, "%s %s sshd[%d]: Accepted password for deploy from %s port %d ssh2\n", syslogTime(at), host, 30000, ip, 45000)
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return at, fmt.Errorf("chaos: write a calm burst: %w", err)
	}
	return at.Add(time.Second), nil
}
