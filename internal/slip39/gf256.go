package slip39

import "fmt"

// GF(256) with the Rijndael polynomial x⁸ + x⁴ + x³ + x + 1, as SLIP-39
// (and AES) define it. Addition is XOR.
//
// Share values are secret, so a multiplication by a share byte uses no
// table and no branch on its operands (mul): the time it takes does not
// depend on the bytes. The Lagrange coefficients depend only on the share
// indexes, which are public (every share's words show them).

// mul multiplies a and b in GF(256), in constant time.
func mul(a, b byte) byte {
	var p byte
	for range 8 {
		p ^= -(b & 1) & a
		carry := -(a >> 7)
		a = a<<1 ^ 0x1b&carry
		b >>= 1
	}
	return p
}

// inv returns the multiplicative inverse of a ≠ 0 (a²⁵⁴). It is only ever
// called on differences of public share indexes.
func inv(a byte) byte {
	r := byte(1)
	for e := 254; e > 0; e >>= 1 {
		if e&1 == 1 {
			r = mul(r, a)
		}
		a = mul(a, a)
	}
	return r
}

// rawShare is one point of the sharing polynomials: x and, for each byte of
// the secret, the value of that byte's polynomial at x.
type rawShare struct {
	x byte
	y []byte
}

// interpolate returns f(x) for the polynomials through the given points
// (Lagrange): Σᵢ yᵢ · Πⱼ≠ᵢ (x − xⱼ)/(xᵢ − xⱼ). The points' x must be pairwise
// distinct and their values of one length; callers guarantee both.
func interpolate(points []rawShare, x byte) ([]byte, error) {
	if len(points) == 0 {
		return nil, fmt.Errorf("interpolate: no points")
	}
	n := len(points[0].y)
	for i, p := range points {
		if len(p.y) != n {
			return nil, fmt.Errorf("interpolate: values of different lengths")
		}
		for _, q := range points[:i] {
			if q.x == p.x {
				return nil, fmt.Errorf("interpolate: index %d repeated", p.x)
			}
		}
	}
	for _, p := range points {
		if p.x == x {
			return append([]byte(nil), p.y...), nil
		}
	}
	out := make([]byte, n)
	for i, p := range points {
		num, den := byte(1), byte(1)
		for j, q := range points {
			if i != j {
				num = mul(num, x^q.x)
				den = mul(den, p.x^q.x)
			}
		}
		c := mul(num, inv(den))
		for k, v := range p.y {
			out[k] ^= mul(c, v)
		}
	}
	return out, nil
}
