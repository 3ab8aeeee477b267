package keys_test

import (
	"fmt"
	"testing"

	"github.com/capy-oss/capy/internal/keys"
)

// benchPhrase is a fixed valid phrase (BIP-39 test vector entropy 0x7f…).
func benchPhrase(b *testing.B) string {
	b.Helper()
	entropy := make([]byte, 32)
	for i := range entropy {
		entropy[i] = 0x7f
	}
	p, err := keys.PhraseFromEntropy(entropy)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkPhraseToMaster: a typed phrase → canonical form and checksum →
// M (PBKDF2-HMAC-SHA512, 2048 rounds). What `capy recover` and `capy init`
// pay once.
func BenchmarkPhraseToMaster(b *testing.B) {
	phrase := benchPhrase(b)
	b.ReportAllocs()
	for b.Loop() {
		canon, err := keys.ParsePhrase(phrase)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := keys.MasterKeyFromPhrase(canon); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMasterToEnvCipher: M → PK → EK → snippet and rid subkeys, plus
// the key check and the signing public key: every derivation a member's
// sync does after the unlock.
func BenchmarkMasterToEnvCipher(b *testing.B) {
	m, err := keys.MasterKeyFromPhrase(benchPhrase(b))
	if err != nil {
		b.Fatal(err)
	}
	check := m.KeyCheck(orgID)
	b.Run("key-check+PK+EK+cipher", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := m.Verify(orgID, check); err != nil {
				b.Fatal(err)
			}
			pk := m.ProjectKey(orgID, projectID)
			ek := pk.EnvKey(projectID, envID, 1)
			if c := ek.Cipher(envID, 1); c == nil {
				b.Fatal("nil cipher")
			}
		}
	})
	b.Run("signing-key", func(b *testing.B) {
		pk := m.ProjectKey(orgID, projectID)
		b.ReportAllocs()
		for b.Loop() {
			if len(pk.SigningPublicKey(envID, 1)) == 0 {
				b.Fatal("empty key")
			}
		}
	})
}

// BenchmarkSnippet: one variable encrypted to a snippet and decrypted back
// through the environment cipher (rid included), at a few value sizes.
func BenchmarkSnippet(b *testing.B) {
	m, err := keys.MasterKeyFromPhrase(benchPhrase(b))
	if err != nil {
		b.Fatal(err)
	}
	pk := m.ProjectKey(orgID, projectID)
	ek := pk.EnvKey(projectID, envID, 1)
	c := ek.Cipher(envID, 1)
	for _, size := range []int{32, 256, 4096} {
		value := string(make([]byte, size))
		b.Run(fmt.Sprintf("seal/value=%dB", size), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Seal("DATABASE_URL", value, false); err != nil {
					b.Fatal(err)
				}
			}
		})
		snip, err := c.Seal("DATABASE_URL", value, false)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("open/value=%dB", size), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := c.Open("DATABASE_URL", snip); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSealTo: one `capy encrypt` without the process: parse the
// recipient, encapsulate (ML-KEM-768 + X25519), encrypt.
func BenchmarkSealTo(b *testing.B) {
	var ek keys.EnvKey
	r := ek.AgeIdentity("env_bench", 1).Recipient()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := keys.SealTo(r, "sk_live_0123456789"); err != nil {
			b.Fatal(err)
		}
	}
}
