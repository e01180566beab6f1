package rules

import (
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strings"
)

// Finding severities.
const (
	SeverityError   = "error"
	SeverityWarning = "warning"
)

// Finding is one problem Lint found in a rule file.
type Finding struct {
	File     string
	Line     int
	Severity string // error or warning
	Msg      string
}

// String renders the finding as file:line: severity: message, without
// the line for a problem with a whole file and without the file for one
// that is not in a file (a list that cannot be read).
func (f Finding) String() string {
	switch {
	case f.File == "":
		return fmt.Sprintf("%s: %s", f.Severity, f.Msg)
	case f.Line == 0:
		return fmt.Sprintf("%s: %s: %s", f.File, f.Severity, f.Msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", f.File, f.Line, f.Severity, f.Msg)
}

var bareTechnique = regexp.MustCompile(`^(?i)t\d{4}(\.\d{3})?$`)

// Lint checks the rule files below root: errors are what stops a rule
// from loading (YAML, schema, expressions, duplicate ids, ATT&CK tag
// format, unknown functions and lists); warnings are field names that are
// not ECS (with the closest ECS name), ATT&CK tags written without the
// attack. prefix, and stateful rules without a positive and a negative
// test. Findings are sorted by file and line.
func Lint(fsys fs.FS, root string, opts ...LoadOption) []Finding {
	_, errs, docs := loadFS(fsys, root, newLoadConfig(opts))
	var out []Finding
	for _, err := range errs {
		f := Finding{Severity: SeverityError, Msg: err.Error()}
		var le *LoadError
		if errors.As(err, &le) {
			f.File, f.Line, f.Msg = le.File, le.Line, le.Msg
		}
		out = append(out, f)
	}
	for _, d := range docs {
		warn := func(line int, msg string) {
			out = append(out, Finding{File: d.file, Line: line, Severity: SeverityWarning, Msg: ruleLabel(d.rule) + msg})
		}
		if d.compiled != nil {
			for _, w := range d.compiled.warnings {
				var le *LoadError
				if errors.As(w, &le) {
					out = append(out, Finding{File: le.File, Line: le.Line, Severity: SeverityWarning, Msg: le.Msg})
				}
			}
		}
		for _, tag := range d.rule.Tags {
			if bareTechnique.MatchString(tag) {
				warn(keyLine(d.body, "tags", d.line), fmt.Sprintf("tags: %q looks like an ATT&CK technique: write attack.%s", tag, strings.ToLower(tag)))
			}
		}
		if d.rule.IsStateful() && d.rule.IsEnabled() {
			pos, neg := false, false
			for _, t := range d.rule.Tests {
				if t.Expect.Count != nil && *t.Expect.Count == 0 {
					neg = true
				} else {
					pos = true
				}
			}
			switch {
			case !pos && !neg:
				warn(d.line, fmt.Sprintf("%s rule has no tests: add a positive and a negative one", d.rule.Kind))
			case !pos:
				warn(d.line, fmt.Sprintf("%s rule has no positive test (one that expects an alert)", d.rule.Kind))
			case !neg:
				warn(d.line, fmt.Sprintf("%s rule has no negative test (expect: {count: 0})", d.rule.Kind))
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].File != out[j].File {
			return out[i].File < out[j].File
		}
		return out[i].Line < out[j].Line
	})
	return out
}
