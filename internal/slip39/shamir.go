package slip39

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
)

// The sharing of one secret (SLIP-39 "Sharing a secret"): for a threshold
// T ≥ 2, T−2 shares are random, the polynomial also passes through the
// digest share at x = 254 and the secret at x = 255, and the other shares
// are read off it. Any T shares give back both; the digest share lets the
// combiner tell a set that does not fit together (a changed or foreign
// share) with a 2⁻³² chance of missing it.

const (
	digestIndex = 254
	secretIndex = 255
	digestBytes = 4
)

// ErrDigest means shares of the right count and shape did not combine:
// their digest does not match, so one of them was altered or belongs to
// another split.
var ErrDigest = errors.New("the shares do not fit together (digest mismatch): one was altered or comes from another split")

func digest(random, secret []byte) []byte {
	m := hmac.New(sha256.New, random)
	m.Write(secret)
	return m.Sum(nil)[:digestBytes]
}

// splitSecret shares secret T-of-N; shares get x = 0 … N−1.
func splitSecret(random io.Reader, threshold, count int, secret []byte) ([]rawShare, error) {
	if threshold < 1 || threshold > count || count > MaxShareCount {
		return nil, fmt.Errorf("cannot share %d-of-%d: need 1 ≤ threshold ≤ count ≤ %d", threshold, count, MaxShareCount)
	}
	out := make([]rawShare, 0, count)
	if threshold == 1 {
		for i := range count {
			out = append(out, rawShare{x: byte(i), y: append([]byte(nil), secret...)})
		}
		return out, nil
	}
	for i := range threshold - 2 {
		y := make([]byte, len(secret))
		if _, err := io.ReadFull(random, y); err != nil {
			return nil, fmt.Errorf("read randomness: %w", err)
		}
		out = append(out, rawShare{x: byte(i), y: y})
	}
	r := make([]byte, len(secret)-digestBytes)
	if _, err := io.ReadFull(random, r); err != nil {
		return nil, fmt.Errorf("read randomness: %w", err)
	}
	base := append(append([]rawShare(nil), out...),
		rawShare{x: digestIndex, y: append(digest(r, secret), r...)},
		rawShare{x: secretIndex, y: secret})
	for i := threshold - 2; i < count; i++ {
		y, err := interpolate(base, byte(i))
		if err != nil {
			return nil, err
		}
		out = append(out, rawShare{x: byte(i), y: y})
	}
	return out, nil
}

// recoverSecret combines exactly threshold shares and checks the digest.
func recoverSecret(threshold int, shares []rawShare) ([]byte, error) {
	if threshold == 1 {
		return append([]byte(nil), shares[0].y...), nil
	}
	secret, err := interpolate(shares, secretIndex)
	if err != nil {
		return nil, err
	}
	d, err := interpolate(shares, digestIndex)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(d[:digestBytes], digest(d[digestBytes:], secret)) != 1 {
		clear(secret)
		return nil, ErrDigest
	}
	return secret, nil
}
