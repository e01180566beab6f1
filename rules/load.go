package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// LoadError is one problem in a rule file, located as file:line.
type LoadError struct {
	File string
	Line int
	Msg  string
}

// Error renders file:line: message, or file: message for a problem with
// the file as a whole (Line 0).
func (e *LoadError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// LoadFS reads every *.yaml and *.yml file below root in fsys. It returns
// the rules that are valid and compiled, and one error per problem in the
// others: a bad rule never stops the good ones from loading. Warnings
// (unknown field names) do not stop a rule: see Compiled.Warnings and Lint.
func LoadFS(fsys fs.FS, root string, opts ...LoadOption) ([]*Compiled, []error) {
	rules, errs, _ := loadFS(fsys, root, newLoadConfig(opts))
	return rules, errs
}

// OpenPath returns the file system and root to load, lint or test the
// rules at a path of the operating system from: a directory, or a single
// rule file, read as a directory holding just it. A path that cannot be
// read is one error naming it: "/etc/rules: no such file or directory".
func OpenPath(name string) (fsys fs.FS, root string, err error) {
	st, err := os.Stat(name)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, "", &LoadError{File: name, Msg: err.Error()}
	}
	if st.IsDir() {
		return os.DirFS(name), ".", nil
	}
	return os.DirFS(filepath.Dir(name)), filepath.Base(name), nil
}

// LoadPath is LoadFS over a directory or a single rule file of the
// operating system (see OpenPath). Its errors name each file by the path
// it was found at (rules/ssh.yaml:12), for a caller that loads several.
func LoadPath(name string, opts ...LoadOption) ([]*Compiled, []error) {
	fsys, root, err := OpenPath(name)
	if err != nil {
		return nil, []error{err}
	}
	dir := name
	if root != "." {
		dir = filepath.Dir(name)
	}
	rules, errs := LoadFS(fsys, root, opts...)
	for _, err := range errs {
		var le *LoadError
		if errors.As(err, &le) {
			le.File = filepath.Join(dir, filepath.FromSlash(le.File))
		}
	}
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

// ruleFiles lists the rule files below root, or root itself when it is
// a rule file.
func ruleFiles(fsys fs.FS, root string) ([]string, error) {
	var files []string
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && isRuleFile(p) {
			files = append(files, p)
		} else if p == root && !d.IsDir() {
			// Named on its own, a file that is not read must say so.
			return &LoadError{File: path.Clean(p), Msg: "not a rule file (*.yaml or *.yml)"}
		}
		return nil
	})
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, &LoadError{File: path.Clean(pe.Path), Msg: pe.Err.Error()}
		}
		return nil, err
	}
	sort.Strings(files)
	return files, nil
}

func isRuleFile(name string) bool {
	return strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")
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
				var pe *fs.PathError
				if errors.As(err, &pe) {
					err = pe.Err
				}
				decoded[i].readErr = &LoadError{File: path.Clean(f), Msg: "read: " + err.Error()}
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
	d := decodeDocuments(file, data, noTests)
	if len(d.errs) == 0 {
		return d
	}
	// A syntax error fails the parse of the whole file. Parsed again one
	// document at a time, only the broken documents are lost, each with
	// an error of its own: the good rules of the file still load.
	return decodeEachDocument(file, data, noTests, d.errs)
}

// decodeDocuments decodes YAML text holding rule documents, without the
// tests: sections when noTests (unless the text does not decode so).
func decodeDocuments(file string, data []byte, noTests bool) decodedFile {
	if noTests {
		if d := decodeYAML(file, blankTests(data)); len(d.errs) == 0 && !slices.ContainsFunc(d.docs, func(d decodedDoc) bool { return d.err != nil }) {
			return d
		}
	}
	return decodeYAML(file, data)
}

// decodeEachDocument decodes the documents of a file that does not parse
// as a whole, each on its own. fileErrs are the errors of the whole
// file's parse, kept when no document fails alone, so an error is never
// lost.
func decodeEachDocument(file string, data []byte, noTests bool, fileErrs []error) decodedFile {
	var out decodedFile
	for _, doc := range splitDocuments(data) {
		// Behind as many empty lines as the file has before the document,
		// the parser's line numbers are the file's.
		text := append(bytes.Repeat([]byte("\n"), doc.line-1), doc.text...)
		d := decodeDocuments(file, text, noTests)
		if id := writtenID(doc.text); id != "" {
			for _, err := range d.errs {
				if le, ok := err.(*LoadError); ok {
					le.Msg = "rule " + id + ": " + le.Msg
				}
			}
		}
		out.docs = append(out.docs, d.docs...)
		out.errs = append(out.errs, d.errs...)
	}
	if len(out.errs) == 0 {
		out.errs = fileErrs
	}
	return out
}

// writtenID is the top-level id: in the text of a document that does not
// parse, read line by line, or "" when there is none to be sure of.
func writtenID(text []byte) string {
	for line := range bytes.Lines(text) {
		if v, ok := bytes.CutPrefix(line, []byte("id:")); ok {
			v, _, _ = bytes.Cut(v, []byte(" #"))
			id := strings.Trim(string(bytes.TrimSpace(v)), `"'`)
			if strings.ContainsAny(id, " \t\"'{}[],") {
				return ""
			}
			return id
		}
	}
	return ""
}

// documentText is the text of one YAML document of a file, from its
// "---" line on, and the file's line number where it starts.
type documentText struct {
	line int
	text []byte
}

// splitDocuments cuts YAML text into documents at the "---" lines. In
// YAML a "---" at the start of a line always starts a document, even
// inside a block scalar, so the cut needs no parse. Directives, comments
// and blank lines before a "---" stay with the document they precede.
func splitDocuments(data []byte) []documentText {
	var docs []documentText
	start, startLine := 0, 1
	content := false // the current document has a line that is not a directive, comment or blank
	for off, n := 0, 1; off < len(data); n++ {
		line, _, _ := bytes.Cut(data[off:], []byte("\n"))
		if content && isDocumentStart(line) {
			docs = append(docs, documentText{line: startLine, text: data[start:off]})
			start, startLine, content = off, n, false
		}
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' && t[0] != '%' {
			content = true
		}
		off += len(line) + 1
	}
	if start < len(data) {
		docs = append(docs, documentText{line: startLine, text: data[start:]})
	}
	return docs
}

// isDocumentStart says whether a line is a YAML document marker: "---"
// alone or followed by a space, a tab or the end of a CRLF line.
func isDocumentStart(line []byte) bool {
	rest, ok := bytes.CutPrefix(line, []byte("---"))
	return ok && (len(rest) == 0 || rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\r')
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
			d.err = decodeError(file, doc.Body, err)
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
		problems := r.validate(func(key string) bool { return hasValue(d.body, key) })
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
	if n := keyNode(body, key); n != nil {
		return n.GetToken().Position.Line
	}
	return def
}

// hasValue says whether a rule document gives a key a value (not null).
func hasValue(body ast.Node, key string) bool {
	n := keyNode(body, key)
	return n != nil && n.Type() != ast.NullType
}

// keyNode is the value of a key such as "steps[1].condition" in a rule
// document, or nil.
func keyNode(body ast.Node, key string) ast.Node {
	if key == "" || strings.ContainsAny(key, " \"") {
		return nil
	}
	p, err := yaml.PathString("$." + key)
	if err != nil {
		return nil
	}
	n, err := p.FilterNode(body)
	if err != nil {
		return nil
	}
	return n
}

// decodeError is the error of a rule document that parses but does not
// decode into a Rule (an unknown key, a value of the wrong type, a bad
// duration): located at the value, labelled with the rule's id when the
// document has one, and with the key when the error knows it.
func decodeError(file string, body ast.Node, err error) *LoadError {
	le := yamlError(file, err)
	if ve := (*valueError)(nil); errors.As(err, &ve) {
		le = &LoadError{File: path.Clean(file), Line: ve.line, Msg: strings.TrimPrefix(ve.path, "$.") + ": " + ve.err.Error()}
	}
	// The decoder names a value of the wrong type by its Go field
	// (Rule.Steps): the key as written is what the author can find.
	if te := (*yaml.TypeError)(nil); errors.As(err, &te) && te.Token != nil {
		if n := nodeOfToken(body, te.Token); n != nil && n.GetPath() != "" {
			got := strings.ToLower(n.Type().String())
			if _, scalar := n.(ast.ScalarNode); scalar {
				got = strconv.Quote(te.Token.Value)
			}
			le.Msg = fmt.Sprintf("%s: want %s, got %s", strings.TrimPrefix(n.GetPath(), "$."), kindName(te.DstType), got)
		}
	}
	if id := documentID(body); id != "" {
		le.Msg = "rule " + id + ": " + le.Msg
	}
	if keyNode(body, "detection") != nil && keyNode(body, "logsource") != nil {
		// Not a typo to point at: the whole document is of another kind.
		le.Msg += " (this is a Sigma rule, with logsource and detection: Vigil reads its own rule format, " +
			"see rules/README.md; write the detection as a condition over ECS fields)"
	}
	return le
}

// nodeOfToken is the node of a document that a token starts, or nil.
func nodeOfToken(body ast.Node, tk *token.Token) ast.Node {
	var found ast.Node
	ast.Walk(visitFunc(func(n ast.Node) bool {
		if found == nil && n.GetToken() == tk {
			found = n
		}
		return found == nil
	}), body)
	return found
}

type visitFunc func(ast.Node) bool

func (f visitFunc) Visit(n ast.Node) ast.Visitor {
	if f(n) {
		return f
	}
	return nil
}

// kindName names a Go type the way a rule author knows it.
func kindName(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "a value"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	}
	return "a " + t.String()
}

// documentID is the id: of a rule document that did not decode, or "".
func documentID(body ast.Node) string {
	if s, ok := keyNode(body, "id").(*ast.StringNode); ok {
		return s.Value
	}
	return ""
}

// valueError is a value of a rule document that does not decode, with
// its YAML path ($.threshold.window) and line, which the decoder's own
// error would not name.
type valueError struct {
	path string
	line int
	err  error
}

func (e *valueError) Error() string { return e.err.Error() }

func yamlError(file string, err error) *LoadError {
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
