// Package auditchain computes the hash chain of capyd's audit log (DESIGN
// §4). It is pure (standard library only) so that the service, the store and
// a client verifying `capy audit --verify` share one definition byte for byte.
//
// Each org has its own chain. Event seq starts at 1; the first event's
// previous hash is Genesis. An event's hash is
//
//	hex(SHA-256("capy-audit 1\n" prevHash "\n" seq "\n" time "\n"
//	            actor "\n" action "\n" target "\n" result "\n"))
//
// with seq in decimal and time in UTC RFC 3339 with exactly nine fractional
// digits (TimeLayout). Fields may not contain a newline, so the encoding is
// unambiguous.
package auditchain

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Genesis is the previous hash of an org's first event: 64 ASCII zeros.
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// TimeLayout is the Go layout of an event's time in the hash input: UTC,
// nanoseconds always written with nine digits, and a literal Z.
const TimeLayout = "2006-01-02T15:04:05.000000000Z"

// ErrBadField is returned for a field that cannot be hashed unambiguously.
var ErrBadField = errors.New("audit field contains a newline or is not valid")

// Event is what one audit hash covers, besides the previous hash.
type Event struct {
	Seq    int64
	Time   time.Time
	Actor  string
	Action string
	Target string
	Result string
}

// FormatTime renders t as it appears in the hash input (TimeLayout, UTC).
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// ParseTime parses a time written by FormatTime and refuses any other
// spelling, so a stored time can only mean one hash input.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(TimeLayout, s)
	if err != nil || FormatTime(t) != s {
		return time.Time{}, fmt.Errorf("%w: time %q is not in the canonical form", ErrBadField, s)
	}
	return t, nil
}

// Check reports whether e can be hashed: seq ≥ 1 and no field containing a
// newline.
func (e Event) Check() error {
	if e.Seq < 1 {
		return fmt.Errorf("%w: seq %d", ErrBadField, e.Seq)
	}
	for _, f := range [...]string{e.Actor, e.Action, e.Target, e.Result} {
		if strings.ContainsAny(f, "\n") {
			return ErrBadField
		}
	}
	return nil
}

// Hash returns the lowercase hex hash of e chained onto prevHash. It does
// not validate e; call Check first where the fields come from outside.
func Hash(prevHash string, e Event) string {
	h := sha256.New()
	var b []byte
	b = append(b, "capy-audit 1\n"...)
	b = append(b, prevHash...)
	b = append(b, '\n')
	b = strconv.AppendInt(b, e.Seq, 10)
	b = append(b, '\n')
	b = append(b, FormatTime(e.Time)...)
	b = append(b, '\n')
	for _, f := range [...]string{e.Actor, e.Action, e.Target, e.Result} {
		b = append(b, f...)
		b = append(b, '\n')
	}
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// ValidHash reports whether s has the shape of a hash: 64 lowercase hex
// characters.
func ValidHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// ErrBroken means a row does not continue the chain from the genesis.
var ErrBroken = errors.New("the audit chain is broken")

// Verifier walks a chain from the genesis one row at a time: the one
// check of a chain, shared by the store (its audit verification), the
// service's conformance tests and the client's `capy audit --verify`.
type Verifier struct {
	prev string
	seq  int64
}

// NewVerifier starts at the genesis.
func NewVerifier() *Verifier { return &Verifier{prev: Genesis} }

// Next checks the next row: its seq follows the last one's, its previous
// hash is the last one's hash, and its hash is that of its content. A
// broken row leaves the verifier where it was.
func (v *Verifier) Next(e Event, prevHash, hash string) error {
	switch {
	case e.Seq != v.seq+1:
		return fmt.Errorf("%w at #%d: found #%d", ErrBroken, v.seq+1, e.Seq)
	case prevHash != v.prev:
		return fmt.Errorf("%w at #%d: the previous hash does not match", ErrBroken, e.Seq)
	case e.Check() != nil || Hash(v.prev, e) != hash:
		return fmt.Errorf("%w at #%d: the hash does not match the event", ErrBroken, e.Seq)
	}
	v.prev, v.seq = hash, e.Seq
	return nil
}

// Head is the last row verified (0 and Genesis before any).
func (v *Verifier) Head() (seq int64, hash string) { return v.seq, v.prev }
