package rules

import (
	"regexp"
	"sort"
	"strings"
)

var (
	attackTechniqueTag = regexp.MustCompile(`^attack\.t\d{4}(\.\d{3})?$`)
	attackTacticTag    = regexp.MustCompile(`^attack\.[a-z_]+$`)
)

func validAttackTag(tag string) bool {
	if attackTechniqueTag.MatchString(tag) {
		return true
	}
	_, ok := tactics[strings.TrimPrefix(tag, "attack.")]
	return ok && attackTacticTag.MatchString(tag)
}

// tactics maps the tag spelling of each ATT&CK Enterprise tactic to its id and name.
var tactics = map[string]ThreatRef{
	"reconnaissance":       {ID: "TA0043", Name: "Reconnaissance"},
	"resource_development": {ID: "TA0042", Name: "Resource Development"},
	"initial_access":       {ID: "TA0001", Name: "Initial Access"},
	"execution":            {ID: "TA0002", Name: "Execution"},
	"persistence":          {ID: "TA0003", Name: "Persistence"},
	"privilege_escalation": {ID: "TA0004", Name: "Privilege Escalation"},
	"defense_evasion":      {ID: "TA0005", Name: "Defense Evasion"},
	"credential_access":    {ID: "TA0006", Name: "Credential Access"},
	"discovery":            {ID: "TA0007", Name: "Discovery"},
	"lateral_movement":     {ID: "TA0008", Name: "Lateral Movement"},
	"collection":           {ID: "TA0009", Name: "Collection"},
	"command_and_control":  {ID: "TA0011", Name: "Command and Control"},
	"exfiltration":         {ID: "TA0010", Name: "Exfiltration"},
	"impact":               {ID: "TA0040", Name: "Impact"},
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
		name, ok := strings.CutPrefix(tag, "attack.")
		if !ok {
			continue
		}
		if t, ok := tactics[name]; ok {
			t.Reference = attackReference(t.ID)
			tacticRefs = append(tacticRefs, t)
			continue
		}
		if !attackTechniqueTag.MatchString(tag) {
			continue
		}
		id := strings.ToUpper(name)
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
