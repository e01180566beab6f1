package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// LoadError is one problem in a rule file, located as file:line.
type LoadError struct {
	File string
	Line int
	Msg  string
}

func (e *LoadError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// LoadFS reads every *.yaml and *.yml file below root in fsys. It returns
// the rules that are valid and compiled, and one error per problem in the
// others: a bad rule never stops the good ones from loading. Warnings
// (unknown field names) do not stop a rule: see Compiled.Warnings and Lint.
func LoadFS(fsys fs.FS, root string, opts ...LoadOption) ([]*Compiled, []error) {
	rules, errs, _ := loadFS(fsys, root, newLoadConfig(opts))
	return rules, errs
}

// loaded is one rule document as read, for Lint and RunTests.
type loaded struct {
	file     string
	line     int
	rule     *Rule
	compiled *Compiled // nil when the rule has errors
	body     ast.Node
}

func ruleFiles(fsys fs.FS, root string) ([]string, error) {
	var files []string
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read rules from %s: %w", root, err)
	}
	sort.Strings(files)
	return files, nil
}

func loadFS(fsys fs.FS, root string, cfg *loadConfig) ([]*Compiled, []error, []loaded) {
	files, err := ruleFiles(fsys, root)
	if err != nil {
		return nil, []error{err}, nil
	}
	e, errs := newEnv(cfg)
	// The YAML of the files is read concurrently (most of the time a
	// start spends on the rules); the rules are compiled one file after
	// the other, in order.
	decoded := make([]decodedFile, len(files))
	var wg sync.WaitGroup
	for i, f := range files {
		wg.Go(func() {
			data, err := fs.ReadFile(fsys, f)
			if err != nil {
				decoded[i].readErr = fmt.Errorf("read %s: %w", f, err)
				return
			}
			decoded[i] = decodeFile(f, data, cfg.noTests)
		})
	}
	wg.Wait()
	var out []*Compiled
	var all []loaded
	seen := map[string]string{}
	for _, d := range decoded {
		if d.readErr != nil {
			errs = append(errs, d.readErr)
			continue
		}
		docs, ferrs := compileDocs(d, e)
		for i := range docs {
			c := docs[i].compiled
			if c == nil {
				continue
			}
			r := c.Rule
			if first, dup := seen[r.ID]; dup {
				ferrs = append(ferrs, &LoadError{File: r.File, Line: r.Line, Msg: fmt.Sprintf("id %q is already used at %s", r.ID, first)})
				docs[i].compiled = nil
				continue
			}
			seen[r.ID] = fmt.Sprintf("%s:%d", r.File, r.Line)
			out = append(out, c)
		}
		all = append(all, docs...)
		sort.SliceStable(ferrs, func(i, j int) bool { return errLine(ferrs[i]) < errLine(ferrs[j]) })
		errs = append(errs, ferrs...)
	}
	return out, errs, all
}

// Parse reads the rules of one file (one YAML document per rule) and
// compiles them.
func Parse(file string, data []byte, opts ...LoadOption) ([]*Compiled, []error) {
	e, errs := newEnv(newLoadConfig(opts))
	cfg := newLoadConfig(opts)
	docs, perrs := compileDocs(decodeFile(file, data, cfg.noTests), e)
	var out []*Compiled
	for _, d := range docs {
		if d.compiled != nil {
			out = append(out, d.compiled)
		}
	}
	return out, append(errs, perrs...)
}

// decodedFile is a rule file's documents decoded from YAML, not yet
// validated or compiled.
type decodedFile struct {
	docs    []decodedDoc
	errs    []error // the file's YAML error
	readErr error
}

// decodedDoc is one document of a rule file: its rule, or the error that
// kept it from decoding.
type decodedDoc struct {
	line int
	rule *Rule
	body ast.Node
	err  error
}

// decodeFile decodes the YAML documents of a rule file (one per rule);
// without tests, their tests: sections are blanked out first (when the
// file without them does not decode, it is decoded whole, for the same
// errors). It needs no compile environment, so files decode concurrently.
func decodeFile(file string, data []byte, noTests bool) decodedFile {
	if noTests {
		if d := decodeYAML(file, blankTests(data)); len(d.errs) == 0 && !slices.ContainsFunc(d.docs, func(d decodedDoc) bool { return d.err != nil }) {
			return d
		}
	}
	return decodeYAML(file, data)
}

// blankTests returns data with each top-level tests: key and its value
// replaced by empty lines, so every other line keeps its number.
func blankTests(data []byte) []byte {
	out := make([]byte, 0, len(data))
	skipping := false
	for len(data) > 0 {
		line, rest, _ := bytes.Cut(data, []byte("\n"))
		data = rest
		if skipping {
			if len(line) == 0 || !bytes.HasPrefix(line, []byte("---")) && !bytes.HasPrefix(line, []byte("...")) && bytes.IndexByte([]byte(" \t#-\r"), line[0]) >= 0 {
				out = append(out, '\n') // the value: indented, a compact list, a comment
				continue
			}
			skipping = false
		}
		if k, ok := bytes.CutPrefix(line, []byte("tests:")); ok && (len(k) == 0 || bytes.IndexByte([]byte(" \t#\r"), k[0]) >= 0) {
			skipping = true
			out = append(out, '\n')
			continue
		}
		out = append(out, line...)
		out = append(out, '\n')
	}
	return out
}

// decodeYAML decodes the YAML documents of a rule file.
func decodeYAML(file string, data []byte) decodedFile {
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return decodedFile{errs: []error{yamlError(file, err)}}
	}
	var out decodedFile
	for _, doc := range f.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		d := decodedDoc{line: doc.Body.GetToken().Position.Line, body: doc.Body}
		var r Rule
		if err := yaml.NodeToValue(doc.Body, &r, yaml.Strict()); err != nil {
			d.err = yamlError(file, err)
		} else {
			r.File, r.Line = path.Clean(file), d.line
			d.rule = &r
		}
		out.docs = append(out.docs, d)
	}
	return out
}

// compileDocs validates and compiles the rules of a decoded file.
func compileDocs(f decodedFile, e *env) ([]loaded, []error) {
	var out []loaded
	errs := f.errs
	for _, d := range f.docs {
		if d.err != nil {
			errs = append(errs, d.err)
			continue
		}
		r, line := d.rule, d.line
		ld := loaded{file: r.File, line: line, rule: r, body: d.body}
		problems := r.validate()
		for _, p := range problems {
			key, _, _ := strings.Cut(p, ":")
			errs = append(errs, &LoadError{File: r.File, Line: keyLine(d.body, key, line), Msg: ruleLabel(r) + p})
		}
		// Compiled even when invalid, so that one pass reports every problem.
		c, cerrs := compile(r, e)
		failed := len(problems) > 0
		for _, ce := range cerrs {
			le := &LoadError{File: r.File, Line: keyLine(d.body, ce.key, line), Msg: ruleLabel(r) + ce.key + ": " + ce.err.Error()}
			if ce.warn {
				c.warnings = append(c.warnings, le)
				continue
			}
			failed = true
			errs = append(errs, le)
		}
		if !failed {
			ld.compiled = c
		}
		out = append(out, ld)
	}
	return out, errs
}

func ruleLabel(r *Rule) string {
	if r.ID == "" {
		return ""
	}
	return "rule " + r.ID + ": "
}

// keyLine finds the line of a key such as "steps[1].condition" in a rule
// document, or returns def.
func keyLine(body ast.Node, key string, def int) int {
	if key == "" || strings.ContainsAny(key, " \"") {
		return def
	}
	p, err := yaml.PathString("$." + key)
	if err != nil {
		return def
	}
	n, err := p.FilterNode(body)
	if err != nil || n == nil {
		return def
	}
	return n.GetToken().Position.Line
}

func yamlError(file string, err error) error {
	line := 0
	msg := err.Error()
	var yerr yaml.Error
	if errors.As(err, &yerr) {
		msg = yerr.FormatError(false, false)
		if tk := yerr.GetToken(); tk != nil {
			line = tk.Position.Line
		}
	}
	// The library prefixes "[line:col] "; the position is ours to render.
	if strings.HasPrefix(msg, "[") {
		if _, rest, ok := strings.Cut(msg, "] "); ok {
			msg = rest
		}
	}
	return &LoadError{File: path.Clean(file), Line: line, Msg: firstLine(strings.TrimSpace(msg))}
}

func errLine(err error) int {
	var le *LoadError
	if errors.As(err, &le) {
		return le.Line
	}
	return 0
}
