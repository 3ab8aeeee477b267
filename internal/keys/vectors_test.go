package keys

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/capy-oss/capy/internal/testvectors"
	"github.com/capy-oss/capy/internal/wrap"
	"github.com/tyler-smith/go-bip39"
)

func loadVectors(t *testing.T) *testvectors.Vectors {
	t.Helper()
	v, err := testvectors.Load()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func hexOf(b []byte) string { return hex.EncodeToString(b) }

// TestVectorsHierarchy checks every derived key against the independent
// implementation, so a changed label, salt or length fails here.
func TestVectorsHierarchy(t *testing.T) {
	v := loadVectors(t)
	in := v.Inputs

	phrase, err := PhraseFromEntropy(testvectors.Hex(in.Entropy))
	if err != nil || phrase != in.Phrase {
		t.Fatalf("phrase %q, %v; want %q", phrase, err, in.Phrase)
	}
	m, err := MasterKeyFromPhrase(phrase)
	if err != nil {
		t.Fatal(err)
	}
	check := func(what, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %s, want %s", what, got, want)
		}
	}
	check("M", hexOf(m[:]), v.MasterKey)
	check("key check", m.KeyCheck(in.OrgID), v.KeyCheck)
	if err := m.Verify(in.OrgID, v.KeyCheck); err != nil {
		t.Errorf("Verify: %v", err)
	}
	pk := m.ProjectKey(in.OrgID, in.ProjectID)
	check("PK", hexOf(pk[:]), v.ProjectKey)

	for _, epoch := range []uint32{1, 2} {
		want := v.Epochs[epochText(epoch)]
		ek := pk.EnvKey(in.ProjectID, in.EnvID, epoch)
		check("EK", hexOf(ek[:]), want.EnvKey)
		c := ek.Cipher(in.EnvID, epoch)
		check("snippet key", hexOf(c.snippet[:]), want.SnippetKey)
		check("rid key", hexOf(c.rid[:]), want.RidKey)
		sk := pk.SigningKey(in.EnvID, epoch)
		check("signing seed", hexOf(sk.Seed()), want.SigningSeed)
		check("signing public key", hexOf(pk.SigningPublicKey(in.EnvID, epoch)), want.SigningPublicKey)
		check("signing public key b64u", wrap.B64.EncodeToString(pk.SigningPublicKey(in.EnvID, epoch)), want.SigningPublicKeyB64u)
	}

	ek1 := pk.EnvKey(in.ProjectID, in.EnvID, 1)
	c := ek1.Cipher(in.EnvID, 1)
	if len(v.Rids) != 4 {
		t.Fatalf("want 4 rids, got %d", len(v.Rids))
	}
	for name, rid := range v.Rids {
		check("rid("+name+")", c.Rid(name), rid)
	}
	for _, s := range v.Snippets {
		value, literal, err := c.Open(s.Name, s.Snippet)
		if err != nil || value != s.Value || literal != (s.Flags&wrap.FlagLiteral != 0) {
			t.Errorf("open %s: %q %v %v", s.Name, value, literal, err)
		}
	}

	var d DeviceSecret
	copy(d[:], testvectors.Hex(in.DeviceSecret))
	iwk := d.InnerWrapKey(in.UserID, in.OrgID)
	check("inner wrap key", hexOf(iwk[:]), v.InnerWrapKey)
	gotM, err := iwk.OpenMaster(testvectors.Hex(v.KeyEncInner.Blob), in.OrgID, in.UserID)
	if err != nil || gotM != m {
		t.Errorf("open key.enc inner: %v", err)
	}

	var tok InviteToken
	copy(tok[:], testvectors.Hex(in.InviteToken))
	ik := tok.innerKey(in.OrgID, in.Email)
	check("invite inner key", hexOf(ik[:]), v.InviteInnerKey)
	gotM, err = tok.OpenMaster(testvectors.Hex(v.InviteInner.Blob), in.OrgID, in.Email)
	if err != nil || gotM != m {
		t.Errorf("open invite inner: %v", err)
	}

	var dt DeployToken
	copy(dt[:], testvectors.Hex(in.DeployToken))
	dk := dt.innerKey(in.EnvID)
	check("deploy inner key", hexOf(dk[:]), v.DeployInnerKey)
	ak := dt.AuthKey(in.EnvID)
	check("deploy auth key", hexOf(ak[:]), v.DeployAuthKey)
	check("deploy verifier", DeployVerifier(&ak), v.DeployAuthVerifier)
	gotEK, err := dt.OpenEnvKey(testvectors.Hex(v.DeployInner.Blob), in.EnvID, 1)
	if err != nil || gotEK != ek1 {
		t.Errorf("open deploy inner: %v", err)
	}

	kf := EnvKeyFile{EnvID: in.EnvID, Epoch: 1, Key: ek1}
	check("key file line", kf.Encode(), v.KeyFileLine)
	parsed, err := ParseEnvKeyFile(v.KeyFileLine)
	if err != nil || parsed != kf {
		t.Errorf("parse key file line: %v", err)
	}
}

// TestBIP39ReferenceVectors runs the trezor/python-mnemonic English
// vectors: entropy → phrase for every size through go-bip39, our own
// 24-word path and parser for the 256-bit ones, and the BIP-39 seed with
// passphrase "TREZOR" through the same PBKDF2 we use for M.
func TestBIP39ReferenceVectors(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(testvectors.Dir(), "bip39-trezor.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		English [][]string `json:"english"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.English) != 24 {
		t.Fatalf("want 24 English vectors, got %d", len(file.English))
	}
	checked24 := 0
	for i, vec := range file.English {
		entropy, phrase, seed := testvectors.Hex(vec[0]), vec[1], vec[2]
		got, err := bip39.NewMnemonic(entropy)
		if err != nil || got != phrase {
			t.Errorf("vector %d: go-bip39 gives %q, %v", i, got, err)
		}
		if gotSeed := bip39.NewSeed(phrase, "TREZOR"); hexOf(gotSeed) != seed {
			t.Errorf("vector %d: seed %x", i, gotSeed)
		}
		if len(entropy) != 32 {
			continue
		}
		checked24++
		ours, err := PhraseFromEntropy(entropy)
		if err != nil || ours != phrase {
			t.Errorf("vector %d: PhraseFromEntropy %q, %v", i, ours, err)
		}
		parsed, err := ParsePhrase("  " + phrase + "\n")
		if err != nil || parsed != phrase {
			t.Errorf("vector %d: ParsePhrase %q, %v", i, parsed, err)
		}
	}
	if checked24 < 4 {
		t.Errorf("only %d 24-word vectors checked", checked24)
	}
}
