// Package kekring holds the service's key-encryption keys (KEKs) and
// applies the outer wrap with them (DESIGN §2.6). The newest KEK is the
// primary: new blobs are wrapped under it; older ones still open, and a
// blob opened under an older KEK is re-wrapped so old keys can be retired.
//
// KEKs come from a key file (created 0600 on first start) or from the
// CAPYD_KEK environment variable, never from the database: a stolen
// database alone then holds only doubly-wrapped blobs.
package kekring

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"encoding/hex"

	"github.com/capy-oss/capy/internal/privfile"
	"github.com/capy-oss/capy/internal/wrap"
)

// lineMagic starts every line of a keyring file.
const lineMagic = "capyd-kek 1"

// Errors.
var (
	ErrFormat     = errors.New("keyring is malformed (expected lines \"capyd-kek 1 <id> <64 hex digits>\")")
	ErrEmpty      = errors.New("keyring has no keys")
	ErrUnknownKey = errors.New("blob was wrapped under a key this keyring does not have")
)

// UnknownKeyError is ErrUnknownKey for one blob: the KEK id its header
// names and the primary of the keyring that lacks it.
type UnknownKeyError struct {
	ID      uint32 // the id in the blob's header
	Primary uint32 // this keyring's primary
}

func (e *UnknownKeyError) Error() string {
	if e.Newer() {
		return fmt.Sprintf("blob was wrapped under KEK %d, newer than this keyring's primary %d: the keyring is out of date (reload it)", e.ID, e.Primary)
	}
	return fmt.Sprintf("blob was wrapped under KEK %d, which this keyring (primary %d) does not hold: retired or removed", e.ID, e.Primary)
}

// Is makes an *UnknownKeyError match ErrUnknownKey.
func (e *UnknownKeyError) Is(target error) bool { return target == ErrUnknownKey }

// Newer reports whether the blob's KEK is newer than this keyring's
// primary: the blob was made by a service holding a keyring this one has
// not caught up with (a replica not yet given the rotated keyring), so
// the key may still arrive. Otherwise the key was retired or removed.
func (e *UnknownKeyError) Newer() bool { return e.ID > e.Primary }

// Ring is an immutable set of KEKs.
type Ring struct {
	keys    map[uint32][wrap.KeySize]byte
	primary uint32
}

// String never prints key material.
func (k *Ring) String() string {
	return fmt.Sprintf("keyring(%d keys, primary %d)", len(k.keys), k.primary)
}

// Primary returns the id of the key new blobs are wrapped under.
func (k *Ring) Primary() uint32 { return k.primary }

// IDs returns the key ids in ascending order.
func (k *Ring) IDs() []uint32 {
	ids := make([]uint32, 0, len(k.keys))
	for id := range k.keys {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// Has reports whether the keyring holds the KEK id.
func (k *Ring) Has(id uint32) bool {
	_, ok := k.keys[id]
	return ok
}

// Without returns a new keyring without the KEK id (retirement). The
// primary cannot be removed: new blobs are wrapped under it.
func (k *Ring) Without(id uint32) (*Ring, error) {
	if !k.Has(id) {
		return nil, fmt.Errorf("keyring has no KEK %d", id)
	}
	if id == k.primary {
		return nil, fmt.Errorf("KEK %d is the primary", id)
	}
	next := &Ring{keys: map[uint32][wrap.KeySize]byte{}, primary: k.primary}
	for kid, v := range k.keys {
		if kid != id {
			next.keys[kid] = v
		}
	}
	return next, nil
}

// Parse reads keyring text: one "capyd-kek 1 <id> <hex key>" per line
// (blank lines ignored; ';' also separates entries so the text fits one
// environment variable). The highest id is the primary.
func Parse(text string) (*Ring, error) {
	k := &Ring{keys: map[uint32][wrap.KeySize]byte{}}
	for _, line := range strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == ';' }) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 4 || f[0]+" "+f[1] != lineMagic {
			return nil, ErrFormat
		}
		id, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil || f[2] != strconv.FormatUint(id, 10) {
			return nil, ErrFormat
		}
		raw, err := hex.DecodeString(f[3])
		if err != nil || len(raw) != wrap.KeySize {
			return nil, ErrFormat
		}
		if _, dup := k.keys[uint32(id)]; dup {
			return nil, fmt.Errorf("%w: key id %d appears twice", ErrFormat, id)
		}
		var key [wrap.KeySize]byte
		copy(key[:], raw)
		k.keys[uint32(id)] = key
		if uint32(id) >= k.primary {
			k.primary = uint32(id)
		}
	}
	if len(k.keys) == 0 {
		return nil, ErrEmpty
	}
	return k, nil
}

// Encode returns the keyring text (ascending ids, one line each).
func (k *Ring) Encode() string {
	var b strings.Builder
	for _, id := range k.IDs() {
		key := k.keys[id]
		fmt.Fprintf(&b, "%s %d %s\n", lineMagic, id, hex.EncodeToString(key[:]))
	}
	return b.String()
}

// Generate returns a keyring with one fresh key, id 1.
func Generate() (*Ring, error) {
	var key [wrap.KeySize]byte
	if _, err := rand.Read(key[:]); err != nil {
		return nil, fmt.Errorf("read random kek: %w", err)
	}
	return &Ring{keys: map[uint32][wrap.KeySize]byte{1: key}, primary: 1}, nil
}

// Rotate returns a new keyring with a fresh primary key added (id =
// highest + 1); all old keys stay so existing blobs still open.
func (k *Ring) Rotate() (*Ring, error) {
	var key [wrap.KeySize]byte
	if _, err := rand.Read(key[:]); err != nil {
		return nil, fmt.Errorf("read random kek: %w", err)
	}
	next := &Ring{keys: map[uint32][wrap.KeySize]byte{}, primary: k.primary + 1}
	for id, v := range k.keys {
		next.keys[id] = v
	}
	next.keys[next.primary] = key
	return next, nil
}

// Wrap adds the outer wrap under the primary key.
func (k *Ring) Wrap(orgID, purpose, subject string, inner []byte) ([]byte, error) {
	key := k.keys[k.primary]
	return wrap.SealOuter(&key, k.primary, orgID, purpose, subject, inner)
}

// Unwrap strips the outer wrap. When the blob was made under an older key,
// rewrapped holds the same inner blob wrapped under the primary, for the
// caller to hand back (or store) so the old key can eventually be
// retired. A blob under a KEK this keyring lacks is an *UnknownKeyError
// (ErrUnknownKey).
func (k *Ring) Unwrap(orgID, purpose, subject string, outer []byte) (inner, rewrapped []byte, err error) {
	kid, err := wrap.OuterKeyID(outer)
	if err != nil {
		return nil, nil, err
	}
	key, ok := k.keys[kid]
	if !ok {
		return nil, nil, &UnknownKeyError{ID: kid, Primary: k.primary}
	}
	inner, err = wrap.OpenOuter(&key, orgID, purpose, subject, outer)
	if err != nil {
		return nil, nil, err
	}
	if kid != k.primary {
		rewrapped, err = k.Wrap(orgID, purpose, subject, inner)
		if err != nil {
			return nil, nil, err
		}
	}
	return inner, rewrapped, nil
}

// MaxFileSize bounds a keyring file (about 11,000 keys); a larger one is
// refused.
const MaxFileSize = 1 << 20

// LoadOrCreate reads the keyring file at path, creating it with one fresh
// key (0600, directory 0700) when it does not exist. A file with group or
// world permissions, or a symlink, is refused. The file appears complete
// or not at all (privfile.CreateOnce): of replicas sharing the directory
// one creates it and the others, and every concurrent reader, get that
// keyring whole.
func LoadOrCreate(path string) (*Ring, error) {
	k, err := Load(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	k, err = Generate()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create keyring directory: %w", err)
	}
	data, created, err := privfile.CreateOnce(path, []byte(k.Encode()), 0o600, MaxFileSize)
	if err != nil {
		return nil, err
	}
	if created {
		return k, nil
	}
	return parseFile(path, data) // another replica won the race
}

// Load reads the keyring file at path: a regular file (not a symlink) with
// no group or world permission bit, of at most MaxFileSize bytes
// (privfile.ReadPrivate).
func Load(path string) (*Ring, error) {
	data, err := privfile.ReadPrivate(path, MaxFileSize)
	if err != nil {
		return nil, err
	}
	return parseFile(path, data)
}

func parseFile(path string, data []byte) (*Ring, error) {
	k, err := Parse(string(data))
	if err != nil {
		return nil, fmt.Errorf("keyring %s: %w", path, err)
	}
	return k, nil
}

// Save replaces the keyring file atomically (0600; temporary file, fsync,
// rename, fsync of the directory).
func Save(path string, k *Ring) error {
	if err := privfile.WriteAtomicWith(path, []byte(k.Encode()), privfile.Options{Private: true}); err != nil {
		return fmt.Errorf("replace keyring: %w", err)
	}
	return nil
}
