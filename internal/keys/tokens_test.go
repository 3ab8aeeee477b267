package keys_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/wrap"
)

func device(seed byte) *keys.DeviceSecret {
	var d keys.DeviceSecret
	for i := range d {
		d[i] = seed ^ byte(i*3)
	}
	return &d
}

func TestInnerWrap(t *testing.T) {
	m := master(t, 20)
	d := device(1)
	k := d.InnerWrapKey(userID, orgID)

	// DESIGN §2.1: HKDF(D, salt = SHA-256(userId ":" orgId), "capy:inner-wrap").
	salt := sha256.Sum256([]byte(userID + ":" + orgID))
	if want := hkdfN(t, d[:], salt[:], "capy:inner-wrap", 32); !bytes.Equal(k[:], want) {
		t.Fatal("inner wrap key derivation")
	}

	inner, err := k.SealMaster(&m, orgID, userID)
	if err != nil {
		t.Fatal(err)
	}
	// DESIGN §2.2: AAD "capy:key:" orgId ":" userId.
	if pt, err := wrap.Open((*[32]byte)(&k), inner, []byte("capy:key:"+orgID+":"+userID)); err != nil || !bytes.Equal(pt, m[:]) {
		t.Fatalf("key.enc inner layer AAD: %v", err)
	}
	got, err := k.OpenMaster(inner, orgID, userID)
	if err != nil || got != m {
		t.Fatalf("OpenMaster = %v", err)
	}

	for name, open := range map[string]func() (keys.MasterKey, error){
		"other user": func() (keys.MasterKey, error) {
			k2 := d.InnerWrapKey(userID2, orgID)
			return k2.OpenMaster(inner, orgID, userID2)
		},
		"other org": func() (keys.MasterKey, error) {
			k2 := d.InnerWrapKey(userID, orgID2)
			return k2.OpenMaster(inner, orgID2, userID)
		},
		"other device": func() (keys.MasterKey, error) {
			k2 := device(2).InnerWrapKey(userID, orgID)
			return k2.OpenMaster(inner, orgID, userID)
		},
		"right key, other user in AAD": func() (keys.MasterKey, error) { return k.OpenMaster(inner, orgID, userID2) },
		"right key, other org in AAD":  func() (keys.MasterKey, error) { return k.OpenMaster(inner, orgID2, userID) },
		// What the service can compute without D (the seed's derivation).
		"service without D": func() (keys.MasterKey, error) {
			var zero keys.DeviceSecret
			k2 := zero.InnerWrapKey(userID, orgID)
			return k2.OpenMaster(inner, orgID, userID)
		},
	} {
		got, err := open()
		if !errors.Is(err, wrap.ErrDecrypt) {
			t.Errorf("%s: %v, want ErrDecrypt", name, err)
		}
		if got != (keys.MasterKey{}) {
			t.Errorf("%s: returned a non-zero key on error", name)
		}
	}
	// The salt order is userId ":" orgId: swapping them changes the key.
	if d.InnerWrapKey(userID, orgID) == d.InnerWrapKey(orgID, userID) {
		t.Fatal("inner wrap key ignores the order of user and org")
	}
}

func TestInvite(t *testing.T) {
	m := master(t, 21)
	tok, err := keys.NewInviteToken()
	if err != nil {
		t.Fatal(err)
	}
	inner, err := tok.SealMaster(&m, orgID, "bob@x.io")
	if err != nil {
		t.Fatal(err)
	}
	// DESIGN §2.1/§2.2: key HKDF(T, orgId ":" email, "capy:invite"), AAD
	// "capy:invite:" orgId ":" email.
	k := [32]byte(hkdfN(t, tok[:], []byte(orgID+":bob@x.io"), "capy:invite", 32))
	if pt, err := wrap.Open(&k, inner, []byte("capy:invite:"+orgID+":bob@x.io")); err != nil || !bytes.Equal(pt, m[:]) {
		t.Fatalf("invite inner blob does not follow the design: %v", err)
	}
	got, err := tok.OpenMaster(inner, orgID, "bob@x.io")
	if err != nil || got != m {
		t.Fatalf("OpenMaster(same e-mail) = %v", err)
	}
	other, _ := keys.NewInviteToken()
	if other == tok {
		t.Fatal("NewInviteToken repeated")
	}
	// The wrong e-mail fails cryptographically, whatever the service says.
	for name, c := range map[string]struct {
		tok        keys.InviteToken
		org, email string
	}{
		"other e-mail":       {tok, orgID, "eve@x.io"},
		"not canonical":      {tok, orgID, "Bob@x.io"},
		"e-mail with suffix": {tok, orgID, "bob@x.io.evil.com"},
		"other org":          {tok, orgID2, "bob@x.io"},
		"other token":        {other, orgID, "bob@x.io"},
	} {
		got, err := c.tok.OpenMaster(inner, c.org, c.email)
		if !errors.Is(err, wrap.ErrDecrypt) || got != (keys.MasterKey{}) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestDeploy(t *testing.T) {
	m := master(t, 22)
	pk := m.ProjectKey(orgID, projectID)
	ek := pk.EnvKey(projectID, envID, 3)
	dt, err := keys.NewDeployToken()
	if err != nil {
		t.Fatal(err)
	}
	inner, err := dt.SealEnvKey(&ek, envID, 3)
	if err != nil {
		t.Fatal(err)
	}
	innerKey := [32]byte(hkdfN(t, dt[:], []byte(envID), "capy:deploy", 32))
	if pt, err := wrap.Open(&innerKey, inner, []byte("capy:deploy:"+envID+":3")); err != nil || !bytes.Equal(pt, ek[:]) {
		t.Fatalf("deploy inner blob does not follow the design: %v", err)
	}
	got, err := dt.OpenEnvKey(inner, envID, 3)
	if err != nil || got != ek {
		t.Fatalf("OpenEnvKey = %v", err)
	}
	other, _ := keys.NewDeployToken()
	for name, c := range map[string]struct {
		dt    keys.DeployToken
		env   string
		epoch uint32
	}{
		"other epoch":   {dt, envID, 4},
		"epoch 0":       {dt, envID, 0},
		"other env":     {dt, envID2, 3},
		"other token":   {other, envID, 3},
		"epoch 30 vs 3": {dt, envID, 30},
	} {
		got, err := c.dt.OpenEnvKey(inner, c.env, c.epoch)
		if !errors.Is(err, wrap.ErrDecrypt) || got != (keys.EnvKey{}) {
			t.Errorf("%s: %v", name, err)
		}
	}

	// The auth key is what the runner shows the service; it must not open
	// the inner blob, and it must not be the inner key.
	auth := dt.AuthKey(envID)
	if want := hkdfN(t, dt[:], []byte(envID), "capy:deploy-auth", 32); !bytes.Equal(auth[:], want) {
		t.Fatal("auth key derivation")
	}
	if auth == innerKey {
		t.Fatal("AuthKey equals the deploy inner key")
	}
	if _, err := wrap.Open(&auth, inner, []byte("capy:deploy:"+envID+":3")); !errors.Is(err, wrap.ErrDecrypt) {
		t.Fatal("the auth key opens the deploy inner blob")
	}
	if dt.AuthKey(envID2) == auth {
		t.Fatal("AuthKey ignores the environment")
	}

	sum := sha256.Sum256(auth[:])
	if got := keys.DeployVerifier(&auth); got != hex.EncodeToString(sum[:]) {
		t.Fatalf("DeployVerifier = %s, want hex(SHA-256(auth key))", got)
	}
}

func TestTokensRandom(t *testing.T) {
	seen := map[[32]byte]bool{}
	for range 50 {
		a, err := keys.NewInviteToken()
		if err != nil {
			t.Fatal(err)
		}
		b, err := keys.NewDeployToken()
		if err != nil {
			t.Fatal(err)
		}
		if seen[a] || seen[b] || a == (keys.InviteToken{}) {
			t.Fatal("token repeated or zero")
		}
		seen[a], seen[b] = true, true
	}
}

// A sealed key of the wrong length is refused even when it decrypts.
func TestOpenKeyWrongLength(t *testing.T) {
	d := device(3)
	k := d.InnerWrapKey(userID, orgID)
	box, err := wrap.Seal((*[32]byte)(&k), make([]byte, 31), []byte("capy:key:"+orgID+":"+userID))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := k.OpenMaster(box, orgID, userID); err == nil || got != (keys.MasterKey{}) {
		t.Fatalf("31-byte master key accepted: %v", err)
	}
}
