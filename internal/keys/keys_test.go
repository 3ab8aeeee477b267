package keys_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/wrap"
)

const (
	orgID     = "org_aaaaaaaaaaaaaaaaaaaaaaaaaa"
	orgID2    = "org_bbbbbbbbbbbbbbbbbbbbbbbbbb"
	projectID = "prj_cccccccccccccccccccccccccc"
	project2  = "prj_dddddddddddddddddddddddddd"
	envID     = "env_eeeeeeeeeeeeeeeeeeeeeeeeee"
	envID2    = "env_ffffffffffffffffffffffffff"
	userID    = "usr_gggggggggggggggggggggggggg"
	userID2   = "usr_hhhhhhhhhhhhhhhhhhhhhhhhhh"
)

func hkdfN(t testing.TB, ikm, salt []byte, info string, n int) []byte {
	t.Helper()
	out, err := hkdf.Key(sha256.New, ikm, salt, info, n)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func master(t testing.TB, seed byte) keys.MasterKey {
	t.Helper()
	p := entropyPhrase(fixedEntropy(seed))
	m, err := keys.MasterKeyFromPhrase(p)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestDerivationsFollowDesign recomputes every derivation of DESIGN §2.1
// with the standard library and the labels as the design writes them.
// cipher derives an environment's cipher from a project key.
func cipher(pk *keys.ProjectKey, project, env string, epoch uint32) *keys.EnvCipher {
	ek := pk.EnvKey(project, env, epoch)
	return ek.Cipher(env, epoch)
}

func TestDerivationsFollowDesign(t *testing.T) {
	phrase := entropyPhrase(fixedEntropy(9))
	m, err := keys.MasterKeyFromPhrase(phrase)
	if err != nil {
		t.Fatal(err)
	}
	wantM, err := pbkdf2.Key(sha512.New, phrase, []byte("capy-mnemonic"), 2048, 32)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m[:], wantM) {
		t.Fatal("M is not PBKDF2-HMAC-SHA512(phrase, capy-mnemonic, 2048, 32)")
	}
	// Not go-bip39's NewSeed (salt "mnemonic", 64 bytes).
	bip39Seed, _ := pbkdf2.Key(sha512.New, phrase, []byte("mnemonic"), 2048, 64)
	if bytes.Equal(m[:], bip39Seed[:32]) {
		t.Fatal("M equals the BIP-39 seed")
	}

	if got, want := m.KeyCheck(orgID), hex.EncodeToString(hkdfN(t, m[:], []byte(orgID), "capy:key-check", 16)); got != want {
		t.Fatalf("KeyCheck = %s, want %s", got, want)
	}

	pk := m.ProjectKey(orgID, projectID)
	if want := hkdfN(t, m[:], []byte(orgID), "capy:project:"+projectID, 32); !bytes.Equal(pk[:], want) {
		t.Fatal("PK derivation")
	}
	ek := pk.EnvKey(projectID, envID, 12)
	if want := hkdfN(t, pk[:], []byte(projectID), "capy:env:"+envID+":12", 32); !bytes.Equal(ek[:], want) {
		t.Fatal("EK derivation")
	}
	seed := hkdfN(t, pk[:], []byte(envID), "capy:env-sign:12", 32)
	if sk := pk.SigningKey(envID, 12); !bytes.Equal(sk.Seed(), seed) {
		t.Fatal("signing key seed derivation")
	}

	// Snippet and rid keys: checked through what the cipher produces.
	snippetKey := [32]byte(hkdfN(t, ek[:], []byte(envID), "capy:snippet", 32))
	ridKey := hkdfN(t, ek[:], []byte(envID), "capy:rid", 32)
	c := ek.Cipher(envID, 12)
	mac := hmac.New(sha256.New, ridKey)
	mac.Write([]byte("DATABASE_URL"))
	wantRid := strings.ToLower(base32.StdEncoding.EncodeToString(mac.Sum(nil)))[:5]
	if got := c.Rid("DATABASE_URL"); got != wantRid {
		t.Fatalf("Rid = %q, want %q", got, wantRid)
	}
	s, err := c.Seal("DATABASE_URL", "postgres://x", false)
	if err != nil {
		t.Fatal(err)
	}
	if v, _, err := wrap.OpenSnippet(&snippetKey, wantRid, "DATABASE_URL", s); err != nil || v != "postgres://x" {
		t.Fatalf("snippet key is not HKDF(EK, envId, capy:snippet): %v", err)
	}
}

func TestMasterKeyDependsOnPhrase(t *testing.T) {
	a, b := master(t, 1), master(t, 2)
	if a == b {
		t.Fatal("two phrases gave the same M")
	}
	if master(t, 1) != a {
		t.Fatal("M is not deterministic")
	}
}

func TestKeyCheckVerify(t *testing.T) {
	m := master(t, 3)
	check := m.KeyCheck(orgID)
	if len(check) != 32 || strings.ToLower(check) != check {
		t.Fatalf("KeyCheck = %q, want 32 lowercase hex digits", check)
	}
	if err := m.Verify(orgID, check); err != nil {
		t.Fatalf("Verify(right check) = %v", err)
	}
	other := master(t, 4)
	for name, c := range map[string]string{
		"other M":     other.KeyCheck(orgID),
		"other org":   m.KeyCheck(orgID2),
		"upper case":  strings.ToUpper(check),
		"truncated":   check[:31],
		"extended":    check + "0",
		"empty":       "",
		"one flipped": check[:10] + string(check[10]^1) + check[11:],
	} {
		if c == check {
			t.Fatalf("%s: test setup gave the same check", name)
		}
		if err := m.Verify(orgID, c); !errors.Is(err, keys.ErrKeyCheck) {
			t.Errorf("Verify(%s) = %v, want ErrKeyCheck", name, err)
		}
	}
	if err := m.Verify(orgID2, check); !errors.Is(err, keys.ErrKeyCheck) {
		t.Errorf("Verify for another org = %v", err)
	}
}

func TestDistinctKeys(t *testing.T) {
	m := master(t, 5)
	m2 := master(t, 6)
	seen := map[[32]byte]string{}
	add := func(name string, k [32]byte) {
		t.Helper()
		if prev, dup := seen[k]; dup {
			t.Errorf("%s equals %s", name, prev)
		}
		seen[k] = name
	}
	add("M", m)
	add("M2", m2)
	for _, org := range []string{orgID, orgID2} {
		for _, prj := range []string{projectID, project2} {
			add("PK "+org+" "+prj, m.ProjectKey(org, prj))
			add("PK(M2) "+org+" "+prj, m2.ProjectKey(org, prj))
		}
	}
	pk := m.ProjectKey(orgID, projectID)
	for _, prj := range []string{projectID, project2} { // the salt is the project id
		for _, env := range []string{envID, envID2} {
			for _, epoch := range []uint32{1, 2, 10, 11, 0xffffffff} {
				add(fmt.Sprintf("EK %s %s %d", prj, env, epoch), pk.EnvKey(prj, env, epoch))
			}
		}
	}
	// Epoch text is decimal without separators that could collide:
	// env ":" 1 and env ":" 11 differ, and so do ids whose text overlaps.
	if pk.EnvKey(projectID, envID, 1) == pk.EnvKey(projectID, envID, 2) {
		t.Fatal("EK epoch 1 == epoch 2")
	}
	if m.ProjectKey(orgID, projectID) == m.ProjectKey(orgID, project2) {
		t.Fatal("PK for two projects are equal")
	}
	// Signing keys differ per env and epoch, and from PK/EK.
	pubs := map[string]string{}
	for _, env := range []string{envID, envID2} {
		for _, epoch := range []uint32{1, 2} {
			pub := string(pk.SigningPublicKey(env, epoch))
			if prev, dup := pubs[pub]; dup {
				t.Errorf("signing key %s/%d equals %s", env, epoch, prev)
			}
			pubs[pub] = env
			add("sign seed "+env, [32]byte(pk.SigningKey(env, epoch).Seed()))
		}
	}
}

func TestSigningKey(t *testing.T) {
	m := master(t, 7)
	pk := m.ProjectKey(orgID, projectID)
	sk := pk.SigningKey(envID, 1)
	pub := pk.SigningPublicKey(envID, 1)
	if !bytes.Equal(sk.Public().(ed25519.PublicKey), pub) || len(pub) != ed25519.PublicKeySize {
		t.Fatal("SigningPublicKey is not the public half of SigningKey")
	}
	if !bytes.Equal(pk.SigningKey(envID, 1), sk) {
		t.Fatal("signing key not deterministic")
	}
	msg := []byte("manifest")
	if !ed25519.Verify(pub, msg, ed25519.Sign(sk, msg)) {
		t.Fatal("signature does not verify")
	}
	// A blob signed with it verifies against the pin, and not against
	// another epoch's pin.
	c := cipher(&pk, projectID, envID, 1)
	s, err := c.Seal("A", "v", false)
	if err != nil {
		t.Fatal(err)
	}
	b, err := wrap.BuildBlob(sk, projectID, envID, 1, 1, wrap.NoParent, []string{s})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.VerifySignature(pub, projectID, envID); err != nil {
		t.Fatal(err)
	}
	if err := b.VerifySignature(pk.SigningPublicKey(envID, 2), projectID, envID); !errors.Is(err, wrap.ErrBadSignature) {
		t.Fatalf("epoch 2 pin verified an epoch 1 blob: %v", err)
	}
}

func TestEnvCipher(t *testing.T) {
	m := master(t, 8)
	pk := m.ProjectKey(orgID, projectID)
	a := cipher(&pk, projectID, envID, 1)
	b := cipher(&pk, projectID, envID2, 1)
	a2 := cipher(&pk, projectID, envID, 2)
	if a.EnvID != envID || a.Epoch != 1 {
		t.Fatalf("cipher for %s/%d", a.EnvID, a.Epoch)
	}

	for _, literal := range []bool{false, true} {
		for _, v := range []string{"", "plain", "with ${REF}", "multi\nline", "nul\x00", "ünï"} {
			s, err := a.Seal("MY_VAR", v, literal)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(s, "capy:"+a.Rid("MY_VAR")+":") {
				t.Fatalf("snippet %q does not carry the rid of its name", s)
			}
			got, lit, err := a.Open("MY_VAR", s)
			if err != nil || got != v || lit != literal {
				t.Fatalf("Open = %q, %v, %v; want %q, %v", got, lit, err, v, literal)
			}
			if _, _, err := b.Open("MY_VAR", s); err == nil {
				t.Fatal("env B's cipher opened env A's snippet")
			}
			if _, _, err := a2.Open("MY_VAR", s); err == nil {
				t.Fatal("epoch 2's cipher opened an epoch 1 snippet")
			}
			if _, _, err := a.Open("OTHER_VAR", s); !errors.Is(err, wrap.ErrSnippetName) {
				t.Fatalf("snippet moved to another variable: %v", err)
			}
		}
	}
}

func TestRid(t *testing.T) {
	m := master(t, 9)
	pk := m.ProjectKey(orgID, projectID)
	a := cipher(&pk, projectID, envID, 1)
	b := cipher(&pk, projectID, envID2, 1)
	differ := 0
	for _, name := range []string{"A", "B", "DATABASE_URL", "API_KEY", "x.y"} {
		r := a.Rid(name)
		if len(r) != 5 || strings.Trim(r, "abcdefghijklmnopqrstuvwxyz234567") != "" {
			t.Fatalf("Rid(%q) = %q", name, r)
		}
		if a.Rid(name) != r {
			t.Fatal("Rid not deterministic")
		}
		if b.Rid(name) != r {
			differ++
		}
	}
	if differ < 4 { // 25-bit hints: a collision is possible, four is not
		t.Fatalf("rids of two environments agree for %d of 5 names", 5-differ)
	}
	if a.Rid("A") == a.Rid("B") && a.Rid("A") == a.Rid("C") {
		t.Fatal("Rid ignores the name")
	}
}

// TestEnvCipherConcurrent: one cipher (cached AES-GCM and rid HMAC) used
// from several goroutines gives the same rids and round trips (run with
// -race).
func TestEnvCipherConcurrent(t *testing.T) {
	var ek keys.EnvKey
	ek[0] = 7
	c := ek.Cipher(envID, 1)
	want := map[string]string{}
	for i := range 50 {
		name := fmt.Sprintf("VAR_%d", i)
		want[name] = c.Rid(name)
	}
	done := make(chan error, 4)
	for range 4 {
		go func() {
			for name, rid := range want {
				if got := c.Rid(name); got != rid {
					done <- fmt.Errorf("Rid(%s) = %s, want %s", name, got, rid)
					return
				}
				s, err := c.Seal(name, "value of "+name, false)
				if err == nil {
					var v string
					v, _, err = c.Open(name, s)
					if err == nil && v != "value of "+name {
						err = fmt.Errorf("round trip of %s gave %q", name, v)
					}
				}
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
