package workspace

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/privfile"
)

// An org id is chosen by whoever creates the org, so two services can
// hold orgs with the same id: one of them may be an attacker's, who
// invites a member of the real org to theirs. Everything this machine
// keeps about an org (key.enc, the cached key check, the audit heads
// seen) therefore lives under the service it came from:
//
//	services/<first 16 bytes of SHA-256(canonical URL), hex>/
//	    service                          the URL, for people to read
//	    orgs/<org>/key_check
//	    orgs/<org>/audit_head.json
//	    orgs/<org>/pins_checked
//	    orgs/<org>/users/<user>/key.enc
//
// A hash, not the URL itself, names the directory: it is a valid file
// name on every system whatever the URL holds, and no URL can steer it
// elsewhere.
//
// Homes written before that kept the same files in orgs/<org>/, which does
// not say which service they came from. They are read, never written: a
// file missing from a service's directory is looked for there, so an
// existing home keeps working, and nothing written for one service can
// change what another one reads. After an unlock has verified a legacy
// key.enc and key check against a service (AdoptLegacy), they are copied
// into that service's directory (docs/decisions.md).

// Org is one organisation of one service in the capy home. Every file an
// org has on this machine is reached through it, so that none is read or
// written without saying which service it belongs to.
type Org struct {
	h       *Home
	service string // canonical service URL
	id      string
}

// Org returns the files of org orgID at the service whose canonical URL
// is service (client.BaseURL()). Both are checked when a file is used.
func (h *Home) Org(service, orgID string) Org {
	return Org{h: h, service: service, id: orgID}
}

// serviceDir returns the directory of the home that holds what this
// machine keeps for a service (canonical URL).
func (h *Home) serviceDir(service string) string {
	sum := sha256.Sum256([]byte(service))
	return filepath.Join(h.Dir, "services", hex.EncodeToString(sum[:16]))
}

// check refuses a service URL that is not canonical (it would name a
// second directory for the same service) and a malformed org id (it
// names a directory).
func (o Org) check() error {
	c, err := ident.CheckServiceURL(o.service)
	if err != nil {
		return fmt.Errorf("service of org %s: %w", o.id, err)
	}
	if c != o.service {
		return fmt.Errorf("service URL %q is not in canonical form (%q)", o.service, c)
	}
	return ident.CheckID(ident.Org, o.id)
}

// paths returns where a file of the org (rel, below orgs/<org>) is kept
// for this service, and where an older capy kept it.
func (o Org) paths(rel ...string) (scoped, legacy string, err error) {
	if err := o.check(); err != nil {
		return "", "", err
	}
	tail := filepath.Join(append([]string{"orgs", o.id}, rel...)...)
	return filepath.Join(o.h.serviceDir(o.service), tail), filepath.Join(o.h.Dir, tail), nil
}

// path is the file's path in this service's directory.
func (o Org) path(rel ...string) (string, error) {
	p, _, err := o.paths(rel...)
	return p, err
}

// read reads a private file of the org: this service's copy, or when it
// has none, the legacy one. It returns the path read; a missing file
// gives fs.ErrNotExist.
func (o Org) read(max int64, rel ...string) ([]byte, string, error) {
	scoped, legacy, err := o.paths(rel...)
	if err != nil {
		return nil, "", err
	}
	data, err := privfile.ReadPrivate(scoped, max)
	if !errors.Is(err, fs.ErrNotExist) {
		return data, scoped, err
	}
	data, err = privfile.ReadPrivate(legacy, max)
	return data, legacy, err
}

// mkdirs creates this service's directory, with the service file naming
// its URL, and below it the directories parts, each 0700 (an existing one
// must be private and not a symlink).
func (o Org) mkdirs(parts ...string) error {
	sdir := o.h.serviceDir(o.service)
	if err := ensurePrivateDir(filepath.Join(o.h.Dir, "services")); err != nil {
		return err
	}
	if err := ensurePrivateDir(sdir); err != nil {
		return err
	}
	name := filepath.Join(sdir, "service")
	if _, err := os.Lstat(name); errors.Is(err, fs.ErrNotExist) {
		if err := writePrivate(name, []byte(o.service+"\n")); err != nil {
			return fmt.Errorf("name the service of %s: %w", sdir, err)
		}
	}
	d := sdir
	for _, part := range parts {
		d = filepath.Join(d, part)
		if err := ensurePrivateDir(d); err != nil {
			return err
		}
	}
	return nil
}

// write replaces a private file of the org (rel, below orgs/<org>) in
// this service's directory, never the legacy one.
func (o Org) write(data []byte, rel ...string) error {
	p, err := o.path(rel...)
	if err != nil {
		return err
	}
	if err := o.mkdirs(append([]string{"orgs", o.id}, rel[:len(rel)-1]...)...); err != nil {
		return err
	}
	return writePrivate(p, data)
}

// ReadKeyEnc returns the outer blob stored as key.enc for a member of the
// org; the error matches fs.ErrNotExist when this machine has none.
func (o Org) ReadKeyEnc(userID string) ([]byte, error) {
	if err := ident.CheckID(ident.User, userID); err != nil {
		return nil, err
	}
	data, _, err := o.read(4096, "users", userID, "key.enc")
	return data, err
}

// WriteKeyEnc atomically replaces key.enc (0600, directories 0700).
func (o Org) WriteKeyEnc(userID string, outer []byte) error {
	if err := ident.CheckID(ident.User, userID); err != nil {
		return err
	}
	return o.write(outer, "users", userID, "key.enc")
}

// KeyCheck returns the org's key check cached on this machine ("" if none).
func (o Org) KeyCheck() (string, error) {
	data, _, err := o.read(128, "key_check")
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	return strings.TrimSpace(string(data)), err
}

// SetKeyCheck caches the org's key check (verified against M by the caller).
func (o Org) SetKeyCheck(check string) error {
	return o.write([]byte(check+"\n"), "key_check")
}

// AdoptLegacy copies into this service's directory the key.enc (outer)
// and key check that an unlock through this service has just verified,
// where the directory has none of its own: they were read from the legacy
// layout. Only a verified unlock may call it: the service opened outer's
// wrap, this machine's device key opened the inner layer, and M matched
// check. A service that merely reuses the org id can do neither, so it
// never gets another service's material.
func (o Org) AdoptLegacy(userID string, outer []byte, check string) error {
	if err := ident.CheckID(ident.User, userID); err != nil {
		return err
	}
	for _, f := range []struct {
		data []byte
		rel  []string
	}{
		{outer, []string{"users", userID, "key.enc"}},
		{[]byte(check + "\n"), []string{"key_check"}},
	} {
		p, err := o.path(f.rel...)
		if err != nil {
			return err
		}
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			continue // its own copy (or something to refuse when read)
		}
		if err := o.write(f.data, f.rel...); err != nil {
			return fmt.Errorf("copy %s of org %s into %s: %w", f.rel[len(f.rel)-1], o.id, o.h.serviceDir(o.service), err)
		}
	}
	return nil
}
