//go:build linux

package privfile

import (
	"encoding/binary"
	"os"
	"syscall"
	"unsafe"
)

// POSIX access ACLs as Linux stores them in the system.posix_acl_access
// extended attribute: a little-endian version (2), then 8-byte entries
// (tag, permissions, id).
const (
	aclXattr    = "system.posix_acl_access"
	aclVersion  = 2
	aclUserObj  = 0x01
	aclUser     = 0x02
	aclGroupObj = 0x04
	aclGroup    = 0x08
	aclMask     = 0x10
	aclOther    = 0x20
)

// aclPrivate reports whether the open file f has an access ACL that lets
// no one read or write it but its owner and this process's effective user:
// no permission for the owning group, for any named group or for others,
// and named-user entries only for this process's user. Without an ACL, or
// when it cannot be read, the answer is no.
func aclPrivate(f *os.File) bool {
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	name, err := syscall.BytePtrFromString(aclXattr)
	if err != nil {
		return false
	}
	buf := make([]byte, 4+8*64)
	n := -1
	cerr := rc.Control(func(fd uintptr) {
		r, _, errno := syscall.Syscall6(syscall.SYS_FGETXATTR, fd, uintptr(unsafe.Pointer(name)),
			uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0)
		if errno == 0 {
			n = int(r)
		}
	})
	if cerr != nil || n < 0 {
		return false
	}
	return aclOnlyFor(buf[:n], uint32(os.Geteuid()))
}

// aclOnlyFor is aclPrivate's check of an ACL's bytes: true when only the
// owner and user uid may do anything with the file.
func aclOnlyFor(acl []byte, uid uint32) bool {
	if len(acl) < 4 || (len(acl)-4)%8 != 0 || binary.LittleEndian.Uint32(acl) != aclVersion {
		return false
	}
	for e := acl[4:]; len(e) > 0; e = e[8:] {
		tag, perm, id := binary.LittleEndian.Uint16(e), binary.LittleEndian.Uint16(e[2:]), binary.LittleEndian.Uint32(e[4:])
		switch tag {
		case aclUserObj, aclMask:
		case aclUser:
			if perm != 0 && id != uid {
				return false
			}
		case aclGroupObj, aclGroup, aclOther:
			if perm != 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}
