package wrap_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/capy-oss/capy/internal/wrap"
)

// Fixed, well-formed ids used across the tests.
const (
	orgID     = "org_aaaaaaaaaaaaaaaaaaaaaaaaaa"
	orgID2    = "org_bbbbbbbbbbbbbbbbbbbbbbbbbb"
	projectID = "prj_cccccccccccccccccccccccccc"
	project2  = "prj_dddddddddddddddddddddddddd"
	envID     = "env_eeeeeeeeeeeeeeeeeeeeeeeeee"
	envID2    = "env_ffffffffffffffffffffffffff"
	userID    = "usr_gggggggggggggggggggggggggg"
	userID2   = "usr_hhhhhhhhhhhhhhhhhhhhhhhhhh"
	inviteID  = "inv_iiiiiiiiiiiiiiiiiiiiiiiiii"
	deployID  = "dep_jjjjjjjjjjjjjjjjjjjjjjjjjj"
)

// testKey returns a distinct fixed key per seed byte.
func testKey(seed byte) *[wrap.KeySize]byte {
	var k [wrap.KeySize]byte
	for i := range k {
		k[i] = seed ^ byte(i*7+1)
	}
	return &k
}

// signer returns a fixed Ed25519 key pair.
func signer(seed byte) (ed25519.PrivateKey, ed25519.PublicKey) {
	s := bytes.Repeat([]byte{seed}, ed25519.SeedSize)
	priv := ed25519.NewKeyFromSeed(s)
	return priv, priv.Public().(ed25519.PublicKey)
}

func flipBit(b []byte, bit int) []byte {
	c := bytes.Clone(b)
	c[bit/8] ^= 1 << (bit % 8)
	return c
}

func flipBitString(s string, bit int) string { return string(flipBit([]byte(s), bit)) }

// gcmOpen decrypts iv || ct || tag with AES-256-GCM directly, independent
// of the package, to check that formats are what DESIGN §2 says.
func gcmOpen(t *testing.T, key *[wrap.KeySize]byte, ivCtTag, aad []byte) []byte {
	t.Helper()
	block, err := aes.NewCipher(key[:])
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := aead.Open(nil, ivCtTag[:12], ivCtTag[12:], aad)
	if err != nil {
		t.Fatalf("independent AES-GCM open failed: %v", err)
	}
	return pt
}

// gcmSeal encrypts with a fixed IV, to craft inputs the package would not
// produce (unknown flags, bad plaintext layout).
func gcmSeal(t testing.TB, key *[wrap.KeySize]byte, iv byte, pt, aad []byte) []byte {
	t.Helper()
	block, err := aes.NewCipher(key[:])
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	nonce := bytes.Repeat([]byte{iv}, 12)
	return aead.Seal(nonce, nonce, pt, aad)
}

func hkdf32(t testing.TB, ikm, salt []byte, info string) [32]byte {
	t.Helper()
	out, err := hkdf.Key(sha256.New, ikm, salt, info, 32)
	if err != nil {
		t.Fatal(err)
	}
	return [32]byte(out)
}

func mustErrIs(t *testing.T, what string, err, want error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: got nil error, want %v", what, want)
	}
	if !errors.Is(err, want) {
		t.Fatalf("%s: got %v, want %v", what, err, want)
	}
}

// assertOnly checks err matches want and none of the others, so each
// failure mode is reported distinctly.
func assertOnly(t *testing.T, what string, err, want error, all []error) {
	t.Helper()
	mustErrIs(t, what, err, want)
	for _, o := range all {
		if o != want && errors.Is(err, o) {
			t.Errorf("%s: error %v also matches %v", what, err, o)
		}
	}
}

func containsAny(s string, subs ...string) string {
	for _, sub := range subs {
		if sub != "" && strings.Contains(s, sub) {
			return sub
		}
	}
	return ""
}

// Deterministic builders (fixed IVs), written from DESIGN §2.2, §2.3 and
// §2.6. Fuzz seeds must be the same in every fuzzing worker process, and
// the package's own Seal* draw random IVs.

func detSnippet(t testing.TB, key *[wrap.KeySize]byte, iv byte, rid, name string, flags byte, value string) string {
	t.Helper()
	pt := append(append([]byte(name), 0, flags), value...)
	return wrap.Snippet{Rid: rid, Box: gcmSeal(t, key, iv, pt, []byte("capy:v1:"+rid))}.String()
}

func detSeal(t testing.TB, key *[wrap.KeySize]byte, iv byte, pt, aad []byte) []byte {
	t.Helper()
	return append([]byte{0x01}, gcmSeal(t, key, iv, pt, append([]byte{0x01}, aad...))...)
}

func detOuter(t testing.TB, kek *[wrap.KeySize]byte, iv byte, kid uint32, org, purpose, subject string, inner []byte) []byte {
	t.Helper()
	k := hkdf32(t, kek[:], []byte(org), "capyd:outer:"+purpose)
	out := []byte{0x01, byte(kid >> 24), byte(kid >> 16), byte(kid >> 8), byte(kid)}
	return append(out, detSeal(t, &k, iv, inner, []byte(purpose+":"+org+":"+subject))...)
}
