package keys

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/capy-oss/capy/internal/wrap"
)

// buildAge builds the real age and age-keygen commands at the version go.mod pins
// (filippo.io/age/cmd/age v1.3.2, a tool of the module) into a temporary
// directory.
func buildAge(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the age command")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not on PATH")
	}
	dir := t.TempDir()
	out, err := exec.Command(goBin, "build", "-o", dir, "filippo.io/age/cmd/age", "filippo.io/age/cmd/age-keygen").CombinedOutput()
	if err != nil {
		t.Fatalf("build age: %v\n%s", err, out)
	}
	return filepath.Join(dir, "age")
}

// TestAgeInterop: a value age encrypts to an environment's recipient is a
// sealed value capy opens once base64url-encoded after the marker, and a
// sealed value capy writes opens with `age -d` given the identity.
func TestAgeInterop(t *testing.T) {
	age := buildAge(t)
	var ek EnvKey
	for i := range ek {
		ek[i] = byte(i)
	}
	id := ek.AgeIdentity("env_interop", 3)

	// age → capy
	enc := exec.Command(age, "-r", id.Recipient())
	enc.Stdin = bytes.NewBufferString("from-age-1 ${NOT_EXPANDED}")
	file, err := enc.Output()
	if err != nil {
		t.Fatalf("age -r: %v", err)
	}
	got, err := id.Open(wrap.FormatSealed(file))
	if err != nil || got != "from-age-1 ${NOT_EXPANDED}" {
		t.Fatalf("capy opens age's file: %q %v", got, err)
	}
	// another environment's identity cannot
	other := ek.AgeIdentity("env_other", 3)
	if _, err := other.Open(wrap.FormatSealed(file)); err != ErrSealedRecipient {
		t.Fatalf("other identity: %v", err)
	}

	// capy → age (the identity is written for this test only)
	sealed, err := SealTo(id.Recipient(), "from-capy-2\nline two")
	if err != nil {
		t.Fatal(err)
	}
	payload, err := wrap.ParseSealed(sealed)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	idFile := filepath.Join(dir, "identity.txt")
	if err := os.WriteFile(idFile, []byte(id.export()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dec := exec.Command(age, "-d", "-i", idFile)
	dec.Stdin = bytes.NewReader(payload)
	out, err := dec.Output()
	if err != nil {
		t.Fatalf("age -d: %v", err)
	}
	if string(out) != "from-capy-2\nline two" {
		t.Fatalf("age -d gave %q", out)
	}
	// age-keygen derives the same recipient from the exported identity
	o, err := exec.Command(age+"-keygen", "-y", idFile).Output()
	if err != nil || string(bytes.TrimSpace(o)) != id.Recipient() {
		t.Fatalf("age-keygen -y: %v (recipients differ: %v)", err, string(bytes.TrimSpace(o)) != id.Recipient())
	}
}
