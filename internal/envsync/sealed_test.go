package envsync

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/capy-oss/capy/internal/keys"
)

// sealedFor seals value to the recipient of the test environment's epoch.
func sealedFor(t *testing.T, kr *MemberKeys, envID string, epoch uint32, value string) string {
	t.Helper()
	ek := kr.PK.EnvKey(prj, envID, epoch)
	s, err := keys.SealTo(ek.AgeIdentity(envID, epoch).Recipient(), value)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSyncAdoptsSealedValues: a sealed value in the file is opened, sealed
// again as a snippet and pushed; the report names it; it is literal.
func TestSyncAdoptsSealedValues(t *testing.T) {
	r := &memRemote{}
	kr := memberKeys(t)
	m := newMachine(t, r, kr, "A=1\n")
	m.mustSync()
	sealed := sealedFor(t, kr, env, 1, "sk_${A}")
	os.WriteFile(m.file, []byte(m.read()+"STRIPE="+sealed+"\n"), 0o600)
	rep, err := m.sync(PreferNone)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Pushed || len(rep.Adopted) != 1 || rep.Adopted[0] != "STRIPE" {
		t.Fatalf("report %+v: want STRIPE adopted and pushed", rep)
	}
	if strings.Contains(m.read(), "capy:age:") {
		t.Fatal("the sealed value is still in the file after adoption")
	}
	c, _ := kr.Cipher(1)
	lf, err := ReadLocal(plainFile(m.file), c)
	if err != nil {
		t.Fatal(err)
	}
	if v := lf.Side.Values["STRIPE"]; v.Text != "sk_${A}" || !v.Literal {
		t.Fatalf("adopted value %+v: want the text, literal", v)
	}
	if len(r.versions) != 2 {
		t.Fatalf("%d versions, want 2", len(r.versions))
	}
}

// TestSealedValueRefusals: a sealed value that does not open is refused
// with the variable's name; nothing is pushed and the file is unchanged.
func TestSealedValueRefusals(t *testing.T) {
	r := &memRemote{}
	kr := memberKeys(t)
	m := newMachine(t, r, kr, "A=1\n")
	m.mustSync()
	base := m.read()
	good := sealedFor(t, kr, env, 1, "v")
	var other keys.EnvKey
	other[0] = 7
	foreign, err := keys.SealTo(other.AgeIdentity("env_elsewhere", 1).Recipient(), "v")
	if err != nil {
		t.Fatal(err)
	}
	tampered := []byte(good)
	tampered[len(tampered)-5] ^= 'A' ^ 'B' // still base64url, different bytes
	for _, tc := range []struct{ name, value, want string }{
		{"foreign", foreign, "no key here opens"},
		{"truncated", good[:len(good)-40], "cannot be used"},
		{"non-age", "capy:age:bm90LWFnZQ", "cannot be used"},
		{"oversized", "capy:age:" + strings.Repeat("A", 100<<10), "cannot be used"},
		{"tampered", string(tampered), "cannot be used"},
	} {
		content := base + "NEW=" + tc.value + "\n"
		os.WriteFile(m.file, []byte(content), 0o600)
		_, err := m.sync(PreferNone)
		if err == nil || !strings.Contains(err.Error(), "NEW") || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%s: %v, want a refusal naming NEW (%s)", tc.name, err, tc.want)
		}
		if len(r.versions) != 1 || m.read() != content {
			t.Fatalf("%s: a refused sync pushed or rewrote the file", tc.name)
		}
	}
}

// TestSealedReplacementIsConfirmed: a sealed value replacing a value of
// the base is named before the push; adding one is not asked about.
func TestSealedReplacementIsConfirmed(t *testing.T) {
	r := &memRemote{}
	kr := memberKeys(t)
	m := newMachine(t, r, kr, "A=1\nB=2\n")
	m.mustSync()
	var asked *Replacement
	syncWith, no := m.refusingReplacements(t, &asked)
	snippets := m.read()
	var lines []string
	for _, l := range strings.SplitAfter(snippets, "\n") {
		if strings.HasPrefix(l, "B=") {
			l = "B=" + sealedFor(t, kr, env, 1, "9") + "\n"
		}
		lines = append(lines, l)
	}
	if err := syncWith(strings.Join(lines, "")); !errors.Is(err, no) || asked == nil ||
		len(asked.Sealed) != 1 || asked.Sealed[0] != "B" || len(asked.Changed) != 1 {
		t.Fatalf("replacement: %v, asked %+v", err, asked)
	}
	if len(r.versions) != 1 {
		t.Fatal("a refused replacement was pushed")
	}
	asked = nil
	if err := syncWith(snippets + "C=" + sealedFor(t, kr, env, 1, "3") + "\n"); err != nil || asked != nil {
		t.Fatalf("adding a sealed value: %v, asked %+v", err, asked)
	}
}

// TestMemberOpensOtherEpochs: with MoreAge, a value sealed to an older
// epoch of the environment opens.
func TestMemberOpensOtherEpochs(t *testing.T) {
	kr := memberKeys(t)
	old := sealedFor(t, kr, env, 1, "old-epoch")
	c, _ := kr.Cipher(2)
	if _, err := c.OpenSealed(old); !errors.Is(err, keys.ErrSealedRecipient) {
		t.Fatalf("without MoreAge: %v", err)
	}
	kr.MoreAge = func() []*keys.AgeIdentity {
		ek := kr.PK.EnvKey(prj, env, 1)
		return []*keys.AgeIdentity{ek.AgeIdentity(env, 1)}
	}
	c, _ = kr.Cipher(2)
	if v, err := c.OpenSealed(old); err != nil || v != "old-epoch" {
		t.Fatalf("with MoreAge: %q %v", v, err)
	}
}
