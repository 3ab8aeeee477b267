// Package keys is capy's key hierarchy (DESIGN §2.1): seed phrase → master
// key M → project key PK → environment key EK → snippet and rid subkeys,
// plus the environment signing key, the device-bound inner wrap key and the
// invite and deploy token keys.
//
// Each kind of key is its own Go type, so a project key cannot be passed
// where a master key is meant. Every label lives in labels.go. The package
// is pure except for device.go, which loads the device secret from disk.
// It is for clients only: the service must never import it (a test in
// internal/server checks the import graph).
package keys

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"sync"

	"filippo.io/edwards25519"

	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/wrap"
)

// Size is the size of every symmetric key.
const Size = wrap.KeySize

// ErrKeyCheck means a master key does not belong to the org: a wrong
// phrase, or a corrupt or misdirected invite.
var ErrKeyCheck = errors.New("master key does not match the organisation's key check")

// MasterKey is M, the org's root key, derived from the seed phrase.
type MasterKey [Size]byte

// ProjectKey is PK, one per project, derived from M.
type ProjectKey [Size]byte

// EnvKey is EK, one per environment and epoch, derived from PK. Holding EK
// lets one read an environment (CI) but not sign a new version of it.
type EnvKey [Size]byte

// redacted is what every key type prints, so a key that reaches a format
// verb by mistake does not reach a log.
const redacted = "[redacted]"

// String redacts the key.
func (MasterKey) String() string { return redacted }

// String redacts the key.
func (ProjectKey) String() string { return redacted }

// String redacts the key.
func (EnvKey) String() string { return redacted }

// GoString redacts the key.
func (MasterKey) GoString() string { return redacted }

// GoString redacts the key.
func (ProjectKey) GoString() string { return redacted }

// GoString redacts the key.
func (EnvKey) GoString() string { return redacted }

// MasterKeyFromPhrase derives M = PBKDF2-HMAC-SHA512(canonical phrase,
// "capy-mnemonic", 2048, 32). Pass a phrase returned by ParsePhrase.
func MasterKeyFromPhrase(canonical string) (MasterKey, error) {
	out, err := pbkdf2.Key(sha512.New, canonical, []byte(mnemonicSalt), mnemonicRounds, Size)
	if err != nil {
		return MasterKey{}, fmt.Errorf("derive master key: %w", err)
	}
	var m MasterKey
	copy(m[:], out)
	return m, nil
}

// KeyCheck returns hex(HKDF-SHA256(M, orgID, "capy:key-check", 16)), stored
// on the org so a wrong key is caught before use.
func (m *MasterKey) KeyCheck(orgID string) string {
	out := wrap.DeriveKeyN(m[:], []byte(orgID), infoKeyCheck, keyCheckLen)
	return hex.EncodeToString(out)
}

// Verify checks M against an org's key check in constant time.
func (m *MasterKey) Verify(orgID, keyCheck string) error {
	want := m.KeyCheck(orgID)
	if subtle.ConstantTimeCompare([]byte(want), []byte(keyCheck)) != 1 {
		return ErrKeyCheck
	}
	return nil
}

// ProjectKey derives PK = HKDF(M, salt orgID, info "capy:project:" projectID).
func (m *MasterKey) ProjectKey(orgID, projectID string) ProjectKey {
	return wrap.DeriveKey(m[:], []byte(orgID), infoProject+projectID)
}

// EnvKey derives EK = HKDF(PK, salt projectID, info "capy:env:" envID ":" epoch).
func (p *ProjectKey) EnvKey(projectID, envID string, epoch uint32) EnvKey {
	return wrap.DeriveKey(p[:], []byte(projectID), infoEnv+envID+":"+epochText(epoch))
}

// SigningKey derives the environment's Ed25519 signing key for an epoch
// from seed HKDF(PK, salt envID, info "capy:env-sign:" epoch). Only
// holders of PK (members) can sign a new version.
func (p *ProjectKey) SigningKey(envID string, epoch uint32) ed25519.PrivateKey {
	seed := p.signingSeed(envID, epoch)
	return ed25519.NewKeyFromSeed(seed[:])
}

func (p *ProjectKey) signingSeed(envID string, epoch uint32) [Size]byte {
	return wrap.DeriveKey(p[:], []byte(envID), infoEnvSign+epochText(epoch))
}

// SigningPublicKey is the public half of SigningKey, what project.json pins
// and what a member checks a version's signature with.
//
// It is derived as RFC 8032 §5.1.5 says (SHA-512 of the seed, clamped
// scalar times the base point) with a variable-base constant-time scalar
// multiplication, not through ed25519.NewKeyFromSeed: the standard
// library's fixed-base multiplication first builds, once per process, a
// table of base-point multiples (32 × 8 points, each normalised with a
// field inversion) that costs 1–2.5 ms of CPU, about a quarter of a member's
// 100-variable `capy run`, which derives only this public key (the pin
// checks). The generic multiplication costs ~0.1 ms and needs no table.
// Signing (a push) still goes through SigningKey. Tests hold it to
// ed25519.NewKeyFromSeed and to RFC 8032's vectors (docs/decisions.md #97).
func (p *ProjectKey) SigningPublicKey(envID string, epoch uint32) ed25519.PublicKey {
	seed := p.signingSeed(envID, epoch)
	return ed25519PublicKey(seed[:])
}

// ed25519PublicKey is the Ed25519 public key of a 32-byte seed.
func ed25519PublicKey(seed []byte) ed25519.PublicKey {
	h := sha512.Sum512(seed)
	s, err := edwards25519.NewScalar().SetBytesWithClamping(h[:32])
	if err != nil {
		panic("keys: clamping a 32-byte scalar failed: " + err.Error()) // 32 bytes always clamp
	}
	return new(edwards25519.Point).ScalarMult(s, edwards25519.NewGeneratorPoint()).Bytes()
}

// EnvCipher holds the subkeys that encrypt and name one environment's
// variables at one epoch. It keeps the AES-GCM instance and the keyed rid
// HMAC, so opening a file of a thousand snippets pays for each key
// schedule once. It is safe for concurrent use.
type EnvCipher struct {
	EnvID   string
	Epoch   uint32
	snippet [Size]byte
	rid     [Size]byte
	sc      *wrap.SnippetCipher
	ridMAC  *ridMAC
	age     *lazyAge
	// MoreAge, when set, returns further identities a sealed value may be
	// for (a member's other environments and epochs). It is called only
	// for a sealed value this environment's own identity cannot open.
	MoreAge func() []*AgeIdentity
}

// ridMAC is the keyed rid HMAC, reset between names.
type ridMAC struct {
	mu  sync.Mutex
	mac hash.Hash
	sum [sha256.Size]byte
}

// String redacts the subkeys: EnvCipher is a struct, so without it fmt
// would print its unexported key arrays byte by byte.
func (c EnvCipher) String() string {
	return fmt.Sprintf("EnvCipher{%s %d %s}", c.EnvID, c.Epoch, redacted)
}

// GoString redacts the subkeys.
func (c EnvCipher) GoString() string { return c.String() }

// Cipher derives the snippet key HKDF(EK, envID, "capy:snippet") and the
// rid key HKDF(EK, envID, "capy:rid") for the environment.
func (e *EnvKey) Cipher(envID string, epoch uint32) *EnvCipher {
	c := &EnvCipher{
		EnvID:   envID,
		Epoch:   epoch,
		snippet: wrap.DeriveKey(e[:], []byte(envID), infoSnippet),
		rid:     wrap.DeriveKey(e[:], []byte(envID), infoRid),
		age:     &lazyAge{seed: e.ageSeed(envID, epoch)},
	}
	// AES-256 accepts every 32-byte key, so this cannot fail; if it ever
	// did, Seal and Open fall back to wrap's per-call functions, which
	// report the error.
	c.sc, _ = wrap.NewSnippetCipher(&c.snippet)
	c.ridMAC = &ridMAC{mac: hmac.New(sha256.New, c.rid[:])}
	return c
}

// ForWorker returns a copy of c for another goroutine to open or seal
// with at the same time: the same keys, its own rid MAC (which c guards
// with a lock) and its own AEAD.
func (c *EnvCipher) ForWorker() *EnvCipher {
	w := *c
	w.sc, _ = wrap.NewSnippetCipher(&w.snippet)
	if c.ridMAC != nil {
		w.ridMAC = &ridMAC{mac: hmac.New(sha256.New, w.rid[:])}
	}
	return &w
}

// Rid returns the 5-character rid of a variable name: the first five
// characters of b32(HMAC-SHA256(rid key, name)). It is a hint for diffing,
// not a key: two names may share one.
func (c *EnvCipher) Rid(name string) string {
	r := c.ridMAC
	if r == nil {
		mac := hmac.New(sha256.New, c.rid[:])
		mac.Write([]byte(name))
		return ident.B32.EncodeToString(mac.Sum(nil))[:wrap.RidLen]
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mac.Reset()
	r.mac.Write([]byte(name))
	sum := r.mac.Sum(r.sum[:0])
	// Five base32 characters need only the first 25 bits: encode 5 bytes.
	var out [8]byte
	ident.B32.Encode(out[:], sum[:5])
	return string(out[:wrap.RidLen])
}

// Seal encrypts a variable into a snippet.
func (c *EnvCipher) Seal(name, value string, literal bool) (string, error) {
	var flags byte
	if literal {
		flags = wrap.FlagLiteral
	}
	if c.sc == nil {
		return wrap.SealSnippet(&c.snippet, c.Rid(name), name, flags, value)
	}
	return c.sc.Seal(c.Rid(name), name, flags, value)
}

// Open decrypts the snippet found on variable name; see wrap.OpenSnippet.
func (c *EnvCipher) Open(name, snippet string) (value string, literal bool, err error) {
	var v string
	var flags byte
	if c.sc == nil {
		v, flags, err = wrap.OpenSnippet(&c.snippet, c.Rid(name), name, snippet)
	} else {
		v, flags, err = c.sc.Open(c.Rid(name), name, snippet)
	}
	if err != nil {
		return "", false, err
	}
	return v, flags&wrap.FlagLiteral != 0, nil
}

// OpenAny decrypts a snippet found without a name (an environment blob
// line) and returns the variable it holds, after checking its rid.
func (c *EnvCipher) OpenAny(snippet string) (name, value string, literal bool, err error) {
	var flags byte
	var rid string
	if c.sc == nil {
		name, value, flags, rid, err = wrap.OpenSnippetAny(&c.snippet, snippet)
	} else {
		name, value, flags, rid, err = c.sc.OpenAny(snippet)
	}
	if err != nil {
		return "", "", false, err
	}
	if rid != c.Rid(name) {
		return "", "", false, fmt.Errorf("%w: %s", wrap.ErrSnippetRid, name)
	}
	return name, value, flags&wrap.FlagLiteral != 0, nil
}

func epochText(epoch uint32) string { return strconv.FormatUint(uint64(epoch), 10) }
