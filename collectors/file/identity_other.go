//go:build !unix

package file

import (
	"hash/fnv"
	"os"
)

// identityOf has no inode to go by on this platform: files are told apart
// by name (and fingerprint), so rotation by rename is not followed.
func identityOf(fi os.FileInfo) (fileID, bool) {
	h := fnv.New64a()
	h.Write([]byte(fi.Name()))
	return fileID{ino: h.Sum64()}, false
}
