package rules

import (
	"embed"
	"io/fs"
)

//go:embed pack/*.yaml
var pack embed.FS

// Pack returns Vigil's built-in rule pack, embedded in the binary.
func Pack() fs.FS {
	sub, err := fs.Sub(pack, "pack")
	if err != nil {
		panic(err) // the embedded tree always has pack/
	}
	return sub
}
