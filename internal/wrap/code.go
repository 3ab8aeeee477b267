package wrap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"

	"github.com/capy-oss/capy/internal/ident"
)

// codeVersion is the first payload byte of both code kinds.
const codeVersion = 0x01

// TokenSize is the size of an invite token T and a deploy token DT.
const TokenSize = 32

// maxCodeLen bounds the text of a code before decoding (URL ≤ 65535 would
// be absurd; 4 KiB is ample for a real service URL).
const maxCodeLen = 4096

// Code errors.
var (
	ErrCodeMistyped = errors.New("mistyped or truncated code")
	ErrCodeFormat   = errors.New("not a capy code")
	ErrCodeKind     = errors.New("wrong kind of capy code")
)

// RedeemCode is what an inviter hands an invitee (or a member hands their
// next machine): where the service is, which invite, and the token T.
type RedeemCode struct {
	URL      string // canonical service URL
	OrgID    string
	InviteID string
	Token    [TokenSize]byte
}

// DeployCode is what a CI secret store holds: where the service is, which
// environment and epoch, which deploy token, and the token DT.
type DeployCode struct {
	URL       string
	OrgID     string
	ProjectID string
	EnvID     string
	Epoch     uint32
	DeployID  string
	Token     [TokenSize]byte
}

// Encode returns the code text "capy-redeem-" b64u(p || CRC-32(p)). The
// text is a password: print it once, never log it.
func (c RedeemCode) Encode() string {
	var p []byte
	p = append(p, codeVersion)
	p = appendU16String(p, c.URL)
	p = appendU8String(p, c.OrgID)
	p = appendU8String(p, c.InviteID)
	p = append(p, c.Token[:]...)
	return redeemCodePrefix + B64.EncodeToString(withCRC(p))
}

// Encode returns the code text "capy-deploy-" b64u(p || CRC-32(p)).
func (c DeployCode) Encode() string {
	var p []byte
	p = append(p, codeVersion)
	p = appendU16String(p, c.URL)
	p = appendU8String(p, c.OrgID)
	p = appendU8String(p, c.ProjectID)
	p = appendU8String(p, c.EnvID)
	p = binary.BigEndian.AppendUint32(p, c.Epoch)
	p = appendU8String(p, c.DeployID)
	p = append(p, c.Token[:]...)
	return deployCodePrefix + B64.EncodeToString(withCRC(p))
}

// ParseRedeemCode decodes and validates a redeem code. Surrounding white
// space is ignored (codes get pasted).
func ParseRedeemCode(text string) (RedeemCode, error) {
	r, err := openCode(text, redeemCodePrefix, deployCodePrefix)
	if err != nil {
		return RedeemCode{}, err
	}
	var c RedeemCode
	c.URL = r.u16String()
	c.OrgID = r.u8String()
	c.InviteID = r.u8String()
	r.bytes(c.Token[:])
	if err := r.finish(); err != nil {
		return RedeemCode{}, err
	}
	if err := checkCodeFields(c.URL, []idField{{ident.Org, c.OrgID}, {ident.Invite, c.InviteID}}); err != nil {
		return RedeemCode{}, err
	}
	return c, nil
}

// ParseDeployCode decodes and validates a deploy code.
func ParseDeployCode(text string) (DeployCode, error) {
	r, err := openCode(text, deployCodePrefix, redeemCodePrefix)
	if err != nil {
		return DeployCode{}, err
	}
	var c DeployCode
	c.URL = r.u16String()
	c.OrgID = r.u8String()
	c.ProjectID = r.u8String()
	c.EnvID = r.u8String()
	c.Epoch = r.u32()
	c.DeployID = r.u8String()
	r.bytes(c.Token[:])
	if err := r.finish(); err != nil {
		return DeployCode{}, err
	}
	if err := checkCodeFields(c.URL, []idField{{ident.Org, c.OrgID}, {ident.Project, c.ProjectID},
		{ident.Env, c.EnvID}, {ident.Deploy, c.DeployID}}); err != nil {
		return DeployCode{}, err
	}
	if c.Epoch == 0 {
		return DeployCode{}, fmt.Errorf("%w: epoch 0", ErrCodeFormat)
	}
	return c, nil
}

type idField struct {
	kind ident.Kind
	id   string
}

func checkCodeFields(url string, ids []idField) error {
	if c, err := ident.CheckServiceURL(url); err != nil || c != url {
		return fmt.Errorf("%w: service URL is not canonical https (or loopback http)", ErrCodeFormat)
	}
	for _, f := range ids {
		if err := ident.CheckID(f.kind, f.id); err != nil {
			return fmt.Errorf("%w: %v", ErrCodeFormat, err)
		}
	}
	return nil
}

func openCode(text, prefix, otherPrefix string) (*codeReader, error) {
	text = strings.TrimSpace(text)
	if len(text) > maxCodeLen {
		return nil, ErrCodeFormat
	}
	if strings.HasPrefix(text, otherPrefix) {
		return nil, ErrCodeKind
	}
	if !strings.HasPrefix(text, prefix) {
		return nil, ErrCodeFormat
	}
	raw, err := DecodeB64(text[len(prefix):])
	if err != nil || len(raw) < 1+4 {
		return nil, ErrCodeMistyped
	}
	p, sum := raw[:len(raw)-4], raw[len(raw)-4:]
	if crc32.ChecksumIEEE(p) != binary.BigEndian.Uint32(sum) {
		return nil, ErrCodeMistyped
	}
	if p[0] != codeVersion {
		return nil, fmt.Errorf("%w: unknown version (made by a newer capy?)", ErrCodeFormat)
	}
	return &codeReader{b: p[1:]}, nil
}

func withCRC(p []byte) []byte {
	return binary.BigEndian.AppendUint32(p, crc32.ChecksumIEEE(p))
}

func appendU16String(p []byte, s string) []byte {
	p = binary.BigEndian.AppendUint16(p, uint16(len(s)))
	return append(p, s...)
}

func appendU8String(p []byte, s string) []byte {
	p = append(p, byte(len(s)))
	return append(p, s...)
}

// codeReader reads length-prefixed fields; the first short read sets
// failed and later reads return zero values, checked once in finish.
type codeReader struct {
	b      []byte
	failed bool
}

func (r *codeReader) take(n int) []byte {
	if r.failed || len(r.b) < n {
		r.failed = true
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *codeReader) u16String() string {
	n := r.take(2)
	if n == nil {
		return ""
	}
	return string(r.take(int(binary.BigEndian.Uint16(n))))
}

func (r *codeReader) u8String() string {
	n := r.take(1)
	if n == nil {
		return ""
	}
	return string(r.take(int(n[0])))
}

func (r *codeReader) u32() uint32 {
	v := r.take(4)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint32(v)
}

func (r *codeReader) bytes(dst []byte) { copy(dst, r.take(len(dst))) }

func (r *codeReader) finish() error {
	if r.failed || len(r.b) != 0 {
		return fmt.Errorf("%w: fields do not fit", ErrCodeFormat)
	}
	return nil
}

// Format redacts the code for every fmt verb.
func (c RedeemCode) Format(f fmt.State, _ rune) { fmt.Fprint(f, c.String()) }

// Format redacts the code for every fmt verb.
func (c DeployCode) Format(f fmt.State, _ rune) { fmt.Fprint(f, c.String()) }

// String redacts the code so that printing the struct by accident (%v, a
// log line) cannot leak the token. Use Encode for the real text.
func (c RedeemCode) String() string { return redeemCodePrefix + "[redacted]" }

// String redacts the code; use Encode for the real text.
func (c DeployCode) String() string { return deployCodePrefix + "[redacted]" }

// GoString redacts the code for %#v too.
func (c RedeemCode) GoString() string { return c.String() }

// GoString redacts the code for %#v too.
func (c DeployCode) GoString() string { return c.String() }
