package rules

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

var (
	attackTechniqueTag = regexp.MustCompile(`^attack\.t\d{4}(\.\d{3})?$`)
	// attackIDTag is an ATT&CK object tagged by its id, as Sigma's tag
	// spec allows: a tactic (attack.ta0001), software (attack.s0002) or a
	// group (attack.g0016).
	attackIDTag = regexp.MustCompile(`^attack\.(ta|s|g)\d{4}$`)
)

func validAttackTag(tag string) bool {
	if attackTechniqueTag.MatchString(tag) || attackIDTag.MatchString(tag) {
		return true
	}
	_, ok := tacticOfTag(tag)
	return ok
}

// tacticOfTag returns the Enterprise tactic an attack.* tag names: by its
// name, with underscores (attack.initial_access) or with hyphens as
// Sigma writes it since its tags spec 2.0 (attack.initial-access), or by
// its id (attack.ta0001).
func tacticOfTag(tag string) (ThreatRef, bool) {
	name, ok := strings.CutPrefix(tag, "attack.")
	if !ok {
		return ThreatRef{}, false
	}
	if id, ok := strings.CutPrefix(name, "ta"); ok && attackIDTag.MatchString(tag) {
		for _, t := range tactics {
			if t.ref.ID == "TA"+id {
				return t.ref, true
			}
		}
		return ThreatRef{}, false
	}
	for _, t := range tactics {
		if name == t.tag || name == strings.ReplaceAll(t.tag, "_", "-") {
			return t.ref, true
		}
	}
	return ThreatRef{}, false
}

// attackTagProblem says what is wrong with an attack.* tag that is not
// valid, and what was probably meant.
func attackTagProblem(tag string) string {
	msg := fmt.Sprintf("%q is not an ATT&CK tag", tag)
	if lower := strings.ToLower(tag); lower != tag && validAttackTag(lower) {
		return fmt.Sprintf("%s: tags are lower case, write %s", msg, lower)
	}
	name := strings.TrimPrefix(strings.ToLower(tag), "attack.")
	if len(name) > 1 && name[0] == 't' && name[1] >= '0' && name[1] <= '9' {
		return msg + ": a technique is attack.t and 4 digits, a sub-technique adds a dot and 3 (attack.t1110, attack.t1110.001)"
	}
	hyphens := strings.Contains(name, "-")
	spelled := func(t string) string {
		if hyphens {
			return strings.ReplaceAll(t, "_", "-")
		}
		return t
	}
	best, bestD := "", 1<<30
	for _, t := range tactics {
		if d := editDistance(strings.ReplaceAll(name, "-", "_"), t.tag); d < bestD {
			best, bestD = t.tag, d
		}
	}
	if bestD <= max(2, len(name)/4) {
		return fmt.Sprintf("%s (did you mean attack.%s?)", msg, spelled(best))
	}
	names := make([]string, len(tactics))
	for i, t := range tactics {
		names[i] = spelled(t.tag)
	}
	return fmt.Sprintf("%s: write a tactic (%s), a technique (attack.t1110, attack.t1110.001) or an ATT&CK id (attack.ta0006, attack.s0002, attack.g0016)", msg, strings.Join(names, ", "))
}

// tactics are the ATT&CK Enterprise tactics in kill-chain order, each
// with its tag spelling (the name in lower case, words joined by "_").
var tactics = []struct {
	tag string
	ref ThreatRef
}{
	{"reconnaissance", ThreatRef{ID: "TA0043", Name: "Reconnaissance"}},
	{"resource_development", ThreatRef{ID: "TA0042", Name: "Resource Development"}},
	{"initial_access", ThreatRef{ID: "TA0001", Name: "Initial Access"}},
	{"execution", ThreatRef{ID: "TA0002", Name: "Execution"}},
	{"persistence", ThreatRef{ID: "TA0003", Name: "Persistence"}},
	{"privilege_escalation", ThreatRef{ID: "TA0004", Name: "Privilege Escalation"}},
	{"defense_evasion", ThreatRef{ID: "TA0005", Name: "Defense Evasion"}},
	{"credential_access", ThreatRef{ID: "TA0006", Name: "Credential Access"}},
	{"discovery", ThreatRef{ID: "TA0007", Name: "Discovery"}},
	{"lateral_movement", ThreatRef{ID: "TA0008", Name: "Lateral Movement"}},
	{"collection", ThreatRef{ID: "TA0009", Name: "Collection"}},
	{"command_and_control", ThreatRef{ID: "TA0011", Name: "Command and Control"}},
	{"exfiltration", ThreatRef{ID: "TA0010", Name: "Exfiltration"}},
	{"impact", ThreatRef{ID: "TA0040", Name: "Impact"}},
}

// techniqueNames names the techniques Vigil's rule pack uses; others are
// carried by id alone.
var techniqueNames = map[string]string{
	"T1003":     "OS Credential Dumping",
	"T1021":     "Remote Services",
	"T1021.004": "SSH",
	"T1059":     "Command and Scripting Interpreter",
	"T1059.004": "Unix Shell",
	"T1078":     "Valid Accounts",
	"T1078.003": "Local Accounts",
	"T1098":     "Account Manipulation",
	"T1105":     "Ingress Tool Transfer",
	"T1110":     "Brute Force",
	"T1110.001": "Password Guessing",
	"T1110.003": "Password Spraying",
	"T1136":     "Create Account",
	"T1136.001": "Local Account",
	"T1548":     "Abuse Elevation Control Mechanism",
	"T1548.003": "Sudo and Sudo Caching",
}

func attackReference(id string) string {
	if strings.HasPrefix(id, "TA") {
		return "https://attack.mitre.org/tactics/" + id + "/"
	}
	return "https://attack.mitre.org/techniques/" + strings.ReplaceAll(id, ".", "/") + "/"
}

// threatFromTags builds ECS threat objects from attack.* tags: one per
// tactic, each with every technique of the rule (ATT&CK tags do not say
// which technique belongs to which tactic).
func threatFromTags(tags []string) []Threat {
	var tacticRefs []ThreatRef
	byTechnique := map[string]*Technique{}
	var order []string
	for _, tag := range tags {
		if t, ok := tacticOfTag(tag); ok {
			// One threat per tactic, however many spellings name it.
			if !slices.ContainsFunc(tacticRefs, func(r ThreatRef) bool { return r.ID == t.ID }) {
				t.Reference = attackReference(t.ID)
				tacticRefs = append(tacticRefs, t)
			}
			continue
		}
		if !attackTechniqueTag.MatchString(tag) {
			continue
		}
		id := strings.ToUpper(strings.TrimPrefix(tag, "attack."))
		parent, _, isSub := strings.Cut(id, ".")
		tech := byTechnique[parent]
		if tech == nil {
			tech = &Technique{ID: parent, Name: techniqueNames[parent], Reference: attackReference(parent)}
			byTechnique[parent] = tech
			order = append(order, parent)
		}
		if isSub {
			tech.Subtechnique = append(tech.Subtechnique, ThreatRef{ID: id, Name: techniqueNames[id], Reference: attackReference(id)})
		}
	}
	sort.Strings(order)
	techniques := make([]Technique, 0, len(order))
	for _, id := range order {
		techniques = append(techniques, *byTechnique[id])
	}
	if len(tacticRefs) == 0 && len(techniques) > 0 {
		tacticRefs = append(tacticRefs, ThreatRef{})
	}
	threats := make([]Threat, 0, len(tacticRefs))
	for _, t := range tacticRefs {
		threats = append(threats, Threat{Framework: "MITRE ATT&CK", Tactic: t, Technique: techniques})
	}
	return threats
}
