// Package share is the format of capy's one-time shares to a browser
// (docs/protocol.md "Shares"): the request code a recipient's page shows
// and its fingerprint of the page's public key, the sealed blob the
// member's CLI uploads (values under a fresh AES-256-GCM data key, a
// fresh IV per value, each bound to the share's id, its place and the
// number of values; the data key wrapped with RSA-OAEP-2048/SHA-256 to
// the browser's key, or carried in a link's fragment), and its parser.
//
// It is pure: no I/O but crypto/rand. The page's script
// (internal/web/static/share.js, s.js) implements the same formats with
// WebCrypto; the browser tests check that the two agree.
package share

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/capy-oss/capy/internal/ident"
)

// Labels: every hash input, OAEP label and AAD starts with its own, so no
// value made for one purpose is accepted for another.
const (
	fingerprintLabel = "capy-share-request-v1\x00"
	wrapLabel        = "capy-share-wrap-v1\x00"
	entryLabel       = "capy-share-entry-v1\x00"
)

// FingerprintLen is the fingerprint's length in base32 characters: 20
// characters, the first 100 bits of SHA-256 over the label, the request's
// id and the public key (docs/decisions.md #72).
const FingerprintLen = 20

// Limits of a sealed share.
const (
	MaxEntries    = 100
	MaxValueBytes = 32 << 10
	// MaxBlobBytes bounds the whole blob (the API's body limit, 64 KiB,
	// holds it in base64 with room for the rest of the request).
	MaxBlobBytes = 46 << 10
	// RSABits and RSAExponent are the only public keys a request may
	// carry: what the page makes (RSA-OAEP-2048, e = 65537).
	RSABits     = 2048
	RSAExponent = 65537
	dataKeyLen  = 32
	ivLen       = 12
	tagLen      = 16
)

// Errors callers tell apart.
var (
	ErrBadCode        = errors.New("malformed share request code")
	ErrFingerprint    = errors.New("the service's public key for this request does not match the code's fingerprint")
	ErrBadKey         = errors.New("the request's public key is not an RSA-2048 key with exponent 65537")
	ErrBadBlob        = errors.New("malformed share blob")
	ErrDecrypt        = errors.New("the share does not decrypt with this key")
	ErrBadLink        = errors.New("malformed share link")
	ErrTooMuch        = errors.New("too much to share at once")
	ErrNothingToShare = errors.New("nothing to share")
)

// Code is a share request's code: the request's id and the fingerprint
// of the public key the recipient's page made.
type Code struct {
	ID          string
	Fingerprint string
}

// String is the code as the page shows it: 30 characters in groups of
// five, the id's two groups first.
func (c Code) String() string {
	s := c.ID + c.Fingerprint
	var b strings.Builder
	for i := 0; i < len(s); i += 5 {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(s[i:min(i+5, len(s))])
	}
	return b.String()
}

// ParseCode reads a code as a person may type or paste it: case, spaces
// and dashes are ignored; what is left must be a share id followed by a
// fingerprint, both in the lowercase base32 alphabet.
func ParseCode(s string) (Code, error) {
	if len(s) > 200 {
		return Code{}, fmt.Errorf("%w: too long", ErrBadCode)
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '-' || c == ' ' || c == '\t':
		case 'A' <= c && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		default:
			b.WriteByte(c)
		}
	}
	t := b.String()
	if !ident.IsB32(t, ident.ShareIDLen+FingerprintLen) {
		return Code{}, fmt.Errorf("%w: want %d characters a-z and 2-7 (dashes and spaces are ignored)", ErrBadCode, ident.ShareIDLen+FingerprintLen)
	}
	return Code{ID: t[:ident.ShareIDLen], Fingerprint: t[ident.ShareIDLen:]}, nil
}

// Fingerprint is the fingerprint of a request's public key (its SPKI DER
// bytes, exactly as registered) under the request's id.
func Fingerprint(id string, spki []byte) string {
	h := sha256.New()
	h.Write([]byte(fingerprintLabel))
	h.Write([]byte(id))
	h.Write([]byte{0})
	h.Write(spki)
	return ident.B32.EncodeToString(h.Sum(nil))[:FingerprintLen]
}

// CheckRequestKey checks the public key the service returned for a
// request against the code the recipient passed on: the id must be the
// code's, the fingerprint must match (compared in constant time), and
// the key must be what the page makes. Only then may anything be
// encrypted to it.
func CheckRequestKey(code Code, id string, spki []byte) (*rsa.PublicKey, error) {
	if id != code.ID {
		return nil, fmt.Errorf("%w: the service answered for request %q, not %q", ErrFingerprint, id, code.ID)
	}
	fp := Fingerprint(id, spki)
	if subtle.ConstantTimeCompare([]byte(fp), []byte(code.Fingerprint)) != 1 {
		return nil, ErrFingerprint
	}
	return parseKey(spki)
}

func parseKey(spki []byte) (*rsa.PublicKey, error) {
	k, err := x509.ParsePKIXPublicKey(spki)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	pub, ok := k.(*rsa.PublicKey)
	if !ok || pub.N.BitLen() != RSABits || pub.E != RSAExponent {
		return nil, ErrBadKey
	}
	return pub, nil
}

// CheckPublicKey reports whether spki is a key a request may carry
// (the service refuses others before storing them).
func CheckPublicKey(spki []byte) error {
	_, err := parseKey(spki)
	return err
}

// Entry is one shared value.
type Entry struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// SealForRequest seals entries to a request's checked public key: a fresh
// data key encrypts them and is wrapped to pub with RSA-OAEP (SHA-256,
// the label binding the request's id).
func SealForRequest(id string, pub *rsa.PublicKey, entries []Entry) ([]byte, error) {
	dk := make([]byte, dataKeyLen)
	if _, err := rand.Read(dk); err != nil {
		return nil, err
	}
	wrapped, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, dk, WrapLabel(id))
	if err != nil {
		return nil, fmt.Errorf("wrap the data key: %w", err)
	}
	return seal(id, wrapped, dk, entries)
}

// SealForLink seals entries under a fresh data key that only the link's
// fragment will carry, and returns the blob and the key.
func SealForLink(id string, entries []Entry) (blob, key []byte, err error) {
	dk := make([]byte, dataKeyLen)
	if _, err := rand.Read(dk); err != nil {
		return nil, nil, err
	}
	blob, err = seal(id, nil, dk, entries)
	return blob, dk, err
}

// WrapLabel is the RSA-OAEP label of a request's wrapped data key.
func WrapLabel(id string) []byte { return []byte(wrapLabel + id) }

// EntryAAD is the additional data of entry i of n in share id: a value
// moved to another share, another place or a share with values dropped
// does not decrypt.
func EntryAAD(id string, i, n int) []byte {
	b := []byte(entryLabel + id + "\x00")
	return binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(b, uint16(i)), uint16(n))
}

func seal(id string, wrapped, dk []byte, entries []Entry) ([]byte, error) {
	if err := ident.CheckShareID(id); err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, ErrNothingToShare
	}
	if len(entries) > MaxEntries {
		return nil, fmt.Errorf("%w: at most %d values", ErrTooMuch, MaxEntries)
	}
	aead, err := newAEAD(dk)
	if err != nil {
		return nil, err
	}
	out := []byte(blobMagic)
	out = binary.BigEndian.AppendUint16(out, uint16(len(wrapped)))
	out = append(out, wrapped...)
	out = binary.BigEndian.AppendUint16(out, uint16(len(entries)))
	for i, e := range entries {
		if err := ident.CheckName(e.Name); err != nil {
			return nil, err
		}
		if len(e.Value) > MaxValueBytes {
			return nil, fmt.Errorf("%w: %s is longer than %d bytes", ErrTooMuch, e.Name, MaxValueBytes)
		}
		pt := binary.BigEndian.AppendUint16(nil, uint16(len(e.Name)))
		pt = append(append(pt, e.Name...), e.Value...)
		iv := make([]byte, ivLen)
		if _, err := rand.Read(iv); err != nil {
			return nil, err
		}
		ct := aead.Seal(nil, iv, pt, EntryAAD(id, i, len(entries)))
		out = append(out, iv...)
		out = binary.BigEndian.AppendUint32(out, uint32(len(ct)))
		out = append(out, ct...)
	}
	if len(out) > MaxBlobBytes {
		return nil, fmt.Errorf("%w: the sealed share is %d bytes, at most %d", ErrTooMuch, len(out), MaxBlobBytes)
	}
	return out, nil
}

func newAEAD(dk []byte) (cipher.AEAD, error) {
	if len(dk) != dataKeyLen {
		return nil, fmt.Errorf("%w: a data key is %d bytes", ErrDecrypt, dataKeyLen)
	}
	b, err := aes.NewCipher(dk)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// blobMagic starts every sealed share: the format's name and version.
const blobMagic = "capyshare\x01"

// Blob is a parsed sealed share.
type Blob struct {
	Wrapped []byte // the RSA-OAEP-wrapped data key; empty for a link
	Entries []SealedEntry
}

// SealedEntry is one encrypted value: its IV and ciphertext (with tag).
type SealedEntry struct {
	IV, Ciphertext []byte
}

// ParseBlob parses a sealed share (the service checks the shape of what
// it stores with it; the page's script parses the same format). It
// decrypts nothing.
func ParseBlob(b []byte) (Blob, error) {
	bad := func(why string) (Blob, error) { return Blob{}, fmt.Errorf("%w: %s", ErrBadBlob, why) }
	if len(b) > MaxBlobBytes {
		return bad("too long")
	}
	if !strings.HasPrefix(string(b), blobMagic) {
		return bad("not a capy share (or another version)")
	}
	b = b[len(blobMagic):]
	if len(b) < 2 {
		return bad("truncated")
	}
	w := int(binary.BigEndian.Uint16(b))
	b = b[2:]
	if w != 0 && w != RSABits/8 {
		return bad("the wrapped key is neither absent nor one RSA-2048 block")
	}
	if len(b) < w+2 {
		return bad("truncated")
	}
	out := Blob{Wrapped: b[:w:w]}
	b = b[w:]
	n := int(binary.BigEndian.Uint16(b))
	b = b[2:]
	if n == 0 || n > MaxEntries {
		return bad(fmt.Sprintf("must hold 1 to %d values", MaxEntries))
	}
	for range n {
		if len(b) < ivLen+4 {
			return bad("truncated")
		}
		iv := b[:ivLen:ivLen]
		l := int(binary.BigEndian.Uint32(b[ivLen:]))
		b = b[ivLen+4:]
		if l < tagLen+3 || l > len(b) {
			return bad("an entry's length is out of range")
		}
		out.Entries = append(out.Entries, SealedEntry{IV: iv, Ciphertext: b[:l:l]})
		b = b[l:]
	}
	if len(b) != 0 {
		return bad("trailing bytes")
	}
	return out, nil
}

// Open decrypts a sealed share of id with its data key.
func Open(id string, blob, dataKey []byte) ([]Entry, error) {
	p, err := ParseBlob(blob)
	if err != nil {
		return nil, err
	}
	return p.open(id, dataKey)
}

// OpenWithPrivateKey unwraps a request's data key with the browser's
// private key and decrypts (the Go twin of the page's script, for tests).
func OpenWithPrivateKey(id string, blob []byte, priv *rsa.PrivateKey) ([]Entry, error) {
	p, err := ParseBlob(blob)
	if err != nil {
		return nil, err
	}
	dk, err := rsa.DecryptOAEP(sha256.New(), nil, priv, p.Wrapped, WrapLabel(id))
	if err != nil {
		return nil, ErrDecrypt
	}
	return p.open(id, dk)
}

func (p Blob) open(id string, dk []byte) ([]Entry, error) {
	aead, err := newAEAD(dk)
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(p.Entries))
	for i, e := range p.Entries {
		pt, err := aead.Open(nil, e.IV, e.Ciphertext, EntryAAD(id, i, len(p.Entries)))
		if err != nil {
			return nil, ErrDecrypt
		}
		nl := int(binary.BigEndian.Uint16(pt))
		if 2+nl > len(pt) || ident.CheckName(string(pt[2:2+nl])) != nil {
			return nil, fmt.Errorf("%w: an entry's name is malformed", ErrBadBlob)
		}
		out = append(out, Entry{Name: string(pt[2 : 2+nl]), Value: string(pt[2+nl:])})
	}
	return out, nil
}

// LinkURL is a link share's address: the service's page for the share's
// id, with the data key in the fragment, which browsers never send.
func LinkURL(service, id string, key []byte) string {
	return strings.TrimRight(service, "/") + "/s/" + id + "#" + base64.RawURLEncoding.EncodeToString(key)
}

// ParseLinkURL splits a link share's address into the service, the id
// and the data key.
func ParseLinkURL(s string) (service, id string, key []byte, err error) {
	if len(s) > 2048 {
		return "", "", nil, fmt.Errorf("%w: too long", ErrBadLink)
	}
	rest, frag, ok := strings.Cut(s, "#")
	if !ok {
		return "", "", nil, fmt.Errorf("%w: no key after #", ErrBadLink)
	}
	i := strings.LastIndex(rest, "/s/")
	if i < 0 {
		return "", "", nil, fmt.Errorf("%w: no /s/ path", ErrBadLink)
	}
	service, id = rest[:i], rest[i+3:]
	if err := ident.CheckShareID(id); err != nil {
		return "", "", nil, fmt.Errorf("%w: %v", ErrBadLink, err)
	}
	key, err = base64.RawURLEncoding.DecodeString(frag)
	if err != nil || len(key) != dataKeyLen {
		return "", "", nil, fmt.Errorf("%w: the key is not %d bytes of base64url", ErrBadLink, dataKeyLen)
	}
	return service, id, key, nil
}
