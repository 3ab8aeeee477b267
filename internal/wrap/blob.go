package wrap

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/capy-oss/capy/internal/ident"
)

// NoParent is the parent id of an environment's first blob.
const NoParent = "-"

// MaxBlobSize bounds a blob (about 10,000 large variables), checked before
// any parsing.
const MaxBlobSize = 8 << 20

// Blob format and manifest errors. Each names one distinct failure so the
// CLI can say what the service did wrong.
var (
	ErrBlobFormat        = errors.New("environment blob is malformed")
	ErrBlobTooLarge      = errors.New("environment blob is too large")
	ErrBlobUnsorted      = errors.New("environment blob lines are not sorted")
	ErrBlobDuplicateLine = errors.New("environment blob repeats a snippet")
	ErrBadSignature      = errors.New("environment blob signature does not verify")
)

// Manifest is the signed second line of a blob.
type Manifest struct {
	Epoch     uint32
	Version   uint64
	Parent    string // hex blob id, or NoParent
	Signature []byte // Ed25519, 64 bytes
}

// Blob is a parsed environment blob.
type Blob struct {
	Manifest
	Snippets []string // sorted bytewise, unique
	raw      []byte
}

// Raw returns the exact bytes the blob was parsed from or built as.
func (b *Blob) Raw() []byte { return b.raw }

// ID returns hex(SHA-256(raw bytes)), the blob's id.
func (b *Blob) ID() string { return BlobID(b.raw) }

// BlobID returns the id of a blob's bytes.
func BlobID(raw []byte) string {
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// snippetsDigest is SHA-256 over the snippet lines, each with its "\n".
func snippetsDigest(snippets []string) [32]byte {
	h := sha256.New()
	for _, s := range snippets {
		h.Write([]byte(s))
		h.Write([]byte{'\n'})
	}
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// ManifestMessage is the exact text an environment signing key signs:
// "capy-manifest 1\n" projectID "\n" envID "\n" epoch "\n" version "\n"
// parent "\n" hex(SHA-256(snippet lines)) "\n".
func ManifestMessage(projectID, envID string, epoch uint32, version uint64, parent string, snippets []string) []byte {
	d := snippetsDigest(snippets)
	var b strings.Builder
	b.WriteString(manifestMagic)
	for _, f := range []string{projectID, envID, strconv.FormatUint(uint64(epoch), 10),
		strconv.FormatUint(version, 10), parent, hex.EncodeToString(d[:])} {
		b.WriteString(f)
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// BuildBlob sorts the snippets, signs the manifest with sign, and returns
// the blob. Snippets must be well formed and unique.
func BuildBlob(sign ed25519.PrivateKey, projectID, envID string, epoch uint32, version uint64, parent string, snippets []string) (*Blob, error) {
	if err := checkBlobIDs(projectID, envID); err != nil {
		return nil, err
	}
	if epoch == 0 || version == 0 || !validParent(parent) {
		return nil, fmt.Errorf("build blob: %w: epoch and version start at 1", ErrBlobFormat)
	}
	sorted := append([]string(nil), snippets...)
	sort.Strings(sorted)
	for i, s := range sorted {
		if _, err := ParseSnippet(s); err != nil {
			return nil, fmt.Errorf("build blob: %w", err)
		}
		if i > 0 && sorted[i-1] == s {
			return nil, ErrBlobDuplicateLine
		}
	}
	sig := ed25519.Sign(sign, ManifestMessage(projectID, envID, epoch, version, parent, sorted))
	var buf bytes.Buffer
	buf.WriteString(blobHeader)
	fmt.Fprintf(&buf, "%s%d %d %s %s\n", manifestTag, epoch, version, parent, B64.EncodeToString(sig))
	for _, s := range sorted {
		buf.WriteString(s)
		buf.WriteByte('\n')
	}
	if buf.Len() > MaxBlobSize {
		return nil, ErrBlobTooLarge
	}
	return &Blob{
		Manifest: Manifest{Epoch: epoch, Version: version, Parent: parent, Signature: sig},
		Snippets: sorted,
		raw:      buf.Bytes(),
	}, nil
}

// LineError is a snippet line that ParseBlob refused: Line counts from 1
// (the header), and Err is ErrBlobFormat, ErrBlobUnsorted or
// ErrBlobDuplicateLine, with the same text as without the line number.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return e.Err.Error() }
func (e *LineError) Unwrap() error { return e.Err }

// ParseBlob checks a blob's shape (header, manifest line, sorted unique
// well-formed snippet lines, final newline) without verifying the
// signature. The service uses it to read the manifest fields it enforces.
func ParseBlob(raw []byte) (*Blob, error) {
	if len(raw) > MaxBlobSize {
		return nil, ErrBlobTooLarge
	}
	// len > header: the manifest line (and its newline) must follow it.
	if len(raw) <= len(blobHeader) || !bytes.HasPrefix(raw, []byte(blobHeader)) || !bytes.HasSuffix(raw, []byte{'\n'}) {
		return nil, fmt.Errorf("%w: missing header or final newline", ErrBlobFormat)
	}
	lines := strings.Split(string(raw[len(blobHeader):len(raw)-1]), "\n")
	m, err := parseManifestLine(lines[0])
	if err != nil {
		return nil, err
	}
	snippets := lines[1:]
	for i, s := range snippets {
		if _, err := ParseSnippet(s); err != nil {
			return nil, &LineError{Line: i + 3, Err: fmt.Errorf("%w: line %d: %v", ErrBlobFormat, i+3, err)}
		}
		if i > 0 {
			switch {
			case snippets[i-1] == s:
				return nil, &LineError{Line: i + 3, Err: ErrBlobDuplicateLine}
			case snippets[i-1] > s:
				return nil, &LineError{Line: i + 3, Err: ErrBlobUnsorted}
			}
		}
	}
	return &Blob{Manifest: m, Snippets: snippets, raw: append([]byte(nil), raw...)}, nil
}

func parseManifestLine(line string) (Manifest, error) {
	bad := func(what string) (Manifest, error) {
		return Manifest{}, fmt.Errorf("%w: manifest %s", ErrBlobFormat, what)
	}
	if !strings.HasPrefix(line, manifestTag) {
		return bad("line missing")
	}
	f := strings.Split(line[len(manifestTag):], " ")
	if len(f) != 4 {
		return bad("has the wrong number of fields")
	}
	epoch, err := parseDecimal(f[0], 32)
	if err != nil || epoch == 0 {
		return bad("epoch is invalid")
	}
	version, err := parseDecimal(f[1], 64)
	if err != nil || version == 0 {
		return bad("version is invalid")
	}
	if !validParent(f[2]) {
		return bad("parent is invalid")
	}
	sig, err := DecodeB64(f[3])
	if err != nil || len(sig) != ed25519.SignatureSize {
		return bad("signature is invalid")
	}
	return Manifest{Epoch: uint32(epoch), Version: version, Parent: f[2], Signature: sig}, nil
}

// parseDecimal accepts canonical decimal text: ASCII digits, no sign, no
// leading zeros, within bits.
func parseDecimal(s string, bits int) (uint64, error) {
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return 0, strconv.ErrSyntax
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, strconv.ErrSyntax
		}
	}
	return strconv.ParseUint(s, 10, bits)
}

func validParent(p string) bool {
	return p == NoParent || ValidBlobID(p)
}

// ValidBlobID reports whether id has the form of a blob id (64 lowercase
// hex digits).
func ValidBlobID(p string) bool {
	if len(p) != 64 {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func checkBlobIDs(projectID, envID string) error {
	if err := ident.CheckID(ident.Project, projectID); err != nil {
		return err
	}
	return ident.CheckID(ident.Env, envID)
}

// VerifySignature checks the manifest signature against pub for the given
// project and environment.
func (b *Blob) VerifySignature(pub ed25519.PublicKey, projectID, envID string) error {
	if len(pub) != ed25519.PublicKeySize {
		return ErrBadSignature
	}
	msg := ManifestMessage(projectID, envID, b.Epoch, b.Version, b.Parent, b.Snippets)
	if !ed25519.Verify(pub, msg, b.Signature) {
		return ErrBadSignature
	}
	return nil
}
