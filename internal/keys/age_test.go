package keys

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capy-oss/capy/internal/testvectors"
	"github.com/capy-oss/capy/internal/wrap"
)

type ageVectors struct {
	EnvID  string `json:"env_id"`
	Epochs map[string]struct {
		EnvKey    string `json:"env_key"`
		Seed      string `json:"age_seed"`
		Identity  string `json:"age_identity"`
		Recipient string `json:"age_recipient"`
		// RecipientSHA256 is what protocol.md quotes of the long recipient.
		RecipientSHA256 string `json:"age_recipient_sha256"`
	} `json:"epochs"`
}

const ageVectorFile = "../../testdata/vectors/age.json"

func loadAgeVectors(t *testing.T) ageVectors {
	t.Helper()
	raw, err := os.ReadFile(ageVectorFile)
	if err != nil {
		t.Fatal(err)
	}
	var v ageVectors
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Epochs) != 2 {
		t.Fatalf("want 2 epochs in %s", ageVectorFile)
	}
	return v
}

// TestAgeIdentityVectors checks the derivation against the vectors the
// independent Python implementation (testdata/vectors/age_vector.py)
// computed from the vector phrase's EK.
func TestAgeIdentityVectors(t *testing.T) {
	v := loadAgeVectors(t)
	tv := loadVectors(t)
	phrase, err := PhraseFromEntropy(testvectors.Hex(tv.Inputs.Entropy))
	if err != nil {
		t.Fatal(err)
	}
	m, err := MasterKeyFromPhrase(phrase)
	if err != nil {
		t.Fatal(err)
	}
	pk := m.ProjectKey(tv.Inputs.OrgID, tv.Inputs.ProjectID)
	for _, epoch := range []uint32{1, 2} {
		want := v.Epochs[epochText(epoch)]
		ek := pk.EnvKey(tv.Inputs.ProjectID, v.EnvID, epoch)
		if hexOf(ek[:]) != want.EnvKey {
			t.Fatalf("epoch %d: EK differs from the vector", epoch)
		}
		seed := wrap.DeriveKey(ek[:], []byte(v.EnvID), infoAgeIdentity+epochText(epoch))
		if hexOf(seed[:]) != want.Seed {
			t.Errorf("epoch %d: seed %x, want %s", epoch, seed, want.Seed)
		}
		id := ek.AgeIdentity(v.EnvID, epoch)
		if got := id.export(); got != want.Identity {
			t.Errorf("epoch %d: identity differs from the vector", epoch)
		}
		if got := id.Recipient(); got != want.Recipient {
			t.Errorf("epoch %d: recipient %s, want %s", epoch, got, want.Recipient)
		}
		if sum := sha256.Sum256([]byte(id.Recipient())); hexOf(sum[:]) != want.RecipientSHA256 {
			t.Errorf("epoch %d: recipient SHA-256 differs from the vector", epoch)
		}
	}
}

// TestAgeVectorsInProtocolDoc: the values protocol.md §14 quotes are the
// vectors'.
func TestAgeVectorsInProtocolDoc(t *testing.T) {
	v := loadAgeVectors(t)
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "protocol.md"))
	if err != nil {
		t.Fatal(err)
	}
	for e, want := range v.Epochs {
		for _, s := range []string{want.Seed, want.Identity, want.RecipientSHA256} {
			if !strings.Contains(string(doc), "`"+s+"`") {
				t.Errorf("docs/protocol.md §14 does not quote epoch %s's %s", e, s)
			}
		}
	}
}

// TestAgeVectorsIndependent reruns the Python implementation and checks it
// still produces the committed vectors (skipped without python3 and
// cryptography ≥ 46).
func TestAgeVectorsIndependent(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not available")
	}
	if exec.Command(py, "-c", "from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PrivateKey").Run() != nil {
		t.Skip("python cryptography without ML-KEM")
	}
	script := filepath.Join("..", "..", "testdata", "vectors", "age_vector.py")
	out, err := exec.Command(py, script, "--check", ageVectorFile).CombinedOutput()
	if err != nil {
		t.Fatalf("age_vector.py --check: %v\n%s", err, out)
	}
}

func TestSealedRoundTrip(t *testing.T) {
	var ek EnvKey
	ek[0] = 1
	id := ek.AgeIdentity("env_a", 1)
	if !strings.HasPrefix(id.Recipient(), "age1pq1") {
		t.Fatalf("recipient %s", id.Recipient())
	}
	a, err := SealTo(id.Recipient(), "sk_live_1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := SealTo(id.Recipient(), "sk_live_1")
	if a == b {
		t.Fatal("two seals of one value are equal: nothing may be reused")
	}
	if got, err := id.Open(a); err != nil || got != "sk_live_1" {
		t.Fatalf("open: %q %v", got, err)
	}
	// Another epoch, another environment: another recipient.
	other := ek.AgeIdentity("env_a", 2)
	if other.Recipient() == id.Recipient() || ek.AgeIdentity("env_b", 1).Recipient() == id.Recipient() {
		t.Fatal("recipient does not depend on env and epoch")
	}
	if _, err := other.Open(a); !errors.Is(err, ErrSealedRecipient) {
		t.Fatalf("other epoch: %v", err)
	}
	if got, err := OpenSealed(a, other, id); err != nil || got != "sk_live_1" {
		t.Fatalf("open with several: %q %v", got, err)
	}
	// Tampered: flip a byte of the payload (the last characters).
	file, _ := wrap.ParseSealed(a)
	file[len(file)-3] ^= 1
	if _, err := id.Open(wrap.FormatSealed(file)); !errors.Is(err, ErrSealedTampered) {
		t.Fatalf("tampered: %v", err)
	}
	// Truncated.
	if _, err := id.Open(wrap.FormatSealed(file[:len(file)-20])); !errors.Is(err, ErrSealedTampered) {
		t.Fatalf("truncated: %v", err)
	}
	if _, err := id.Open("capy:age:bm90IGFnZQ"); !errors.Is(err, wrap.ErrSealedFormat) {
		t.Fatalf("non-age: %v", err)
	}
	if _, err := id.Open("capy:age:" + strings.Repeat("A", wrap.MaxSealedLen)); !errors.Is(err, wrap.ErrSealedFormat) {
		t.Fatalf("oversized: %v", err)
	}
	if _, err := SealTo("age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq", "v"); !errors.Is(err, ErrRecipient) {
		t.Fatalf("classic recipient: %v", err)
	}
	if _, err := SealTo(id.Recipient(), strings.Repeat("x", MaxSealedValue+1)); !errors.Is(err, ErrSealedTooLarge) {
		t.Fatalf("too large: %v", err)
	}
	if s := id.String(); s != redacted {
		t.Fatalf("identity prints %q", s)
	}
}
