package vigil

import (
	"embed"
	"io/fs"
)

//go:embed testdata/scenarios
var scenarios embed.FS

// Scenarios returns the demo scenarios, one folder each
// (ssh-bruteforce/auth.log, ...), embedded in the binary so that
// `vigil demo` works from any directory.
func Scenarios() fs.FS {
	sub, err := fs.Sub(scenarios, "testdata/scenarios")
	if err != nil {
		panic(err) // the embedded tree always has this folder
	}
	return sub
}
