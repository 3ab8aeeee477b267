//go:build !linux

package privfile

import "os"

// aclPrivate: ACLs are read on Linux only (systemd's credentials); a file
// with group bits is refused elsewhere.
func aclPrivate(*os.File) bool { return false }
