//go:build linux

package capyd

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestSystemdCredentials: capyd reads its KEK and pepper from systemd's
// $CREDENTIALS_DIRECTORY, as deploy/capyd.service hands them over
// (LoadCredential=, CAPYD_KEK_FILE=%d/kek): files written as that unit's
// comment says, left by systemd as root's, mode 0400 with an ACL entry for
// the service's user (stat: 0440), in a read-only directory.
func TestSystemdCredentials(t *testing.T) {
	creds := filepath.Join(t.TempDir(), "credentials", "capyd.service")
	if err := os.MkdirAll(creds, 0o700); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	files := map[string]string{
		"kek":    "capyd-kek 1 1 " + hex.EncodeToString(key) + "\n", // printf 'capyd-kek 1 1 %s\n' "$(openssl rand -hex 32)"
		"pepper": hex.EncodeToString(key[:16]) + hex.EncodeToString(key[16:]) + "\n",
	}
	me := uint32(os.Geteuid())
	for name, content := range files {
		p := filepath.Join(creds, name)
		if err := os.WriteFile(p, []byte(content), 0o400); err != nil {
			t.Fatal(err)
		}
		// systemd's ACL: owner r, the service's user r, group none, mask r, others none.
		acl := binary.LittleEndian.AppendUint32(nil, 2)
		for _, e := range [][3]uint32{{0x01, 4, 0xffffffff}, {0x02, 4, me}, {0x04, 0, 0xffffffff}, {0x10, 4, 0xffffffff}, {0x20, 0, 0xffffffff}} {
			acl = binary.LittleEndian.AppendUint16(acl, uint16(e[0]))
			acl = binary.LittleEndian.AppendUint16(acl, uint16(e[1]))
			acl = binary.LittleEndian.AppendUint32(acl, e[2])
		}
		if err := syscall.Setxattr(p, "system.posix_acl_access", acl, 0); err != nil {
			if errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.EOPNOTSUPP) {
				t.Skipf("no POSIX ACLs on this file system: %v", err)
			}
			t.Fatal(err)
		}
	}
	if err := os.Chmod(creds, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(creds, 0o700) })

	cfg := testConfig(t)
	cfg.KEKFile, cfg.PepperFile = filepath.Join(creds, "kek"), filepath.Join(creds, "pepper")
	kr, src, err := loadKeyring(cfg, nil)
	if err != nil {
		t.Fatalf("KEK from the credentials directory: %v", err)
	}
	if kr.Primary() != 1 || src.String() != cfg.KEKFile {
		t.Errorf("keyring primary %d from %s", kr.Primary(), src)
	}
	pepper, err := loadPepper(cfg, nil)
	if err != nil {
		t.Fatalf("pepper from the credentials directory: %v", err)
	}
	if hex.EncodeToString(pepper) != hex.EncodeToString(key) {
		t.Error("the pepper read is not the one written")
	}
}
