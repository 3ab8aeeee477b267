package wrap_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/wrap"
)

var blobErrors = []error{wrap.ErrBlobFormat, wrap.ErrBlobTooLarge, wrap.ErrBlobUnsorted, wrap.ErrBlobDuplicateLine, wrap.ErrBadSignature}

// snippets seals n small variables under key seed k.
func snippets(t testing.TB, k byte, n int) []string {
	t.Helper()
	out := make([]string, n)
	for i := range out {
		s, err := wrap.SealSnippet(testKey(k), testRid, fmt.Sprintf("VAR_%d", i), 0, fmt.Sprintf("value %d", i))
		if err != nil {
			t.Fatal(err)
		}
		out[i] = s
	}
	return out
}

// designManifest builds the signed message exactly as DESIGN §2.4 writes it.
func designManifest(project, env string, epoch uint32, version uint64, parent string, lines []string) []byte {
	h := sha256.New()
	for _, l := range lines {
		h.Write([]byte(l + "\n"))
	}
	return fmt.Appendf(nil, "capy-manifest 1\n%s\n%s\n%d\n%d\n%s\n%x\n", project, env, epoch, version, parent, h.Sum(nil))
}

// serialise rebuilds a blob's bytes from its fields as DESIGN §2.4 lays
// them out.
func serialise(m wrap.Manifest, lines []string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "capy-blob 1\nmanifest %d %d %s %s\n", m.Epoch, m.Version, m.Parent, wrap.B64.EncodeToString(m.Signature))
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	return b.Bytes()
}

func blobID(raw []byte) string {
	s := sha256.Sum256(raw)
	return hex.EncodeToString(s[:])
}

func TestBlobRoundTrip(t *testing.T) {
	priv, pub := signer(1)
	lines := snippets(t, 40, 5)
	parent := strings.Repeat("0123456789abcdef", 4)
	b, err := wrap.BuildBlob(priv, projectID, envID, 3, 17, parent, lines)
	if err != nil {
		t.Fatal(err)
	}
	sorted := append([]string(nil), lines...)
	sort.Strings(sorted)
	if !slices.Equal(b.Snippets, sorted) {
		t.Fatal("BuildBlob did not sort the snippets")
	}
	if b.Epoch != 3 || b.Version != 17 || b.Parent != parent || len(b.Signature) != 64 {
		t.Fatalf("manifest %+v", b.Manifest)
	}
	raw := b.Raw()
	if !bytes.Equal(raw, serialise(b.Manifest, sorted)) {
		t.Fatalf("raw blob differs from the DESIGN §2.4 layout:\n%s", raw)
	}
	if !ed25519.Verify(pub, designManifest(projectID, envID, 3, 17, parent, sorted), b.Signature) {
		t.Fatal("signature is not over the DESIGN §2.4 manifest message")
	}
	if got := wrap.ManifestMessage(projectID, envID, 3, 17, parent, sorted); !bytes.Equal(got, designManifest(projectID, envID, 3, 17, parent, sorted)) {
		t.Fatalf("ManifestMessage = %q", got)
	}
	if b.ID() != blobID(raw) || wrap.BlobID(raw) != blobID(raw) {
		t.Fatal("blob id is not hex(SHA-256(bytes))")
	}

	p, err := wrap.ParseBlob(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p.Raw(), raw) || p.ID() != b.ID() || !slices.Equal(p.Snippets, sorted) ||
		p.Epoch != 3 || p.Version != 17 || p.Parent != parent || !bytes.Equal(p.Signature, b.Signature) {
		t.Fatalf("parsed %+v", p)
	}
	if err := p.VerifySignature(pub, projectID, envID); err != nil {
		t.Fatal(err)
	}
	// ParseBlob keeps its own copy of the input.
	raw2 := bytes.Clone(raw)
	p2, _ := wrap.ParseBlob(raw2)
	raw2[0] = 'X'
	if p2.Raw()[0] != 'c' {
		t.Fatal("ParseBlob aliases its input")
	}
}

func TestBlobEmptyAndFirst(t *testing.T) {
	priv, pub := signer(2)
	b, err := wrap.BuildBlob(priv, projectID, envID, 1, 1, wrap.NoParent, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "capy-blob 1\nmanifest 1 1 - " + wrap.B64.EncodeToString(b.Signature) + "\n"
	if string(b.Raw()) != want {
		t.Fatalf("empty blob = %q, want %q", b.Raw(), want)
	}
	p, err := wrap.ParseBlob(b.Raw())
	if err != nil || len(p.Snippets) != 0 {
		t.Fatalf("ParseBlob(empty) = %+v, %v", p, err)
	}
	if err := p.VerifySignature(pub, projectID, envID); err != nil {
		t.Fatal(err)
	}
}

func TestBlobVerifyWrongContext(t *testing.T) {
	priv, pub := signer(3)
	_, otherPub := signer(4)
	b, err := wrap.BuildBlob(priv, projectID, envID, 1, 1, wrap.NoParent, snippets(t, 41, 2))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		pub       ed25519.PublicKey
		proj, env string
	}{
		{"other key", otherPub, projectID, envID},
		{"other project", pub, project2, envID},
		{"other env", pub, projectID, envID2},
		{"short key", pub[:31], projectID, envID},
		{"nil key", nil, projectID, envID},
	} {
		err := b.VerifySignature(c.pub, c.proj, c.env)
		assertOnly(t, c.name, err, wrap.ErrBadSignature, blobErrors)
	}
}

// Every single-bit change of a blob is caught by ParseBlob or by the
// signature.
func TestBlobEveryBitFlip(t *testing.T) {
	priv, pub := signer(5)
	b, err := wrap.BuildBlob(priv, projectID, envID, 2, 9, strings.Repeat("ab", 32), snippets(t, 42, 2))
	if err != nil {
		t.Fatal(err)
	}
	raw := b.Raw()
	for bit := range len(raw) * 8 {
		m := flipBit(raw, bit)
		p, err := wrap.ParseBlob(m)
		if err != nil {
			continue
		}
		if err := p.VerifySignature(pub, projectID, envID); err == nil {
			t.Fatalf("bit %d flipped: blob still parses and verifies:\n%s", bit, m)
		} else if !errors.Is(err, wrap.ErrBadSignature) {
			t.Fatalf("bit %d: %v", bit, err)
		}
	}
}

func TestBlobTampering(t *testing.T) {
	priv, pub := signer(6)
	lines := snippets(t, 43, 4)
	b, err := wrap.BuildBlob(priv, projectID, envID, 1, 5, wrap.NoParent, lines)
	if err != nil {
		t.Fatal(err)
	}
	other, err := wrap.BuildBlob(priv, projectID, envID, 1, 5, wrap.NoParent, snippets(t, 44, 3))
	if err != nil {
		t.Fatal(err)
	}
	s := b.Snippets
	head := string(b.Raw()[:bytes.IndexByte(b.Raw()[len("capy-blob 1\n"):], '\n')+len("capy-blob 1\n")+1])
	body := func(ls ...string) []byte {
		var out strings.Builder
		out.WriteString(head)
		for _, l := range ls {
			out.WriteString(l + "\n")
		}
		return []byte(out.String())
	}
	spliced := append(append([]string(nil), s...), other.Snippets[0])
	sort.Strings(spliced)
	replaced := []string{s[0], s[1], s[2], other.Snippets[1]}
	sort.Strings(replaced)
	cases := []struct {
		name     string
		raw      []byte
		parseErr error // nil: parses, then the signature must fail
	}{
		{"unsorted", body(s[1], s[0], s[2], s[3]), wrap.ErrBlobUnsorted},
		{"unsorted at end", body(s[0], s[1], s[3], s[2]), wrap.ErrBlobUnsorted},
		{"duplicated line", body(s[0], s[1], s[1], s[2], s[3]), wrap.ErrBlobDuplicateLine},
		{"dropped line", body(s[0], s[1], s[3]), nil},
		{"dropped all lines", body(), nil},
		{"spliced line", body(spliced...), nil},
		{"line replaced", body(replaced...), nil},
		{"blank line", body(s[0], "", s[1], s[2], s[3]), wrap.ErrBlobFormat},
		{"trailing blank line", append(body(s...), '\n'), wrap.ErrBlobFormat},
		{"CRLF", bytes.ReplaceAll(b.Raw(), []byte("\n"), []byte("\r\n")), wrap.ErrBlobFormat},
		{"not a snippet", body(s[0], s[1], s[2], s[3], "z"), wrap.ErrBlobFormat},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := wrap.ParseBlob(c.raw)
			if c.parseErr != nil {
				assertOnly(t, "ParseBlob", err, c.parseErr, blobErrors)
				return
			}
			if err != nil {
				t.Fatalf("ParseBlob: %v (the signature should be what catches this)", err)
			}
			assertOnly(t, "VerifySignature", p.VerifySignature(pub, projectID, envID), wrap.ErrBadSignature, blobErrors)
		})
	}
}

func TestParseBlobFormat(t *testing.T) {
	priv, _ := signer(7)
	b, err := wrap.BuildBlob(priv, projectID, envID, 1, 2, strings.Repeat("cd", 32), snippets(t, 45, 1))
	if err != nil {
		t.Fatal(err)
	}
	raw := string(b.Raw())
	sig := wrap.B64.EncodeToString(b.Signature)
	withManifest := func(m string) []byte {
		return []byte("capy-blob 1\n" + m + "\n" + b.Snippets[0] + "\n")
	}
	parent := strings.Repeat("cd", 32)
	good := fmt.Sprintf("manifest 1 2 %s %s", parent, sig)
	if _, err := wrap.ParseBlob(withManifest(good)); err != nil {
		t.Fatalf("control: %v", err)
	}
	cases := map[string][]byte{
		"empty":                  nil,
		"header only":            []byte("capy-blob 1\n"),
		"header without newline": []byte("capy-blob 1"),
		"wrong header version":   []byte(strings.Replace(raw, "capy-blob 1\n", "capy-blob 2\n", 1)),
		"wrong header":           []byte(strings.Replace(raw, "capy-blob 1\n", "capy-blob  1\n", 1)),
		"upper header":           []byte(strings.Replace(raw, "capy-blob", "CAPY-BLOB", 1)),
		"no header":              []byte(strings.TrimPrefix(raw, "capy-blob 1\n")),
		"missing final newline":  []byte(strings.TrimSuffix(raw, "\n")),
		"manifest missing":       []byte("capy-blob 1\n" + b.Snippets[0] + "\n"),
		"manifest tag":           withManifest(fmt.Sprintf("manifesto 1 2 %s %s", parent, sig)),
		"epoch leading zero":     withManifest(fmt.Sprintf("manifest 01 2 %s %s", parent, sig)),
		"epoch plus":             withManifest(fmt.Sprintf("manifest +1 2 %s %s", parent, sig)),
		"epoch minus":            withManifest(fmt.Sprintf("manifest -1 2 %s %s", parent, sig)),
		"epoch zero":             withManifest(fmt.Sprintf("manifest 0 2 %s %s", parent, sig)),
		"epoch over 32 bits":     withManifest(fmt.Sprintf("manifest 4294967296 2 %s %s", parent, sig)),
		"epoch hex":              withManifest(fmt.Sprintf("manifest 0x1 2 %s %s", parent, sig)),
		"epoch empty":            withManifest(fmt.Sprintf("manifest  2 %s %s", parent, sig)),
		"version leading zero":   withManifest(fmt.Sprintf("manifest 1 02 %s %s", parent, sig)),
		"version plus":           withManifest(fmt.Sprintf("manifest 1 +2 %s %s", parent, sig)),
		"version zero":           withManifest(fmt.Sprintf("manifest 1 0 %s %s", parent, sig)),
		"version over 64 bits":   withManifest(fmt.Sprintf("manifest 1 18446744073709551616 %s %s", parent, sig)),
		"version with space":     withManifest(fmt.Sprintf("manifest 1  2 %s %s", parent, sig)),
		"version underscore":     withManifest(fmt.Sprintf("manifest 1 1_0 %s %s", parent, sig)),
		"parent upper":           withManifest(fmt.Sprintf("manifest 1 2 %s %s", strings.ToUpper(parent), sig)),
		"parent short":           withManifest(fmt.Sprintf("manifest 1 2 %s %s", parent[:63], sig)),
		"parent long":            withManifest(fmt.Sprintf("manifest 1 2 %s0 %s", parent, sig)),
		"parent not hex":         withManifest(fmt.Sprintf("manifest 1 2 %s %s", strings.Repeat("g", 64), sig)),
		"parent double dash":     withManifest(fmt.Sprintf("manifest 1 2 -- %s", sig)),
		"parent empty":           withManifest(fmt.Sprintf("manifest 1 2  %s", sig)),
		"parent missing":         withManifest(fmt.Sprintf("manifest 1 2 %s", sig)),
		"signature short":        withManifest(fmt.Sprintf("manifest 1 2 %s %s", parent, wrap.B64.EncodeToString(b.Signature[:63]))),
		"signature long":         withManifest(fmt.Sprintf("manifest 1 2 %s %s", parent, wrap.B64.EncodeToString(append(bytes.Clone(b.Signature), 0)))),
		"signature padded":       withManifest(fmt.Sprintf("manifest 1 2 %s %s==", parent, sig)),
		"signature std b64":      withManifest(fmt.Sprintf("manifest 1 2 %s %s", parent, strings.NewReplacer("-", "+", "_", "/").Replace(sig)+"+")),
		"signature with CR":      withManifest(fmt.Sprintf("manifest 1 2 %s %s\r", parent, sig)),
		"signature split by CR":  withManifest(fmt.Sprintf("manifest 1 2 %s %s\r%s", parent, sig[:40], sig[40:])),
		"extra field":            withManifest(fmt.Sprintf("manifest 1 2 %s %s x", parent, sig)),
		"trailing space":         withManifest(fmt.Sprintf("manifest 1 2 %s %s ", parent, sig)),
		"tab separated":          withManifest(fmt.Sprintf("manifest\t1 2 %s %s", parent, sig)),
		"snippet with CR":        []byte(strings.TrimSuffix(raw, "\n") + "\r\n"),
	}
	for name, in := range cases {
		p, err := wrap.ParseBlob(in)
		if !errors.Is(err, wrap.ErrBlobFormat) {
			t.Errorf("%s: ParseBlob = %+v, %v; want ErrBlobFormat", name, p, err)
		}
	}
}

func TestParseBlobTooLarge(t *testing.T) {
	big := make([]byte, wrap.MaxBlobSize+1)
	copy(big, "capy-blob 1\n")
	_, err := wrap.ParseBlob(big)
	assertOnly(t, "too large", err, wrap.ErrBlobTooLarge, blobErrors)
}

func TestBuildBlobRejects(t *testing.T) {
	priv, _ := signer(8)
	ok := snippets(t, 46, 2)
	cases := []struct {
		name      string
		proj, env string
		epoch     uint32
		version   uint64
		parent    string
		lines     []string
		want      error
	}{
		{"bad project", "prj_../../..", envID, 1, 1, wrap.NoParent, ok, ident.ErrBadID},
		{"env as project", envID, envID, 1, 1, wrap.NoParent, ok, ident.ErrBadID},
		{"bad env", projectID, "env_x", 1, 1, wrap.NoParent, ok, ident.ErrBadID},
		{"epoch 0", projectID, envID, 0, 1, wrap.NoParent, ok, wrap.ErrBlobFormat},
		{"version 0", projectID, envID, 1, 0, wrap.NoParent, ok, wrap.ErrBlobFormat},
		{"bad parent", projectID, envID, 1, 1, "x", ok, wrap.ErrBlobFormat},
		{"bad snippet", projectID, envID, 1, 1, wrap.NoParent, []string{"capy:nope"}, wrap.ErrSnippetFormat},
		{"snippet with newline", projectID, envID, 1, 1, wrap.NoParent, []string{ok[0] + "\n" + ok[1]}, wrap.ErrSnippetFormat},
		{"duplicate", projectID, envID, 1, 1, wrap.NoParent, []string{ok[0], ok[1], ok[0]}, wrap.ErrBlobDuplicateLine},
	}
	for _, c := range cases {
		b, err := wrap.BuildBlob(priv, c.proj, c.env, c.epoch, c.version, c.parent, c.lines)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: BuildBlob = %v, %v; want %v", c.name, b, err, c.want)
		}
	}
	// BuildBlob does not reorder its caller's slice.
	in := []string{ok[1], ok[0]}
	if ok[1] < ok[0] {
		in = []string{ok[0], ok[1]}
	}
	before := append([]string(nil), in...)
	if _, err := wrap.BuildBlob(priv, projectID, envID, 1, 1, wrap.NoParent, in); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(in, before) {
		t.Error("BuildBlob sorted the caller's slice in place")
	}
}

func TestCheckNext(t *testing.T) {
	priv, _ := signer(9)
	build := func(version uint64, parent string) *wrap.Blob {
		t.Helper()
		b, err := wrap.BuildBlob(priv, projectID, envID, 1, version, parent, snippets(t, 47, 1))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	v1 := build(1, wrap.NoParent)
	v2 := build(2, v1.ID())
	for _, c := range []struct {
		name       string
		head, next *wrap.Blob
		want       bool
	}{
		{"first", nil, v1, true},
		{"first with parent", nil, build(1, v1.ID()), false},
		{"first at version 2", nil, build(2, wrap.NoParent), false},
		{"next", v1, v2, true},
		{"next without parent", v1, build(2, wrap.NoParent), false},
		{"next wrong parent", v1, build(2, strings.Repeat("0", 64)), false},
		{"skips a version", v1, build(3, v1.ID()), false},
		{"same version", v1, build(1, v1.ID()), false},
		{"replay of head", v1, v1, false},
		{"older", v2, v1, false},
		{"after v2", v2, build(3, v2.ID()), true},
		{"after v2, parent v1", v2, build(3, v1.ID()), false},
	} {
		if got := wrap.CheckNext(c.head, c.next); got != c.want {
			t.Errorf("%s: CheckNext = %v, want %v", c.name, got, c.want)
		}
	}
}
