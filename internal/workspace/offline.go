package workspace

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/privfile"
)

// The environment keys a member's machine keeps for its org's offline
// grace (docs/decisions.md #88) live in this service's directory only
// (never the legacy layout), one file per environment:
// services/<s>/orgs/<org>/users/<user>/offline/<env>, 0600 in 0700
// directories. What is in them is sealed by the caller (keys.OfflineKey);
// this file only keeps, lists and deletes them.

// maxOfflineFile bounds a kept key's file (keys bounds its format lower).
const maxOfflineFile = 1024

func offlineRel(userID string, rest ...string) []string {
	return append([]string{"users", userID, "offline"}, rest...)
}

// ReadOfflineKey returns the kept key of an environment; fs.ErrNotExist
// when there is none.
func (o Org) ReadOfflineKey(userID, envID string) ([]byte, error) {
	p, err := o.offlinePath(userID, envID)
	if err != nil {
		return nil, err
	}
	return privfile.ReadPrivate(p, maxOfflineFile)
}

// WriteOfflineKey atomically replaces the kept key of an environment.
func (o Org) WriteOfflineKey(userID, envID string, data []byte) error {
	if _, err := o.offlinePath(userID, envID); err != nil {
		return err
	}
	return o.write(data, offlineRel(userID, envID)...)
}

// OfflineKeys lists the environments of the org that have a kept key.
func (o Org) OfflineKeys(userID string) ([]string, error) {
	if err := ident.CheckID(ident.User, userID); err != nil {
		return nil, err
	}
	dir, err := o.path(offlineRel(userID)...)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if ident.CheckID(ident.Env, e.Name()) == nil {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// DeleteOfflineKey deletes the kept key of an environment (none is fine).
func (o Org) DeleteOfflineKey(userID, envID string) error {
	p, err := o.offlinePath(userID, envID)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete the key kept for offline use: %w", err)
	}
	return nil
}

// DeleteOfflineKeys deletes every key the member keeps for the org.
func (o Org) DeleteOfflineKeys(userID string) error {
	if err := ident.CheckID(ident.User, userID); err != nil {
		return err
	}
	dir, err := o.path(offlineRel(userID)...)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("delete the keys kept for offline use: %w", err)
	}
	return nil
}

func (o Org) offlinePath(userID, envID string) (string, error) {
	if err := ident.CheckID(ident.User, userID); err != nil {
		return "", err
	}
	if err := ident.CheckID(ident.Env, envID); err != nil {
		return "", err
	}
	return o.path(offlineRel(userID, envID)...)
}

// DeleteServiceOfflineKeys deletes every environment key this machine
// keeps for offline use from a service, in every org and for every
// member: what logout and a refused session (401/403) do. Nothing there
// is fine.
func (h *Home) DeleteServiceOfflineKeys(service string) error {
	if c, err := ident.CheckServiceURL(service); err != nil || c != service {
		return fmt.Errorf("service URL %q is not in canonical form", service)
	}
	dirs, err := filepath.Glob(filepath.Join(h.serviceDir(service), "orgs", "*", "users", "*", "offline"))
	if err != nil {
		return err
	}
	var errs []error
	for _, d := range dirs {
		if err := os.RemoveAll(d); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("delete the keys kept for offline use: %w", errors.Join(errs...))
	}
	return nil
}
