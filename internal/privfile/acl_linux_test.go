//go:build linux

package privfile

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

type aclEntry struct {
	tag, perm uint16
	id        uint32
}

func aclBytes(es ...aclEntry) []byte {
	b := binary.LittleEndian.AppendUint32(nil, aclVersion)
	for _, e := range es {
		b = binary.LittleEndian.AppendUint16(b, e.tag)
		b = binary.LittleEndian.AppendUint16(b, e.perm)
		b = binary.LittleEndian.AppendUint32(b, e.id)
	}
	return b
}

const noID = 0xffffffff

// systemdCredential is the ACL systemd gives a credential file for a
// service running as uid: root's file, mode 0400, readable by uid.
func systemdCredential(uid uint32) []byte {
	return aclBytes(aclEntry{aclUserObj, 4, noID}, aclEntry{aclUser, 4, uid}, aclEntry{aclGroupObj, 0, noID},
		aclEntry{aclMask, 4, noID}, aclEntry{aclOther, 0, noID})
}

func TestACLOnlyFor(t *testing.T) {
	const me = 61234
	cases := []struct {
		name string
		acl  []byte
		want bool
	}{
		{"systemd's credential for this user", systemdCredential(me), true},
		{"no named user", aclBytes(aclEntry{aclUserObj, 6, noID}, aclEntry{aclGroupObj, 0, noID}, aclEntry{aclOther, 0, noID}), true},
		{"another user may read", systemdCredential(me + 1), false},
		{"the owning group may read", aclBytes(aclEntry{aclUserObj, 4, noID}, aclEntry{aclGroupObj, 4, noID}, aclEntry{aclMask, 4, noID}, aclEntry{aclOther, 0, noID}), false},
		{"a named group may read", aclBytes(aclEntry{aclUserObj, 4, noID}, aclEntry{aclGroupObj, 0, noID}, aclEntry{aclGroup, 4, 100}, aclEntry{aclMask, 4, noID}, aclEntry{aclOther, 0, noID}), false},
		{"others may read", aclBytes(aclEntry{aclUserObj, 4, noID}, aclEntry{aclGroupObj, 0, noID}, aclEntry{aclOther, 4, noID}), false},
		{"a named group with no permission", aclBytes(aclEntry{aclUserObj, 4, noID}, aclEntry{aclGroupObj, 0, noID}, aclEntry{aclGroup, 0, 100}, aclEntry{aclMask, 0, noID}, aclEntry{aclOther, 0, noID}), true},
		{"an unknown tag", aclBytes(aclEntry{aclUserObj, 4, noID}, aclEntry{0x40, 0, noID}), false},
		{"another version", append([]byte{1, 0, 0, 0}, systemdCredential(me)[4:]...), false},
		{"a torn entry", systemdCredential(me)[:10], false},
		{"empty", nil, false},
	}
	for _, c := range cases {
		if got := aclOnlyFor(c.acl, me); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func FuzzACLOnlyFor(f *testing.F) {
	f.Add(systemdCredential(1000), uint32(1000))
	f.Add(systemdCredential(1000), uint32(1001))
	f.Add([]byte{2, 0, 0, 0}, uint32(0))
	f.Fuzz(func(t *testing.T, acl []byte, uid uint32) {
		if !aclOnlyFor(acl, uid) {
			return
		}
		// Whatever it accepts grants nothing to a group, to others or to
		// another named user.
		for e := acl[4:]; len(e) > 0; e = e[8:] {
			tag, perm, id := binary.LittleEndian.Uint16(e), binary.LittleEndian.Uint16(e[2:]), binary.LittleEndian.Uint32(e[4:])
			if perm != 0 && (tag == aclGroupObj || tag == aclGroup || tag == aclOther || tag == aclUser && id != uid) {
				t.Fatalf("accepted an ACL granting tag %#x perm %d id %d", tag, perm, id)
			}
		}
	})
}

// TestReadPrivateSystemdCredential: a key file as systemd's LoadCredential=
// leaves it (mode 0400 plus an ACL entry for the service's user, which
// stat shows as 0440) is read; the same bits with an ACL that lets
// someone else read it, or without an ACL, are refused.
func TestReadPrivateSystemdCredential(t *testing.T) {
	p := filepath.Join(t.TempDir(), "kek")
	if err := os.WriteFile(p, []byte("key"), 0o400); err != nil {
		t.Fatal(err)
	}
	me := uint32(os.Geteuid())
	set := func(acl []byte) {
		t.Helper()
		if err := syscall.Setxattr(p, aclXattr, acl, 0); err != nil {
			if errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.EOPNOTSUPP) {
				t.Skipf("the file system of %s has no POSIX ACLs: %v", p, err)
			}
			t.Fatal(err)
		}
	}
	set(systemdCredential(me))
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o440 {
		t.Fatalf("mode with the ACL: %v %v (want 0440: the group bits show the mask)", fi.Mode(), err)
	}
	if data, err := ReadPrivate(p, 100); err != nil || string(data) != "key" {
		t.Fatalf("systemd's credential: %q, %v", data, err)
	}
	set(systemdCredential(me + 1))
	if _, err := ReadPrivate(p, 100); !errors.Is(err, ErrInsecure) {
		t.Fatalf("readable by another user: %v, want ErrInsecure", err)
	}
	set(aclBytes(aclEntry{aclUserObj, 4, noID}, aclEntry{aclUser, 4, me}, aclEntry{aclGroupObj, 4, noID}, aclEntry{aclMask, 4, noID}, aclEntry{aclOther, 0, noID}))
	if _, err := ReadPrivate(p, 100); !errors.Is(err, ErrInsecure) {
		t.Fatalf("readable by the group: %v, want ErrInsecure", err)
	}
	if err := syscall.Removexattr(p, aclXattr); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o440); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadPrivate(p, 100); !errors.Is(err, ErrInsecure) {
		t.Fatalf("0440 without an ACL: %v, want ErrInsecure", err)
	}
}
