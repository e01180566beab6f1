//go:build unix

package file

import (
	"os"
	"syscall"
)

// identityOf returns the device and inode of a file, and whether it has
// been deleted (no link left).
func identityOf(fi os.FileInfo) (fileID, bool) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fileID{dev: uint64(st.Dev), ino: uint64(st.Ino)}, st.Nlink == 0
	}
	return fileID{}, false
}
