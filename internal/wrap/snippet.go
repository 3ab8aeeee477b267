package wrap

import (
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/capy-oss/capy/internal/ident"
)

// RidLen is the length of a rid, the 5-character base32 hint that names a
// variable in a snippet without revealing it.
const RidLen = 5

// FlagLiteral marks a value that came single-quoted: it is never expanded.
// All other flag bits are reserved and must be zero.
const FlagLiteral byte = 0x01

const knownFlags = FlagLiteral

// minSnippetBox is iv + tag; a snippet's box is iv || ciphertext || tag.
const minSnippetBox = NonceSize + TagSize

// MaxSnippetLen bounds the text of one snippet (64 KiB of value plus name
// and overhead), so a hostile file or service cannot make us allocate much.
const MaxSnippetLen = 96 << 10

// Snippet errors. ErrSnippetName and ErrSnippetRid are wrapped in messages
// that name the variables involved (names are not secret; values are).
var (
	ErrSnippetFormat = errors.New("not a well-formed capy snippet")
	ErrSnippetFlags  = errors.New("snippet uses unknown flags (written by a newer capy?)")
	ErrSnippetName   = errors.New("snippet belongs to another variable")
	ErrSnippetRid    = errors.New("snippet rid does not match its variable name")
)

// IsSnippet reports whether a value looks like a snippet (has the prefix).
// It does not validate the rest; ParseSnippet does.
func IsSnippet(value string) bool { return strings.HasPrefix(value, snippetPrefix) }

// Snippet is a parsed `capy:` snippet.
type Snippet struct {
	Rid string // 5 base32 characters
	Box []byte // iv || ciphertext || tag
}

// String formats the snippet as `capy:` rid `:` b64u(box).
func (s Snippet) String() string {
	return snippetPrefix + s.Rid + ":" + B64.EncodeToString(s.Box)
}

// ParseSnippet checks a snippet's shape and splits it. It does not decrypt.
func ParseSnippet(text string) (Snippet, error) {
	if len(text) > MaxSnippetLen || !strings.HasPrefix(text, snippetPrefix) {
		return Snippet{}, ErrSnippetFormat
	}
	rest := text[len(snippetPrefix):]
	if len(rest) < RidLen+1 || rest[RidLen] != ':' {
		return Snippet{}, ErrSnippetFormat
	}
	rid := rest[:RidLen]
	if !isRid(rid) {
		return Snippet{}, ErrSnippetFormat
	}
	box, err := DecodeB64(rest[RidLen+1:])
	if err != nil || len(box) < minSnippetBox {
		return Snippet{}, ErrSnippetFormat
	}
	return Snippet{Rid: rid, Box: box}, nil
}

func isRid(s string) bool {
	if len(s) != RidLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// SnippetCipher seals and opens snippets under one snippet key. It holds
// the AES-GCM instance, so an environment's hundreds of snippets pay for
// the key schedule once. It is safe for concurrent use.
type SnippetCipher struct {
	aead cipher.AEAD
}

// NewSnippetCipher returns the snippet cipher of a snippet key.
func NewSnippetCipher(key *[KeySize]byte) (*SnippetCipher, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	return &SnippetCipher{aead: aead}, nil
}

// SealSnippet encrypts one variable under a snippet key: plaintext
// NAME || 0x00 || flags || VALUE, AAD "capy:v1:" rid, fresh random IV.
// rid must be the rid of name under the environment's rid key.
func SealSnippet(key *[KeySize]byte, rid, name string, flags byte, value string) (string, error) {
	return sealSnippet(rand.Reader, key, rid, name, flags, value)
}

func sealSnippet(rnd io.Reader, key *[KeySize]byte, rid, name string, flags byte, value string) (string, error) {
	c, err := NewSnippetCipher(key)
	if err != nil {
		return "", err
	}
	return c.seal(rnd, rid, name, flags, value)
}

// Seal is SealSnippet with the cipher's key.
func (c *SnippetCipher) Seal(rid, name string, flags byte, value string) (string, error) {
	return c.seal(rand.Reader, rid, name, flags, value)
}

func (c *SnippetCipher) seal(rnd io.Reader, rid, name string, flags byte, value string) (string, error) {
	if err := ident.CheckName(name); err != nil {
		return "", err
	}
	if !isRid(rid) {
		return "", fmt.Errorf("seal snippet: %w", ErrSnippetFormat)
	}
	if flags&^knownFlags != 0 {
		return "", ErrSnippetFlags
	}
	pt := make([]byte, 0, len(name)+2+len(value))
	pt = append(pt, name...)
	pt = append(pt, 0, flags)
	pt = append(pt, value...)
	box := make([]byte, NonceSize, NonceSize+len(pt)+TagSize)
	if _, err := io.ReadFull(rnd, box); err != nil {
		return "", fmt.Errorf("read random iv: %w", err)
	}
	box = c.aead.Seal(box, box[:NonceSize], pt, []byte(snippetAADPrefix+rid))
	s := Snippet{Rid: rid, Box: box}.String()
	if len(s) > MaxSnippetLen {
		return "", fmt.Errorf("value of %s is too large for a snippet", name)
	}
	return s, nil
}

// OpenSnippet decrypts a snippet found on the .env key name, whose rid
// under the environment's rid key is wantRid. It refuses a snippet whose
// sealed name differs from name (a snippet copied onto another variable)
// and one whose rid does not match. It returns the value and its flags.
func OpenSnippet(key *[KeySize]byte, wantRid, name, text string) (value string, flags byte, err error) {
	c, err := NewSnippetCipher(key)
	if err != nil {
		return "", 0, err
	}
	return c.Open(wantRid, name, text)
}

// Open is OpenSnippet with the cipher's key.
func (c *SnippetCipher) Open(wantRid, name, text string) (value string, flags byte, err error) {
	s, sealedName, flags, value, err := c.open(text)
	if err != nil {
		return "", 0, err
	}
	if sealedName != name {
		return "", 0, fmt.Errorf("%w: the snippet on %s was made for %s", ErrSnippetName, name, sealedName)
	}
	if s.Rid != wantRid {
		return "", 0, fmt.Errorf("%w: %s", ErrSnippetRid, name)
	}
	return value, flags, nil
}

// OpenSnippetAny decrypts a snippet that is not found under a name (a line
// of an environment blob) and returns the name sealed inside, its value,
// flags and the snippet's rid. The caller must check rid = rid(name).
func OpenSnippetAny(key *[KeySize]byte, text string) (name, value string, flags byte, rid string, err error) {
	c, err := NewSnippetCipher(key)
	if err != nil {
		return "", "", 0, "", err
	}
	return c.OpenAny(text)
}

// OpenAny is OpenSnippetAny with the cipher's key.
func (c *SnippetCipher) OpenAny(text string) (name, value string, flags byte, rid string, err error) {
	s, name, flags, value, err := c.open(text)
	if err != nil {
		return "", "", 0, "", err
	}
	return name, value, flags, s.Rid, nil
}

func (c *SnippetCipher) open(text string) (s Snippet, name string, flags byte, value string, err error) {
	s, err = ParseSnippet(text)
	if err != nil {
		return Snippet{}, "", 0, "", err
	}
	// Decrypt in place: the box was decoded into a fresh buffer.
	ct := s.Box[NonceSize:]
	pt, err := c.aead.Open(ct[:0], s.Box[:NonceSize], ct, []byte(snippetAADPrefix+s.Rid))
	if err != nil {
		return Snippet{}, "", 0, "", ErrDecrypt
	}
	sealedName, rest, ok := bytes.Cut(pt, []byte{0})
	if !ok || len(rest) < 1 || ident.CheckName(string(sealedName)) != nil {
		return Snippet{}, "", 0, "", ErrSnippetFormat
	}
	flags = rest[0]
	if flags&^knownFlags != 0 {
		return Snippet{}, "", 0, "", ErrSnippetFlags
	}
	return s, string(sealedName), flags, string(rest[1:]), nil
}
