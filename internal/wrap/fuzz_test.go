package wrap_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/capy-oss/capy/internal/wrap"
)

// Seeds are built from valid examples at the start of each fuzz target, so
// the fuzzer starts from the real formats; the properties then say what
// must hold for any input. Targets that remember what they sealed build
// their seeds with fixed IVs (helpers_test.go): every fuzzing worker runs
// the setup again and must arrive at the same set.

var fuzzSnippetNames = []string{"A", "DATABASE_URL", "db.host"}

func FuzzParseSnippet(f *testing.F) {
	k := testKey(60)
	for i, name := range fuzzSnippetNames {
		s, err := wrap.SealSnippet(k, testRid, name, byte(i%2), strings.Repeat("v", i*7))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(s)
	}
	f.Add("capy:" + testRid + ":" + strings.Repeat("A", 38))
	f.Add("capy:" + testRid + ":" + strings.Repeat("A", 37) + "B")
	f.Add("capy:ab2cd:AAAA\nAAAA")
	f.Add("capy:")
	f.Fuzz(func(t *testing.T, text string) {
		s, err := wrap.ParseSnippet(text)
		if err != nil {
			return
		}
		if got := s.String(); got != text {
			t.Fatalf("ParseSnippet(%q).String() = %q", text, got)
		}
		if len(s.Rid) != wrap.RidLen || len(s.Box) < 28 {
			t.Fatalf("parsed %q to rid %q, box of %d bytes", text, s.Rid, len(s.Box))
		}
		if !wrap.IsSnippet(text) {
			t.Fatalf("IsSnippet(%q) = false for a parsed snippet", text)
		}
	})
}

func FuzzOpenSnippet(f *testing.F) {
	k := testKey(61)
	// sealed maps each text the test sealed to its name and value.
	type entry struct{ name, value string }
	sealed := map[string]entry{}
	for i, name := range fuzzSnippetNames {
		for j, v := range []string{"", "secret", "multi\nline\x00value"} {
			s := detSnippet(f, k, byte(i*3+j), testRid, name, byte((i+j)%2), v)
			if _, _, err := wrap.OpenSnippet(k, testRid, name, s); err != nil {
				f.Fatalf("seed does not open: %v", err)
			}
			sealed[s] = entry{name, v}
			f.Add(testRid, name, s)
			f.Add("zzzzz", name, s)
			f.Add(testRid, fuzzSnippetNames[(i+1)%len(fuzzSnippetNames)], s)
		}
	}
	f.Fuzz(func(t *testing.T, wantRid, name, text string) {
		v, flags, err := wrap.OpenSnippet(k, wantRid, name, text)
		if err != nil {
			if v != "" || flags != 0 {
				t.Fatalf("error %v came with value %q, flags %#x", err, v, flags)
			}
			return
		}
		e, ok := sealed[text]
		if !ok {
			t.Fatalf("OpenSnippet accepted text it never sealed: %q → %q", text, v)
		}
		if e.name != name || e.value != v || wantRid != testRid {
			t.Fatalf("OpenSnippet(%q, %q, %q) = %q; sealed for %q = %q", wantRid, name, text, v, e.name, e.value)
		}
		if flags&^wrap.FlagLiteral != 0 {
			t.Fatalf("unknown flags %#x returned", flags)
		}
	})
}

func FuzzParseBlob(f *testing.F) {
	priv, pub := signer(62)
	valid := map[string]bool{}
	var lines []string
	for i, name := range fuzzSnippetNames {
		lines = append(lines, detSnippet(f, testKey(63), byte(i), testRid, name, 0, "value"))
	}
	for i, c := range []struct {
		epoch   uint32
		version uint64
		parent  string
		n       int
	}{{1, 1, wrap.NoParent, 0}, {1, 2, strings.Repeat("a", 64), 1}, {7, 1 << 40, strings.Repeat("0f", 32), 3}} {
		b, err := wrap.BuildBlob(priv, projectID, envID, c.epoch, c.version, c.parent, lines[:c.n])
		if err != nil {
			f.Fatalf("seed %d: %v", i, err)
		}
		valid[string(b.Raw())] = true
		f.Add(b.Raw())
	}
	f.Add([]byte("capy-blob 1\n"))
	f.Add([]byte("capy-blob 1\nmanifest 1 1 - x\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		b, err := wrap.ParseBlob(raw)
		if err != nil {
			return
		}
		if !bytes.Equal(b.Raw(), raw) {
			t.Fatal("Raw() differs from the input")
		}
		if b.ID() != blobID(raw) {
			t.Fatal("ID() is not hex(SHA-256(input))")
		}
		// The fields determine the bytes: re-serialising gives the input.
		if re := serialise(b.Manifest, b.Snippets); !bytes.Equal(re, raw) {
			t.Fatalf("re-serialised blob differs:\n%q\n%q", re, raw)
		}
		for i := 1; i < len(b.Snippets); i++ {
			if b.Snippets[i-1] >= b.Snippets[i] {
				t.Fatalf("lines %d and %d not strictly sorted", i-1, i)
			}
		}
		if b.Epoch == 0 || b.Version == 0 || len(b.Signature) != 64 {
			t.Fatalf("manifest %+v", b.Manifest)
		}
		// Nothing but a blob the key signed verifies.
		if err := b.VerifySignature(pub, projectID, envID); err == nil && !valid[string(raw)] {
			t.Fatalf("an unsigned blob verifies:\n%q", raw)
		}
		// A rebuilt blob with the same content and a fresh signature parses
		// to the same fields (Ed25519 is deterministic, so same bytes too).
		if re, err := wrap.BuildBlob(priv, projectID, envID, b.Epoch, b.Version, b.Parent, b.Snippets); err != nil {
			t.Fatalf("BuildBlob on parsed fields: %v", err)
		} else if p, err := wrap.ParseBlob(re.Raw()); err != nil || !slices.Equal(p.Snippets, b.Snippets) {
			t.Fatalf("rebuilt blob does not parse back: %v", err)
		}
	})
}

func FuzzOpenSealed(f *testing.F) {
	k := testKey(64)
	type entry struct{ pt, aad string }
	sealed := map[string]entry{}
	for _, c := range []entry{{"", ""}, {"M", "capy:key:" + orgID + ":" + userID}, {strings.Repeat("k", 32), "capy:deploy:" + envID + ":1"}} {
		box := detSeal(f, k, byte(len(c.pt)), []byte(c.pt), []byte(c.aad))
		if pt, err := wrap.Open(k, box, []byte(c.aad)); err != nil || string(pt) != c.pt {
			f.Fatalf("seed does not open: %v", err)
		}
		sealed[string(box)] = c
		f.Add(box, []byte(c.aad))
	}
	f.Add([]byte{1}, []byte(nil))
	f.Add(make([]byte, 29), []byte("x"))
	f.Fuzz(func(t *testing.T, box, aad []byte) {
		pt, err := wrap.Open(k, box, aad)
		if err != nil {
			if pt != nil {
				t.Fatal("plaintext returned with an error")
			}
			return
		}
		e, ok := sealed[string(box)]
		if !ok || e.aad != string(aad) || e.pt != string(pt) {
			t.Fatalf("Open accepted a box it never sealed (or with another aad): %x / %q", box, aad)
		}
	})
}

func FuzzOpenOuter(f *testing.F) {
	kek := testKey(65)
	type entry struct{ inner, purpose, subject string }
	sealed := map[string]entry{}
	for _, c := range []entry{{"", wrap.PurposeKey, userID}, {"inner", wrap.PurposeInvite, inviteID}, {strings.Repeat("i", 61), wrap.PurposeDeploy, deployID}} {
		outer := detOuter(f, kek, byte(len(c.inner)), 3, orgID, c.purpose, c.subject, []byte(c.inner))
		if inner, err := wrap.OpenOuter(kek, orgID, c.purpose, c.subject, outer); err != nil || string(inner) != c.inner {
			f.Fatalf("seed does not open: %v", err)
		}
		sealed[string(outer)] = c
		f.Add(outer, c.purpose, c.subject)
	}
	f.Add([]byte{1, 0, 0, 0, 3}, wrap.PurposeKey, userID)
	f.Fuzz(func(t *testing.T, outer []byte, purpose, subject string) {
		_, kerr := wrap.OuterKeyID(outer)
		inner, err := wrap.OpenOuter(kek, orgID, purpose, subject, outer)
		if err != nil {
			return
		}
		if kerr != nil {
			t.Fatalf("OpenOuter succeeded where OuterKeyID failed: %v", kerr)
		}
		e, ok := sealed[string(outer)]
		if !ok {
			// The kid is outside the seal (DESIGN §2.6): a blob whose
			// kid alone was changed still opens under the same KEK. The
			// service catches that by looking the kid up in its keyring.
			for s, en := range sealed {
				if len(s) == len(outer) && s[0] == outer[0] && s[5:] == string(outer[5:]) {
					e, ok = en, true
				}
			}
			if !ok {
				t.Fatalf("OpenOuter accepted an outer blob it never sealed: %x", outer)
			}
		}
		if e.purpose != purpose || e.subject != subject || e.inner != string(inner) {
			t.Fatalf("OpenOuter opened %q for %s/%s", inner, purpose, subject)
		}
	})
}

func FuzzParseRedeemCode(f *testing.F) {
	for i := range 3 {
		c := redeemCode()
		c.Token = token(byte(i))
		c.URL = []string{"https://capy.example.com", "http://[::1]:8080", "https://x.io/capy"}[i]
		f.Add(c.Encode())
	}
	f.Add(deployCode().Encode())
	f.Add("capy-redeem-")
	f.Fuzz(func(t *testing.T, text string) {
		c, err := wrap.ParseRedeemCode(text)
		if err != nil {
			return
		}
		if enc := c.Encode(); enc != strings.TrimSpace(text) {
			t.Fatalf("ParseRedeemCode(%q).Encode() = %q", text, enc)
		}
		if again, err := wrap.ParseRedeemCode(c.Encode()); err != nil || again != c {
			t.Fatalf("re-parse: %v", err)
		}
	})
}

func FuzzParseDeployCode(f *testing.F) {
	for i := range 3 {
		c := deployCode()
		c.Token = token(byte(i))
		c.Epoch = uint32(i*1000 + 1)
		f.Add(c.Encode())
	}
	f.Add(redeemCode().Encode())
	f.Add("capy-deploy-")
	f.Fuzz(func(t *testing.T, text string) {
		c, err := wrap.ParseDeployCode(text)
		if err != nil {
			return
		}
		if enc := c.Encode(); enc != strings.TrimSpace(text) {
			t.Fatalf("ParseDeployCode(%q).Encode() = %q", text, enc)
		}
		if c.Epoch == 0 {
			t.Fatal("epoch 0 accepted")
		}
		if again, err := wrap.ParseDeployCode(c.Encode()); err != nil || again != c {
			t.Fatalf("re-parse: %v", err)
		}
	})
}

// FuzzParseSealed: the parser never panics, never returns a file for an
// over-long text, and whatever it accepts formats back to the same text.
func FuzzParseSealed(f *testing.F) {
	f.Add("capy:age:" + wrap.B64.EncodeToString([]byte("age-encryption.org/v1\n-> X25519 abc\n")))
	f.Add("capy:age:")
	f.Add("capy:age:YWdl")
	f.Add("capy:abcde:AAAA")
	f.Add("capy:age:" + strings.Repeat("A", 100))
	f.Fuzz(func(t *testing.T, text string) {
		file, err := wrap.ParseSealed(text)
		if err != nil {
			return
		}
		if len(text) > wrap.MaxSealedLen {
			t.Fatalf("accepted %d bytes", len(text))
		}
		if wrap.FormatSealed(file) != text {
			t.Fatalf("round trip changed %q", text)
		}
		if _, err := wrap.ParseSnippet(text); err == nil {
			t.Fatalf("%q parses as both a sealed value and a snippet", text)
		}
	})
}
