package rules

import (
	"io/fs"
	"os"

	"github.com/vigil-siem/vigil/event"
)

// LoadOption changes how rules are loaded, linted and tested.
type LoadOption func(*loadConfig)

// Function is an expression function a caller adds (in_intel, asset, …).
// It gets the evaluated arguments and returns the value of the call; an
// error makes the expression fail on that event (counted in
// Stats.EvalErrors, the event does not match).
type Function = func(params ...any) (any, error)

// ParseFunc turns the bytes of a log file in a format (sshd, …) into
// events; RunTests uses it for tests that give a log file instead of
// inline events. The command wires it to the collectors' registry, so
// rules does not import collectors.
type ParseFunc func(format string, data []byte) ([]event.Event, error)

type loadConfig struct {
	functions map[string]Function
	listFS    []fs.FS
	parse     ParseFunc
	noTests   bool
}

// WithFunctions registers more expression functions by name. A name that
// is also a Vigil helper or an expr builtin replaces it.
func WithFunctions(fns map[string]func(params ...any) (any, error)) LoadOption {
	return func(c *loadConfig) {
		if c.functions == nil {
			c.functions = map[string]Function{}
		}
		for name, fn := range fns {
			c.functions[name] = fn
		}
	}
}

// WithLists loads the value lists of in_list() from a directory: each
// name.txt is the list "name", one value per line, "#" starts a comment.
func WithLists(dir string) LoadOption {
	return WithListsFS(os.DirFS(dir))
}

// WithListsFS is WithLists over any file system (its root holds the
// name.txt files).
func WithListsFS(fsys fs.FS) LoadOption {
	return func(c *loadConfig) { c.listFS = append(c.listFS, fsys) }
}

// WithoutTests skips the tests: section of every rule (not read, not
// validated; Rule.Tests stays empty), for a program that only runs the
// rules: most of a rule file is often its tests, and reading YAML is most
// of the time a start spends on the rules. A mistake in a rule's tests
// (even broken YAML inside them) then goes unnoticed; `vigil rules lint`
// and `vigil rules test` read and report them.
func WithoutTests() LoadOption {
	return func(c *loadConfig) { c.noTests = true }
}

// WithParseFunc sets how RunTests parses the log files named by tests.
func WithParseFunc(parse ParseFunc) LoadOption {
	return func(c *loadConfig) { c.parse = parse }
}

func newLoadConfig(opts []LoadOption) *loadConfig {
	c := &loadConfig{}
	for _, o := range opts {
		o(c)
	}
	return c
}
