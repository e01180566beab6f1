package triage

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/vigil-siem/vigil/event"
)

// FallbackName is what triage.engine records for the fallback engine.
const FallbackName = "fallback"

// Fallback judges incidents without an LLM: it scores the facts in the
// incident's alerts (severity, failed and successful logins per source,
// privilege use after a login, where the sources are) and writes the same
// summary, notes and actions an analyst would, listing every factor that
// led to the verdict. The same incident always gets the same Triage.
type Fallback struct {
	lookup EntityLookup
}

// FallbackConfig configures the fallback engine.
type FallbackConfig struct {
	// Lookup, when set, tells what the enrichers know about the
	// incident's entities (threat-intelligence matches, asset criticality,
	// privileged accounts) besides the enrichment on its events.
	Lookup EntityLookup
}

// NewFallback returns the deterministic fallback engine, reading only the
// enrichment on the incident's events.
func NewFallback() *Fallback { return &Fallback{} }

// NewFallbackWith returns the deterministic fallback engine configured by cfg.
func NewFallbackWith(cfg FallbackConfig) *Fallback { return &Fallback{lookup: cfg.Lookup} }

// Name returns "fallback".
func (*Fallback) Name() string { return FallbackName }

// Verdict thresholds on the summed factor points.
const (
	scoreMalicious  = 1.0
	scoreSuspicious = 0.35
	scoreBenign     = -0.2
)

// Timeline and evidence sizes in the notes.
const (
	timelineAll  = 12 // list every event up to this many
	timelineEdge = 5  // else the first and last this many
	evidenceEach = 5  // events per kind of evidence
	listNames    = 5  // names in one summary list
	maxTextLen   = 200
)

// Triage judges inc. It never modifies inc and fails only when inc is nil
// or ctx is done.
func (f *Fallback) Triage(ctx context.Context, inc *Incident) (Triage, error) {
	t, _, err := f.judge(ctx, inc)
	return t, err
}

// judge is Triage, also returning the one fact that settled the verdict
// (the summary's "Decisive fact"), which the guard quotes when the
// evidence overrules a model.
func (f *Fallback) judge(ctx context.Context, inc *Incident) (Triage, string, error) {
	if err := ctx.Err(); err != nil {
		return Triage{}, "", fmt.Errorf("fallback triage: %w", err)
	}
	if inc == nil {
		return Triage{}, "", errors.New("fallback triage: nil incident")
	}
	an := analyze(inc)
	an.context = entityEnrichment(ctx, inc, f.lookup).facts()
	factors := an.factors()
	score := 0.0
	for _, fc := range factors {
		score += fc.points
	}
	score = math.Round(score*100) / 100
	verdict, conf, sev := an.decide(score)
	actions := an.actions(verdict)
	t := Triage{
		Verdict:            verdict,
		Confidence:         conf,
		Severity:           sev,
		Summary:            an.summary(verdict),
		Attack:             an.techniques(),
		RecommendedActions: actions,
		Engine:             FallbackName,
	}
	t.Notes = an.notes(t, factors, score)
	return t, an.decisive(verdict), nil
}

// item is one event of the incident with what the analysis found it to be.
type item struct {
	ev     event.Event
	at     time.Time
	id     string
	rule   string
	order  int
	class  string // see the class* constants
	src    string
	user   string
	host   string
	repeat int
}

// Event classes.
const (
	classAuthFailure = "failed login"
	classAuthSuccess = "successful login"
	classPrivilege   = "privilege use"
	classPrivDenied  = "privilege use denied"
	classOther       = "event"
)

// compromise is a successful login that followed failures.
type compromise struct {
	success   *item
	failures  int  // failures from the same source before it
	sameSrc   bool // false: the failures were for the user from other sources
	firstFail *item
}

type analysis struct {
	inc   *Incident
	items []*item
	kept  int // alerts kept in the incident

	failures  []*item
	failCount int // with repeats
	// failRepresented is failCount plus the failed logins estimated in
	// the alerts suppression held back (each suppressed alert counted as
	// one more like the alert it was counted on); failExtra holds those
	// estimates per event.action.
	failRepresented int
	failExtra       map[string]int
	// suppressedKept is how much of inc.SuppressedCount is on the alerts
	// kept, whose events the estimate is made from.
	suppressedKept int
	successes      []*item
	compromises    []compromise
	privAfter      []*item // privilege use by a compromised user or on its host after the login
	privDenied     []*item
	privileged     []*item
	rootLogins     []*item // successful logins of a privileged account from a public address
	failSources    []string
	failUsers      []string
	publicSrc      []string
	internalSrc    []string
	unparsedSrc    []string
	sequences      int
	matchesOnly    bool
	maxSeverity    int
	compromised    []string // users
	compromHosts   []string
	context        contextFacts // enrichment of the entities
}

func analyze(inc *Incident) *analysis {
	an := &analysis{inc: inc, kept: len(inc.Alerts), matchesOnly: true}
	an.maxSeverity = severityRank(normSeverity(inc.Severity))
	seen := make(map[string]bool)
	order := 0
	for ai := range inc.Alerts {
		a := &inc.Alerts[ai]
		an.maxSeverity = max(an.maxSeverity, severityRank(normSeverity(a.Vigil.Alert.Severity)))
		switch a.Vigil.Alert.Kind {
		case "sequence":
			an.sequences++
			an.matchesOnly = false
		case "match":
		default:
			an.matchesOnly = false
		}
		_, alertLast := alertSpan(*a)
		if n := a.Vigil.Alert.SuppressedCount; n > 0 {
			an.suppressedKept += n
			for _, e := range a.Vigil.Alert.Events {
				if classify(e) != classAuthFailure {
					continue
				}
				if an.failExtra == nil {
					an.failExtra = map[string]int{}
				}
				repeat := 1
				if r, ok := intValue(e[event.FieldRepeat]); ok && r > 1 {
					repeat = r
				}
				an.failExtra[e.String("event.action")] += n * repeat
			}
		}
		for _, e := range a.Vigil.Alert.Events {
			order++
			id := e.ID()
			if id != "" {
				if seen[id] {
					continue
				}
				seen[id] = true
			}
			it := &item{ev: e, id: id, rule: a.Rule.ID, order: order, repeat: 1}
			if t, ok := e.Time(); ok {
				it.at = t
			} else {
				it.at = alertLast
			}
			it.src = fieldString(e, "source.ip")
			if it.src == "" {
				for _, k := range a.Vigil.Alert.GroupKeys {
					if k.Field == "source.ip" {
						it.src = k.Value
					}
				}
			}
			it.user = fieldString(e, "user.name")
			it.host = fieldString(e, "host.name")
			if n, ok := intValue(e[event.FieldRepeat]); ok && n > 1 {
				it.repeat = n
			}
			it.class = classify(e)
			an.items = append(an.items, it)
		}
	}
	if len(inc.Alerts) == 0 {
		// Only the rule summaries are known.
		an.matchesOnly = len(inc.Rules) > 0
		for _, r := range inc.Rules {
			an.matchesOnly = an.matchesOnly && r.Kind == "match"
		}
	}
	slices.SortStableFunc(an.items, func(x, y *item) int {
		if c := x.at.Compare(y.at); c != 0 {
			return c
		}
		return cmp.Compare(x.order, y.order)
	})
	an.correlate()
	return an
}

// correlate walks the events in time order, pairing successful logins with
// the failures before them and privilege use with the logins before it.
func (an *analysis) correlate() {
	// One password attempt is often logged several times (sshd's "Failed
	// password", PAM's "authentication failure", "Invalid user"): failures
	// are counted per event.action, and the largest count stands for the
	// attempts.
	perAction := attemptCounter{}
	failBySrc := map[string]int{}
	firstFailBySrc := map[string]*item{}
	failByUser := map[string]int{}
	firstFailByUser := map[string]*item{}
	compromisedUser := map[string]bool{}
	compromisedHost := map[string]bool{}
	var srcs, fsrcs, fusers []string
	for _, it := range an.items {
		if it.src != "" {
			srcs = append(srcs, it.src)
		}
		switch it.class {
		case classAuthFailure:
			an.failures = append(an.failures, it)
			action := it.ev.String("event.action")
			an.failCount = max(an.failCount, perAction.add("", action, it.repeat))
			if it.src != "" {
				failBySrc[it.src] = max(failBySrc[it.src], perAction.add("src\x00"+it.src, action, it.repeat))
				if firstFailBySrc[it.src] == nil {
					firstFailBySrc[it.src] = it
				}
				fsrcs = append(fsrcs, it.src)
			}
			if it.user != "" {
				failByUser[it.user] = max(failByUser[it.user], perAction.add("user\x00"+it.user, action, it.repeat))
				if firstFailByUser[it.user] == nil {
					firstFailByUser[it.user] = it
				}
				fusers = append(fusers, it.user)
			}
		case classAuthSuccess:
			an.successes = append(an.successes, it)
			switch {
			case it.src != "" && failBySrc[it.src] > 0:
				an.compromises = append(an.compromises, compromise{success: it, failures: failBySrc[it.src], sameSrc: true, firstFail: firstFailBySrc[it.src]})
			case it.user != "" && failByUser[it.user] > 0:
				an.compromises = append(an.compromises, compromise{success: it, failures: failByUser[it.user], firstFail: firstFailByUser[it.user]})
			}
			if n := len(an.compromises); n > 0 && an.compromises[n-1].success == it {
				if it.user != "" {
					compromisedUser[it.user] = true
				}
				if it.host != "" {
					compromisedHost[it.host] = true
				}
			}
			if isPrivilegedAccount(it.user) && isPublic(it.src) {
				an.rootLogins = append(an.rootLogins, it)
			}
		case classPrivilege, classPrivDenied:
			if it.class == classPrivDenied {
				an.privDenied = append(an.privDenied, it)
			} else {
				an.privileged = append(an.privileged, it)
			}
			if compromisedUser[it.user] || (it.user == "" && compromisedHost[it.host]) {
				an.privAfter = append(an.privAfter, it)
			}
		}
	}
	for _, s := range sortedUnique(srcs) {
		if addr, err := netip.ParseAddr(s); err != nil {
			an.unparsedSrc = append(an.unparsedSrc, s)
		} else if isInternal(addr) {
			an.internalSrc = append(an.internalSrc, s)
		} else {
			an.publicSrc = append(an.publicSrc, s)
		}
	}
	an.failRepresented = an.failCount
	for action, extra := range an.failExtra {
		an.failRepresented = max(an.failRepresented, perAction.add("", action, 0)+extra)
	}
	an.failSources = sortedUnique(fsrcs)
	an.failUsers = sortedUnique(fusers)
	for u := range compromisedUser {
		an.compromised = append(an.compromised, u)
	}
	slices.Sort(an.compromised)
	for h := range compromisedHost {
		an.compromHosts = append(an.compromHosts, h)
	}
	slices.Sort(an.compromHosts)
}

// factor is one reason for the verdict and its weight.
type factor struct {
	points float64
	text   string
}

func (an *analysis) factors() []factor {
	var fs []factor
	add := func(p float64, format string, args ...any) {
		fs = append(fs, factor{points: p, text: fmt.Sprintf(format, args...)})
	}
	sev := "unknown"
	if an.maxSeverity >= 0 {
		sev = Severities[an.maxSeverity]
	}
	add([]float64{0.05, 0.15, 0.25, 0.35, 0}[indexOr(an.maxSeverity, 4)],
		"Highest alert severity is %s (%s from %d rule(s)).", sev, an.alertsText(), len(an.inc.Rules))

	if len(an.compromises) > 0 {
		c := an.compromises[0]
		if c.sameSrc {
			add(0.45, "Successful login as %s from %s at %s after %d failed login(s) from the same source (decisive).",
				plain(c.success.user), plain(c.success.src), stamp(c.success.at), c.failures)
		} else {
			add(0.3, "Successful login as %s from %s at %s after %d failed login(s) for that user from other sources.",
				plain(c.success.user), plain(c.success.src), stamp(c.success.at), c.failures)
		}
	}
	switch n := an.failRepresented; {
	case n >= 10:
		add(0.25, "%s from %s: brute-force volume.", an.failText("failed logins"), joinPlain(an.failSources, "an unknown source"))
	case n >= 3:
		add(0.1, "%s from %s.", an.failText("failed logins"), joinPlain(an.failSources, "an unknown source"))
	case n > 0:
		add(0.05, "%s from %s.", an.failText("failed login(s)"), joinPlain(an.failSources, "an unknown source"))
	}
	if n := an.inc.SuppressedCount; n > 0 {
		add(0.05, "Suppression held back %d more alert(s) (%s): the activity went on beyond the alerts shown.", n, suppressedList(an.inc.Rules))
	}
	if len(an.failUsers) >= 5 {
		add(0.1, "%d different accounts were tried (%s): password guessing or spraying.", len(an.failUsers), joinPlain(an.failUsers, ""))
	}
	if len(an.privAfter) > 0 {
		it := an.privAfter[0]
		add(0.2, "%d privilege-use event(s) by %s after the login (first at %s: %s).",
			len(an.privAfter), plain(orDash(it.user)), stamp(it.at), plain(describe(it)))
	}
	if len(an.privDenied) > 0 {
		it := an.privDenied[0]
		add(0.2, "%d denied privilege-use attempt(s) (first by %s on %s at %s).",
			len(an.privDenied), plain(orDash(it.user)), plain(orDash(it.host)), stamp(it.at))
	}
	if len(an.rootLogins) > 0 {
		it := an.rootLogins[0]
		add(0.15, "Privileged account %s logged in from public address %s.", plain(it.user), plain(it.src))
	}
	if an.sequences > 0 {
		add(0.1, "%d sequence alert(s): a multi-step pattern matched in order.", an.sequences)
	}
	if c := an.context; len(c.intel) > 0 {
		add(0.25, "Threat intelligence lists %s.", joinPlain(c.intel, ""))
	}
	if c := an.context; len(c.critical)+len(c.privileged) > 0 {
		var what []string
		if len(c.critical) > 0 {
			what = append(what, "asset(s) of high criticality "+joinPlain(c.critical, ""))
		}
		if len(c.privileged) > 0 {
			what = append(what, "privileged account(s) "+joinPlain(c.privileged, ""))
		}
		add(0.1, "Involves %s.", strings.Join(what, " and "))
	}
	if n := an.inc.Represented(); n >= 100 {
		add(0.05, "Alert volume: %s for this entity.", an.alertsText())
	}
	switch {
	case len(an.publicSrc) > 0:
		add(0.1, "Activity from public address(es): %s.", joinPlain(an.publicSrc, ""))
	case len(an.unparsedSrc) > 0:
		add(0.05, "Activity from unresolved source name(s): %s.", joinPlain(an.unparsedSrc, ""))
	case len(an.internalSrc) > 0:
		add(-0.2, "All sources are internal addresses (%s).", joinPlain(an.internalSrc, ""))
	}
	if an.failCount == 0 && len(an.privDenied) == 0 && len(an.successes) > 0 {
		add(-0.15, "Only successful activity: %d successful login(s) and no failures.", len(an.successes))
	}
	if an.matchesOnly && an.maxSeverity == 0 {
		add(-0.1, "Only low-severity single-event (match) alerts.")
	}
	return fs
}

// decide turns the score into a verdict, a confidence and a severity. A
// successful login after failures from the same source is malicious
// whatever the sum.
func (an *analysis) decide(score float64) (verdict string, confidence float64, severity string) {
	incSev := max(an.maxSeverity, 0)
	sameSrc := false
	for _, c := range an.compromises {
		sameSrc = sameSrc || c.sameSrc
	}
	switch {
	case sameSrc || score >= scoreMalicious:
		sev := max(incSev, 2)
		if len(an.privAfter) > 0 {
			sev = 3
		}
		return Malicious, clamp(0.85+0.2*(score-scoreMalicious), 0.85, 0.97), Severities[sev]
	case score >= scoreSuspicious:
		return Suspicious, clamp(0.65+0.3*(score-scoreSuspicious), 0.55, 0.85), Severities[min(max(incSev, 1), 2)]
	case score <= scoreBenign && an.failCount == 0 && len(an.privDenied) == 0 &&
		len(an.compromises) == 0 && len(an.publicSrc) == 0 && an.maxSeverity <= 0:
		return Benign, clamp(0.6+(scoreBenign-score), 0.55, 0.85), Severities[0]
	default:
		return Inconclusive, 0.5, Severities[incSev]
	}
}

// actions lists what a responder should do, most urgent first.
func (an *analysis) actions(verdict string) []string {
	var acts []string
	hosts := an.compromHosts
	if len(hosts) == 0 {
		hosts = an.inc.Hosts
	}
	onHosts := ""
	if len(hosts) > 0 {
		onHosts = " on " + joinPlain(hosts, "")
	}
	var blockSrc []string
	for _, s := range an.failSources {
		if !isInternalString(s) {
			blockSrc = append(blockSrc, s)
		}
	}
	for _, c := range an.compromises {
		if !isInternalString(c.success.src) && c.success.src != "" {
			blockSrc = append(blockSrc, c.success.src)
		}
	}
	blockSrc = sortedUnique(blockSrc)

	switch verdict {
	case Malicious:
		if len(blockSrc) > 0 {
			acts = append(acts, "Block source IP "+joinPlain(blockSrc, "")+" at the firewall and in sshd (e.g. fail2ban).")
		}
		for _, u := range an.compromised {
			acts = append(acts, "Reset the password of "+plain(u)+" and disable the account until it is cleared.")
			acts = append(acts, "Review the sessions and sudo commands of "+plain(u)+onHosts+" since the login (last, journalctl, auth.log, shell history).")
		}
		if len(an.compromised) == 0 && len(an.inc.Users) > 0 {
			acts = append(acts, "Review the sessions and sudo commands of "+joinPlain(an.inc.Users, "")+onHosts+".")
		}
		acts = append(acts, "Check"+onHosts+" for persistence: authorized_keys, new accounts, cron jobs, systemd units, changed binaries.")
		if len(blockSrc) > 0 {
			acts = append(acts, "Search all hosts for logins from "+joinPlain(blockSrc, "")+" and isolate any host it reached.")
		}
	case Suspicious:
		if len(blockSrc) > 0 {
			acts = append(acts, "Block source IP "+joinPlain(blockSrc, "")+" at the firewall and in sshd (e.g. fail2ban).")
		}
		for _, c := range firstN(an.compromises, 3) {
			acts = append(acts, "Verify with "+plain(orDash(c.success.user))+" that the login from "+plain(orDash(c.success.src))+" at "+stamp(c.success.at)+
				" was theirs; if not, reset the password and disable the account.")
		}
		if len(an.failUsers) > 0 && len(an.compromises) == 0 {
			acts = append(acts, "Confirm no successful login followed for "+joinPlain(an.failUsers, "")+" from "+joinPlain(an.failSources, "these sources")+".")
		}
		if an.failCount > 0 {
			acts = append(acts, "Harden SSH"+onHosts+": disable password and root login, allow keys only.")
		}
		for _, it := range firstN(an.privDenied, 3) {
			acts = append(acts, "Ask "+plain(orDash(it.user))+" whether the privilege-use attempt on "+plain(orDash(it.host))+" was expected; review their shell history.")
		}
		if len(an.rootLogins) > 0 {
			acts = append(acts, "Verify the root login from "+plain(an.rootLogins[0].src)+" with the system owner; restrict root login to internal addresses.")
		}
		if len(acts) == 0 {
			acts = append(acts, "Review the alerts' events for "+plain(an.inc.Entity.String())+" and correlate with its other activity in the window.")
		}
	case Benign:
		acts = append(acts, "No action needed; confirm with the owner of "+joinPlain(an.inc.Users, "the account")+" that this activity was expected.")
		acts = append(acts, "If this is routine, tune the rule(s) "+joinPlain(ruleIDs(an.inc), "")+" to exclude it.")
	default:
		acts = append(acts, "Review the alerts' events for "+plain(an.inc.Entity.String())+" and correlate with its other activity in the window.")
		if len(an.publicSrc) > 0 {
			acts = append(acts, "Check the reputation of "+joinPlain(an.publicSrc, "")+" and whether it is a known partner or admin address.")
		}
		if len(an.inc.Users) > 0 {
			acts = append(acts, "Confirm with "+joinPlain(an.inc.Users, "")+" that the activity was theirs.")
		}
	}
	return acts
}

func (an *analysis) summary(verdict string) string {
	inc := an.inc
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s raised %s from %d rule(s) (%s) between %s and %s (%s).",
		verdictTitle(verdict), plain(inc.Entity.String()), an.alertsText(), len(inc.Rules), ruleList(inc.Rules),
		stamp(inc.FirstSeen), stamp(inc.LastSeen), span(inc.FirstSeen, inc.LastSeen))
	if an.failCount > 0 {
		fmt.Fprintf(&b, " %s from %s against %s", an.failText("failed login(s)"),
			joinPlain(an.failSources, "an unknown source"), joinPlain(an.failUsers, "unnamed accounts"))
		if an.kept < inc.AlertCount {
			fmt.Fprintf(&b, " (counted in the %d alerts kept of %d)", an.kept, inc.AlertCount)
		}
		b.WriteString(".")
	}
	if len(an.successes) > 0 {
		fmt.Fprintf(&b, " %d successful login(s).", len(an.successes))
	}
	if len(an.privileged)+len(an.privDenied) > 0 {
		fmt.Fprintf(&b, " %d privilege-use event(s), %d denied.", len(an.privileged)+len(an.privDenied), len(an.privDenied))
	}
	fmt.Fprintf(&b, " Users: %s. Hosts: %s.", joinPlain(inc.Users, "none recorded"), joinPlain(inc.Hosts, "none recorded"))
	fmt.Fprintf(&b, " Decisive fact: %s", an.decisive(verdict))
	return b.String()
}

// alertsText is "N alert(s)", with the alerts suppression held back when
// there are any.
func (an *analysis) alertsText() string {
	inc := an.inc
	if inc.SuppressedCount <= 0 {
		return fmt.Sprintf("%d alert(s)", inc.AlertCount)
	}
	return fmt.Sprintf("%d alert(s) and %d more held back by suppression", inc.AlertCount, inc.SuppressedCount)
}

// failText is "N <noun>": the failed logins in the events, or the
// estimate with the suppressed alerts, saying how much was seen.
func (an *analysis) failText(noun string) string {
	if an.failRepresented <= an.failCount {
		return fmt.Sprintf("%d %s", an.failCount, noun)
	}
	return fmt.Sprintf("≈%d %s (%d in the alerts' events, ≈%d more in the alerts suppression held back)",
		an.failRepresented, noun, an.failCount, an.failRepresented-an.failCount)
}

// suppressedList lists the rules with suppressed alerts: "id +n".
func suppressedList(rs []RuleSummary) string {
	var parts []string
	for _, r := range rs {
		if r.Suppressed > 0 {
			parts = append(parts, fmt.Sprintf("%s +%d", plain(r.ID), r.Suppressed))
		}
	}
	return strings.Join(parts, ", ")
}

// decisive is the one fact that settled the verdict.
func (an *analysis) decisive(verdict string) string {
	switch {
	case len(an.compromises) > 0:
		c := an.compromises[0]
		s := fmt.Sprintf("%s logged in successfully from %s at %s after %d failed login(s)",
			plain(orDash(c.success.user)), plain(orDash(c.success.src)), stamp(c.success.at), c.failures)
		if c.sameSrc {
			s += " from the same source"
		} else {
			s += " for that user from other sources"
		}
		if len(an.privAfter) > 0 {
			s += fmt.Sprintf(", then used privileges (%s)", plain(describe(an.privAfter[0])))
		}
		return s + "."
	case verdict == Benign:
		return "only successful activity from internal addresses, no failures, low severity."
	case an.failCount > 0:
		return "failed logins without any successful login from the same source."
	case len(an.privDenied) > 0:
		return fmt.Sprintf("%s was denied privilege use on %s.", plain(orDash(an.privDenied[0].user)), plain(orDash(an.privDenied[0].host)))
	case len(an.rootLogins) > 0:
		return fmt.Sprintf("privileged account %s logged in from public address %s.", plain(an.rootLogins[0].user), plain(an.rootLogins[0].src))
	case len(an.privileged) > 0:
		it := an.privileged[0]
		return fmt.Sprintf("%s used privileges on %s (%s) with no login failure or compromise seen; whether that was expected is for an analyst to confirm.",
			plain(orDash(it.user)), plain(orDash(it.host)), plain(describe(it)))
	default:
		return "the alerts' severity; the events show no login failure, compromise or privilege use."
	}
}

func (an *analysis) notes(t Triage, factors []factor, score float64) string {
	inc := an.inc
	var b strings.Builder
	b.WriteString("## What happened\n\n")
	b.WriteString(t.Summary)
	b.WriteString("\n\nRules:\n\n")
	for _, r := range inc.Rules {
		suppressed := ""
		if r.Suppressed > 0 {
			suppressed = fmt.Sprintf(" and %d more held back by suppression", r.Suppressed)
		}
		fmt.Fprintf(&b, "- %s %s: %d alert(s)%s, %s, %s\n", code(r.ID), plain(r.Name), r.Count, suppressed, orDash(r.Severity), orDash(r.Kind))
	}
	if len(t.Attack) > 0 {
		fmt.Fprintf(&b, "\nATT&CK: %s\n", strings.Join(t.Attack, ", "))
	}

	b.WriteString("\n## Timeline\n\n")
	if len(an.items) == 0 {
		b.WriteString("No events were kept with the alerts.\n")
	}
	if n := len(an.items); n <= timelineAll {
		for _, it := range an.items {
			b.WriteString(timelineLine(it))
		}
	} else {
		for _, it := range an.items[:timelineEdge] {
			b.WriteString(timelineLine(it))
		}
		fmt.Fprintf(&b, "- … %d more …\n", n-2*timelineEdge)
		for _, it := range an.items[n-timelineEdge:] {
			b.WriteString(timelineLine(it))
		}
	}
	if an.kept < inc.AlertCount {
		fmt.Fprintf(&b, "\nEvents are from the %d alerts kept of %d.\n", an.kept, inc.AlertCount)
	}

	b.WriteString("\n## Evidence\n\n")
	for _, ev := range an.evidence() {
		b.WriteString(ev)
	}
	if len(inc.AlertIDs) > 0 {
		fmt.Fprintf(&b, "- Alerts: %s", code(inc.AlertIDs[0]))
		if len(inc.AlertIDs) > 1 {
			fmt.Fprintf(&b, " … %s (%d listed, %d total)", code(inc.AlertIDs[len(inc.AlertIDs)-1]), len(inc.AlertIDs), inc.AlertCount)
		}
		b.WriteString("\n")
	}

	if len(an.context.lines) > 0 {
		b.WriteString("\n## Context\n\n")
		for _, l := range an.context.lines {
			b.WriteString(l)
		}
	}

	b.WriteString("\n## Why this verdict\n\n")
	for _, fc := range factors {
		fmt.Fprintf(&b, "- %+.2f %s\n", fc.points, fc.text)
	}
	fmt.Fprintf(&b, "\nScore %.2f (malicious ≥ %.2f or a successful login after failures from the same source; suspicious ≥ %.2f; benign ≤ %.2f with no failures, public sources or severity above low). Verdict **%s**, confidence %.2f, severity %s.\n",
		score, scoreMalicious, scoreSuspicious, scoreBenign, t.Verdict, t.Confidence, t.Severity)

	b.WriteString("\n## What to do next\n\n")
	for i, a := range t.RecommendedActions {
		fmt.Fprintf(&b, "%d. %s\n", i+1, a)
	}
	return b.String()
}

// evidence lists the events that carry the verdict, one line each.
func (an *analysis) evidence() []string {
	var out []string
	seen := map[*item]bool{}
	add := func(role string, it *item) {
		if seen[it] || len(out) >= 4*evidenceEach {
			return
		}
		seen[it] = true
		out = append(out, evidenceLine(role, it))
	}
	for _, c := range firstN(an.compromises, evidenceEach) {
		add(fmt.Sprintf("successful login after %d failure(s)", c.failures), c.success)
		if c.firstFail != nil {
			add("first failure before that login", c.firstFail)
		}
	}
	for _, it := range firstN(an.privAfter, evidenceEach) {
		add("privilege use after the login", it)
	}
	for _, it := range firstN(an.privDenied, evidenceEach) {
		add("privilege use denied", it)
	}
	for _, it := range firstN(an.rootLogins, evidenceEach) {
		add("privileged account login from a public address", it)
	}
	for _, it := range firstN(an.successes, evidenceEach) {
		add("successful login", it)
	}
	if n := len(an.failures); n > 0 {
		for _, it := range firstN(an.failures, 3) {
			add("failed login", it)
		}
		add("last failed login", an.failures[n-1])
	}
	for _, it := range firstN(an.privileged, evidenceEach) {
		add("privilege use", it)
	}
	if len(out) == 0 {
		for _, it := range firstN(an.items, evidenceEach) {
			add(it.class, it)
		}
	}
	if len(out) == 0 {
		out = append(out, "- No events were kept with the alerts.\n")
	}
	return out
}

func evidenceLine(role string, it *item) string {
	var b strings.Builder
	fmt.Fprintf(&b, "- %s (%s, rule %s): %s", code(orDash(it.id)), stamp(it.at), code(it.rule), role)
	for _, f := range []string{"source.ip", "user.name", "host.name", "event.action", "event.outcome", "process.name", "process.command_line"} {
		if v := fieldString(it.ev, f); v != "" {
			fmt.Fprintf(&b, "; %s %s", f, code(v))
		}
	}
	if it.repeat > 1 {
		fmt.Fprintf(&b, "; repeated %d times", it.repeat)
	}
	b.WriteString("\n")
	return b.String()
}

func timelineLine(it *item) string {
	var b strings.Builder
	fmt.Fprintf(&b, "- %s %s %s", stamp(it.at), code(orDash(it.id)), plain(describe(it)))
	if msg := fieldString(it.ev, "message"); msg != "" {
		fmt.Fprintf(&b, ": %s", code(msg))
	}
	b.WriteString("\n")
	return b.String()
}

// describe says what an event is in a few words.
func describe(it *item) string {
	var parts []string
	if a := fieldString(it.ev, "event.action"); a != "" {
		parts = append(parts, a)
	} else {
		parts = append(parts, it.class)
	}
	if o := fieldString(it.ev, "event.outcome"); o != "" {
		parts = append(parts, o)
	}
	if it.user != "" {
		parts = append(parts, "user "+it.user)
	}
	if it.src != "" {
		parts = append(parts, "from "+it.src)
	}
	if it.host != "" {
		parts = append(parts, "on "+it.host)
	}
	if cl := fieldString(it.ev, "process.command_line"); cl != "" {
		parts = append(parts, "ran "+cl)
	}
	if it.repeat > 1 {
		parts = append(parts, "×"+strconv.Itoa(it.repeat))
	}
	return strings.Join(parts, " ")
}

// techniques returns the ATT&CK technique and sub-technique ids of the
// alerts, sorted and unique.
func (an *analysis) techniques() []string {
	var ids []string
	for _, a := range an.inc.Alerts {
		for _, th := range a.Threat {
			for _, tq := range th.Technique {
				if tq.ID != "" {
					ids = append(ids, tq.ID)
				}
				for _, st := range tq.Subtechnique {
					if st.ID != "" {
						ids = append(ids, st.ID)
					}
				}
			}
		}
	}
	out := sortedUnique(ids)
	if out == nil {
		out = []string{}
	}
	return out
}

// classify reads what kind of event e is from its ECS fields, not from the
// rule that matched it.
func classify(e event.Event) string {
	action := strings.ToLower(fieldString(e, "event.action"))
	outcome := strings.ToLower(fieldString(e, "event.outcome"))
	proc := strings.ToLower(fieldString(e, "process.name"))
	cats := fieldStrings(e, "event.category")
	switch {
	case isPrivilegeProcess(proc) || strings.Contains(action, "sudo") || strings.HasPrefix(action, "su_") ||
		action == "su" || strings.Contains(action, "privilege") || slices.Contains(cats, "process"):
		if outcome == "failure" {
			return classPrivDenied
		}
		return classPrivilege
	case slices.Contains(cats, "authentication") || containsAny(action, "login", "logon", "auth", "password", "ssh"):
		switch outcome {
		case "failure":
			return classAuthFailure
		case "success":
			return classAuthSuccess
		}
	}
	return classOther
}

func isPrivilegeProcess(name string) bool {
	switch name {
	case "sudo", "su", "doas", "pkexec", "runuser":
		return true
	}
	return false
}

func isPrivilegedAccount(user string) bool {
	switch strings.ToLower(user) {
	case "root", "admin", "administrator", "toor":
		return true
	}
	return false
}

func isInternal(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsUnspecified()
}

func isInternalString(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && isInternal(a)
}

func isPublic(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && !isInternal(a)
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// fieldString returns a scalar field as text, whatever JSON type it has.
func fieldString(e event.Event, path string) string {
	switch v := e[path].(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

// fieldStrings returns a string or list-of-strings field, lower-cased.
func fieldStrings(e event.Event, path string) []string {
	switch v := e[path].(type) {
	case string:
		return []string{strings.ToLower(v)}
	case []string:
		out := make([]string, len(v))
		for i, s := range v {
			out[i] = strings.ToLower(s)
		}
		return out
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, strings.ToLower(s))
			}
		}
		return out
	}
	return nil
}

func intValue(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case float64:
		return int(n), n == math.Trunc(n)
	case string:
		i, err := strconv.Atoi(n)
		return i, err == nil
	}
	return 0, false
}

func sortedUnique(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

func firstN[T any](s []T, n int) []T { return s[:min(n, len(s))] }

func indexOr(i, def int) int {
	if i < 0 {
		return def
	}
	return i
}

func clamp(x, lo, hi float64) float64 {
	return math.Round(min(max(x, lo), hi)*100) / 100
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func ruleIDs(inc *Incident) []string {
	ids := make([]string, len(inc.Rules))
	for i, r := range inc.Rules {
		ids[i] = r.ID
	}
	return ids
}

func ruleList(rs []RuleSummary) string {
	parts := make([]string, 0, len(rs))
	for _, r := range firstN(rs, listNames) {
		if r.Suppressed > 0 {
			parts = append(parts, fmt.Sprintf("%s ×%d +%d suppressed, %s", plain(r.ID), r.Count, r.Suppressed, orDash(r.Severity)))
			continue
		}
		parts = append(parts, fmt.Sprintf("%s ×%d, %s", plain(r.ID), r.Count, orDash(r.Severity)))
	}
	if len(rs) > listNames {
		parts = append(parts, fmt.Sprintf("and %d more", len(rs)-listNames))
	}
	if len(parts) == 0 {
		return "none recorded"
	}
	return strings.Join(parts, "; ")
}

// joinPlain lists up to listNames values, or def when there are none.
func joinPlain(vals []string, def string) string {
	if len(vals) == 0 {
		return def
	}
	parts := make([]string, 0, listNames+1)
	for _, v := range firstN(vals, listNames) {
		parts = append(parts, plain(v))
	}
	if len(vals) > listNames {
		parts = append(parts, fmt.Sprintf("and %d more", len(vals)-listNames))
	}
	return strings.Join(parts, ", ")
}

func verdictTitle(v string) string {
	switch v {
	case FalsePositive:
		return "False positive"
	case "":
		return "Unknown"
	}
	return strings.ToUpper(v[:1]) + v[1:]
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "unknown time"
	}
	return event.FormatTime(t)
}

func span(from, to time.Time) string {
	if from.IsZero() || to.IsZero() {
		return "unknown duration"
	}
	return to.Sub(from).Round(time.Second).String()
}

// plain makes log text safe to embed in one line of prose: no control
// characters or line breaks, no Markdown code fences, bounded length. Log
// content is attacker-controlled.
func plain(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '`':
			return '\''
		case unicode.IsControl(r), r == '\u2028', r == '\u2029':
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	if r := []rune(s); len(r) > maxTextLen {
		s = string(r[:maxTextLen]) + "…"
	}
	return s
}

// code renders log text as inline Markdown code, so nothing in it is read
// as formatting or links.
func code(s string) string { return "`" + plain(s) + "`" }

// attemptCounter counts failures per scope (all, a source, a user) and
// event.action.
type attemptCounter map[string]int

// add counts n more failures of action in scope and returns that count.
func (c attemptCounter) add(scope, action string, n int) int {
	k := scope + "\x00" + action
	c[k] += n
	return c[k]
}
