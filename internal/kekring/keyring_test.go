package kekring

import (
	"bytes"
	"errors"
	"github.com/capy-oss/capy/internal/privfile"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capy-oss/capy/internal/wrap"
)

const (
	org  = "org_abcdefghijklmnopqrstuvwxyz"
	user = "usr_mnopqrstuvwxyz234567abcdef"
)

func TestWrapUnwrapAndRotate(t *testing.T) {
	k1, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	inner := []byte("inner blob bytes")
	outer1, err := k1.Wrap(org, wrap.PurposeKey, user, inner)
	if err != nil {
		t.Fatal(err)
	}
	got, re, err := k1.Unwrap(org, wrap.PurposeKey, user, outer1)
	if err != nil || !bytes.Equal(got, inner) || re != nil {
		t.Fatalf("unwrap under primary: %q %v %v", got, re, err)
	}
	k2, err := k1.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	if k2.Primary() != 2 || len(k2.IDs()) != 2 || k1.Primary() != 1 {
		t.Fatalf("rotate: primary %d ids %v (old keyring primary %d)", k2.Primary(), k2.IDs(), k1.Primary())
	}
	got, re, err = k2.Unwrap(org, wrap.PurposeKey, user, outer1)
	if err != nil || !bytes.Equal(got, inner) {
		t.Fatalf("old blob after rotate: %v", err)
	}
	if kid, _ := wrap.OuterKeyID(re); re == nil || kid != 2 {
		t.Fatalf("old blob not rewrapped under the new primary (kid %d)", kid)
	}
	got, re2, err := k2.Unwrap(org, wrap.PurposeKey, user, re)
	if err != nil || !bytes.Equal(got, inner) || re2 != nil {
		t.Fatalf("rewrapped blob: %v", err)
	}
	// A keyring without the old key cannot open the old blob.
	only2, err := Parse(strings.Split(k2.Encode(), "\n")[1])
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := only2.Unwrap(org, wrap.PurposeKey, user, outer1); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("retired key: %v", err)
	}
	// Another subject or purpose fails.
	if _, _, err := k2.Unwrap(org, wrap.PurposeKey, "usr_aaaaaaaaaaaaaaaaaaaaaaaaaa", re); !errors.Is(err, wrap.ErrDecrypt) {
		t.Fatalf("other subject: %v", err)
	}
	if _, _, err := k2.Unwrap(org, wrap.PurposeInvite, user, re); !errors.Is(err, wrap.ErrDecrypt) {
		t.Fatalf("other purpose: %v", err)
	}
}

func TestParse(t *testing.T) {
	key := strings.Repeat("ab", 32)
	good := "capyd-kek 1 3 " + key + "\ncapyd-kek 1 10 " + strings.Repeat("cd", 32) + "\n"
	k, err := Parse(good)
	if err != nil || k.Primary() != 10 {
		t.Fatalf("parse: %v primary %d", err, k.Primary())
	}
	if k.Encode() != good {
		t.Fatalf("encode: %q", k.Encode())
	}
	if _, err := Parse(strings.ReplaceAll(good, "\n", ";")); err != nil {
		t.Fatalf("semicolon form: %v", err)
	}
	for _, bad := range []string{
		"", "\n\n", "capyd-kek 1 1 " + key[:62],
		"capyd-kek 2 1 " + key, "capyd-kek 1 01 " + key, "capyd-kek 1 -1 " + key,
		"capyd-kek 1 1 " + strings.ToUpper(key) + "zz", "capyd-kek 1 1 " + key + "\ncapyd-kek 1 1 " + key,
	} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
	if s := k.String(); strings.Contains(s, "ab") || strings.Contains(s, "cd") {
		t.Errorf("String leaks key material: %s", s)
	}
}

func TestLoadOrCreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "kek")
	k1, err := LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v", fi.Mode(), err)
	}
	if di, _ := os.Stat(dir); di.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %v", di.Mode())
	}
	k2, err := LoadOrCreate(path)
	if err != nil || k2.Encode() != k1.Encode() {
		t.Fatalf("reload differs: %v", err)
	}
	k3, _ := k2.Rotate()
	if err := Save(path, k3); err != nil {
		t.Fatal(err)
	}
	k4, err := Load(path)
	if err != nil || k4.Primary() != 2 {
		t.Fatalf("after save: %v", err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); !errors.Is(err, privfile.ErrInsecure) {
		t.Fatalf("group-readable keyring accepted: %v", err)
	}
	link := filepath.Join(dir, "link")
	os.Chmod(path, 0o600)
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(link); !errors.Is(err, privfile.ErrInsecure) {
		t.Fatalf("symlinked keyring accepted: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("capyd-kek 1 1 " + strings.Repeat("ab", 32))
	f.Add("capyd-kek 1 1 " + strings.Repeat("ab", 32) + ";capyd-kek 1 2 " + strings.Repeat("00", 32))
	f.Fuzz(func(t *testing.T, s string) {
		k, err := Parse(s)
		if err != nil {
			return
		}
		k2, err := Parse(k.Encode())
		if err != nil || k2.Encode() != k.Encode() || k2.Primary() != k.Primary() {
			t.Fatalf("re-parse differs: %v", err)
		}
	})
}

// TestUnknownKey: a blob under a KEK the keyring lacks says which, and
// whether the keyring is behind (the KEK is newer than its primary: it may
// still arrive) or the KEK was retired.
func TestUnknownKey(t *testing.T) {
	k1, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	k2, err := k1.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	inner := []byte("inner blob bytes")
	under1, _ := k1.Wrap(org, wrap.PurposeDeploy, user, inner)
	under2, _ := k2.Wrap(org, wrap.PurposeDeploy, user, inner)

	// k1 is behind: it has never seen KEK 2.
	_, _, err = k1.Unwrap(org, wrap.PurposeDeploy, user, under2)
	var uk *UnknownKeyError
	if !errors.As(err, &uk) || !errors.Is(err, ErrUnknownKey) || uk.ID != 2 || uk.Primary != 1 || !uk.Newer() {
		t.Fatalf("blob under a newer KEK: %v", err)
	}
	// KEK 1 retired from k2: gone for good.
	retired, err := k2.Without(1)
	if err != nil {
		t.Fatal(err)
	}
	if retired.Has(1) || !retired.Has(2) || retired.Primary() != 2 || !k2.Has(1) {
		t.Fatalf("Without(1): %v, and k2 %v", retired.IDs(), k2.IDs())
	}
	_, _, err = retired.Unwrap(org, wrap.PurposeDeploy, user, under1)
	if !errors.As(err, &uk) || uk.ID != 1 || uk.Newer() || !strings.Contains(err.Error(), "retired") {
		t.Fatalf("blob under a retired KEK: %v", err)
	}
	if got, _, err := retired.Unwrap(org, wrap.PurposeDeploy, user, under2); err != nil || !bytes.Equal(got, inner) {
		t.Fatalf("blob under the primary after the retirement: %v", err)
	}
	// The primary and a KEK it lacks cannot be retired.
	if _, err := k2.Without(2); err == nil {
		t.Fatal("retired the primary")
	}
	if _, err := k2.Without(7); err == nil {
		t.Fatal("retired a KEK it lacks")
	}
}
