package slip39

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"fmt"
)

// The master secret is encrypted with the passphrase before it is split:
// a four-round Feistel network whose round function is PBKDF2-HMAC-SHA256
// (SLIP-39 "Encryption of the master secret"). Any passphrase decrypts to
// some secret; nothing in the shares says which one was meant.

const (
	baseIterations = 10000 // total over the four rounds at exponent 0
	rounds         = 4
	// MaxIterationExponent is the largest exponent a share can carry.
	MaxIterationExponent = 15
)

// feistel runs the four rounds forwards (encrypt) or backwards.
func feistel(in, passphrase []byte, e int, id uint16, extendable, decrypt bool) ([]byte, error) {
	if len(in)%2 != 0 {
		return nil, fmt.Errorf("the secret's length must be an even number of bytes")
	}
	half := len(in) / 2
	l := append([]byte(nil), in[:half]...)
	r := append([]byte(nil), in[half:]...)
	// The salt is "shamir" || id, or empty for an extendable set, whose
	// encrypted secret then does not depend on the identifier.
	var salt []byte
	if !extendable {
		salt = append([]byte(customization), byte(id>>8), byte(id))
	}
	password := make([]byte, 1+len(passphrase))
	copy(password[1:], passphrase)
	iterations := (baseIterations << e) / rounds
	for step := range rounds {
		i := step
		if decrypt {
			i = rounds - 1 - step
		}
		password[0] = byte(i)
		f, err := pbkdf2.Key(sha256.New, string(password), append(append([]byte(nil), salt...), r...), iterations, len(r))
		if err != nil {
			return nil, fmt.Errorf("round %d: %w", i, err)
		}
		for k := range l {
			l[k] ^= f[k]
		}
		l, r = r, l
	}
	clear(password)
	return append(r, l...), nil
}
