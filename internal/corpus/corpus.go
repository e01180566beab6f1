// Package corpus finds the shared test corpus (real third-party logs and
// rules, ../shared/corpus beside the repository) for tests and benchmarks.
// A fresh clone has no corpus: tests that need it are skipped, not failed.
package corpus

import (
	"os"
	"path/filepath"
	"testing"
)

// Root finds shared/corpus by walking up from the working directory; ""
// when there is none.
func Root() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		c := filepath.Join(dir, "shared", "corpus")
		if st, err := os.Stat(c); err == nil && st.IsDir() {
			return c
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// Dir is Root for tests that need the corpus: they are skipped when it is absent.
func Dir(tb testing.TB) string {
	tb.Helper()
	dir := Root()
	if dir == "" {
		tb.Skip("shared/corpus not found above the test directory")
	}
	return dir
}

// Read returns a corpus file by its path inside the corpus, skipping the
// test when the corpus or the file is absent.
func Read(tb testing.TB, rel string) []byte {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(Dir(tb), rel))
	if err != nil {
		tb.Skipf("corpus file %s: %v", rel, err)
	}
	return data
}
