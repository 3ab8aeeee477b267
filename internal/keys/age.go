package keys

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"filippo.io/age"

	"github.com/capy-oss/capy/internal/wrap"
)

// MaxSealedValue caps the plaintext of a sealed value, like a snippet's
// value (64 KiB).
const MaxSealedValue = 64 << 10

// Sealed-value errors. Callers name the variable; the text never holds
// the value.
var (
	// ErrSealedRecipient: the value was sealed to a recipient this key
	// cannot open (another project, or an environment or epoch whose EK
	// is not held here).
	ErrSealedRecipient = errors.New("sealed to a recipient this key cannot open")
	// ErrSealedTampered: the age file names our recipient but does not
	// decrypt: changed, truncated or forged.
	ErrSealedTampered = errors.New("sealed value does not decrypt (changed or truncated)")
	// ErrSealedTooLarge: the value is over MaxSealedValue.
	ErrSealedTooLarge = errors.New("sealed value is over 64 KiB")
	// ErrRecipient: a recipient that is not an age post-quantum one.
	ErrRecipient = errors.New("not an age post-quantum recipient (age1pq1…)")
)

// AgeIdentity is an environment's age hybrid post-quantum identity
// (ML-KEM-768 + X25519) for one epoch, derived from EK, so whoever holds
// EK (members, CI runners) can open what contributors seal to its
// recipient.
type AgeIdentity struct {
	id *age.HybridIdentity
}

// String redacts the identity.
func (AgeIdentity) String() string { return redacted }

// GoString redacts the identity.
func (AgeIdentity) GoString() string { return redacted }

// AgeIdentity derives the environment's age identity: its 32-byte
// MLKEM768-X25519 seed is HKDF(EK, salt envID, info "capy:age-identity:"
// epoch), which age encodes as AGE-SECRET-KEY-PQ-1… (docs/protocol.md §14).
func (e *EnvKey) AgeIdentity(envID string, epoch uint32) *AgeIdentity {
	return ageIdentityFromSeed(e.ageSeed(envID, epoch))
}

func (e *EnvKey) ageSeed(envID string, epoch uint32) [Size]byte {
	return wrap.DeriveKey(e[:], []byte(envID), infoAgeIdentity+epochText(epoch))
}

func ageIdentityFromSeed(seed [Size]byte) *AgeIdentity {
	id, err := age.ParseHybridIdentity(strings.ToUpper(bech32Encode(ageIdentityHRP, seed[:])))
	if err != nil {
		// Every 32-byte seed is a valid hybrid key and the encoding is
		// ours: this is a programming error, not bad input.
		panic(fmt.Sprintf("keys: age identity: %v", err))
	}
	return &AgeIdentity{id: id}
}

// Recipient is the identity's public recipient, age1pq1…, what
// project.json pins and contributors encrypt to.
func (a *AgeIdentity) Recipient() string { return a.id.Recipient().String() }

// SealTo encrypts value to an age post-quantum recipient and returns the
// sealed value (wrap.SealedPrefix + base64url of the age file). Each call
// is its own age encryption: fresh file key, fresh encapsulation.
func SealTo(recipient, value string) (string, error) {
	if !strings.HasPrefix(recipient, "age1pq1") {
		return "", ErrRecipient
	}
	r, err := age.ParseHybridRecipient(recipient)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrRecipient, err)
	}
	if len(value) > MaxSealedValue {
		return "", ErrSealedTooLarge
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, r)
	if err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	if _, err := io.WriteString(w, value); err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	return wrap.FormatSealed(buf.Bytes()), nil
}

// Open decrypts a sealed value. It returns wrap.ErrSealedFormat for a
// malformed one, ErrSealedRecipient when it was sealed to someone else,
// ErrSealedTampered when it names us but does not decrypt, and
// ErrSealedTooLarge for a value over the cap.
func (a *AgeIdentity) Open(text string) (string, error) {
	return OpenSealed(text, a)
}

// OpenSealed tries each identity in turn (an environment's epochs).
func OpenSealed(text string, ids ...*AgeIdentity) (string, error) {
	file, err := wrap.ParseSealed(text)
	if err != nil {
		return "", err
	}
	list := make([]age.Identity, 0, len(ids))
	for _, id := range ids {
		list = append(list, id.id)
	}
	r, err := age.Decrypt(bytes.NewReader(file), list...)
	if err != nil {
		var none *age.NoIdentityMatchError
		if errors.As(err, &none) {
			return "", ErrSealedRecipient
		}
		return "", ErrSealedTampered
	}
	out, err := io.ReadAll(io.LimitReader(r, MaxSealedValue+1))
	if err != nil {
		return "", ErrSealedTampered
	}
	if len(out) > MaxSealedValue {
		return "", ErrSealedTooLarge
	}
	return string(out), nil
}

// lazyAge is an EnvCipher's age identity, built on first use: expanding
// the ML-KEM key costs more than every other subkey together, and most
// files hold no sealed value.
type lazyAge struct {
	seed [Size]byte
	once sync.Once
	id   *AgeIdentity
}

func (l *lazyAge) identity() *AgeIdentity {
	l.once.Do(func() { l.id = ageIdentityFromSeed(l.seed) })
	return l.id
}

// OpenSealed decrypts a sealed value found in the environment's file with
// the environment's identity at this epoch, then with MoreAge's (see
// OpenSealed for the errors).
func (c *EnvCipher) OpenSealed(text string) (string, error) {
	if c.age == nil {
		return "", ErrSealedRecipient
	}
	v, err := OpenSealed(text, c.age.identity())
	if errors.Is(err, ErrSealedRecipient) && c.MoreAge != nil {
		if more := c.MoreAge(); len(more) > 0 {
			v, err = OpenSealed(text, more...)
		}
	}
	return v, err
}

// AgeRecipient is the environment's recipient at this epoch.
func (c *EnvCipher) AgeRecipient() string {
	if c.age == nil {
		return ""
	}
	return c.age.identity().Recipient()
}
