package wrap_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/wrap"
)

const testRid = "ab2cd"

var snippetErrors = []error{wrap.ErrSnippetFormat, wrap.ErrSnippetFlags, wrap.ErrSnippetName, wrap.ErrSnippetRid, wrap.ErrDecrypt}

func TestSnippetErrorsDistinct(t *testing.T) {
	for i, a := range snippetErrors {
		for j, b := range snippetErrors {
			if i != j && errors.Is(a, b) {
				t.Errorf("%v matches %v", a, b)
			}
		}
	}
}

func TestSnippetRoundTrip(t *testing.T) {
	k := testKey(20)
	values := []string{
		"", "x", "postgres://u:p@h/db", "line1\nline2\r\n", "nul\x00inside", "\x00",
		"ünïcødé ✓ 日本", "${HOME} $(rm -rf /)", strings.Repeat("v", 4096), "\xff\xfe not utf-8",
		"trailing space ", "'quoted'", "\"dq\"", "#not a comment",
	}
	names := []string{"A", "_", "DATABASE_URL", "db.host", strings.Repeat("N", 256)}
	for _, name := range names {
		for _, v := range values {
			for _, flags := range []byte{0, wrap.FlagLiteral} {
				s, err := wrap.SealSnippet(k, testRid, name, flags, v)
				if err != nil {
					t.Fatalf("SealSnippet(%q, %q): %v", name, v, err)
				}
				if !strings.HasPrefix(s, "capy:"+testRid+":") || !wrap.IsSnippet(s) {
					t.Fatalf("snippet %q lacks the prefix", s)
				}
				got, gotFlags, err := wrap.OpenSnippet(k, testRid, name, s)
				if err != nil || got != v || gotFlags != flags {
					t.Fatalf("OpenSnippet = %q, %#x, %v; want %q, %#x", got, gotFlags, err, v, flags)
				}
				// DESIGN §2.3, checked independently: b64u(iv || ct || tag),
				// AAD "capy:v1:" rid, plaintext NAME 0x00 flags VALUE.
				box, err := wrap.B64.DecodeString(s[len("capy:"+testRid+":"):])
				if err != nil {
					t.Fatal(err)
				}
				wantPT := append(append([]byte(name), 0, flags), v...)
				if len(box) != 12+len(wantPT)+16 {
					t.Fatalf("box is %d bytes, want %d", len(box), 12+len(wantPT)+16)
				}
				if pt := gcmOpen(t, k, box, []byte("capy:v1:"+testRid)); !bytes.Equal(pt, wantPT) {
					t.Fatalf("plaintext %q, want %q", pt, wantPT)
				}
				p, err := wrap.ParseSnippet(s)
				if err != nil || p.Rid != testRid || !bytes.Equal(p.Box, box) || p.String() != s {
					t.Fatalf("ParseSnippet = %+v, %v", p, err)
				}
			}
		}
	}
}

func TestSnippetFreshIV(t *testing.T) {
	k := testKey(21)
	a, _ := wrap.SealSnippet(k, testRid, "A", 0, "v")
	b, _ := wrap.SealSnippet(k, testRid, "A", 0, "v")
	if a == b {
		t.Fatal("two seals of the same value gave the same snippet")
	}
}

// Every single-bit change to the snippet text either fails to parse or
// fails to decrypt; it never yields a value.
func TestSnippetEveryBitFlip(t *testing.T) {
	k := testKey(22)
	s, err := wrap.SealSnippet(k, testRid, "API_KEY", wrap.FlagLiteral, "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	for bit := range len(s) * 8 {
		m := flipBitString(s, bit)
		v, _, err := wrap.OpenSnippet(k, testRid, "API_KEY", m)
		if err == nil {
			t.Fatalf("bit %d flipped (%q): opened to %q", bit, m, v)
		}
		if !errors.Is(err, wrap.ErrSnippetFormat) && !errors.Is(err, wrap.ErrDecrypt) {
			t.Fatalf("bit %d flipped: %v, want a format or decryption error", bit, err)
		}
		// Flipping a rid character to another rid character must not be
		// accepted by the rid check alone: the rid is in the AAD.
		if p, perr := wrap.ParseSnippet(m); perr == nil && p.Rid != testRid && !errors.Is(err, wrap.ErrDecrypt) {
			t.Fatalf("bit %d: rid changed to %q and failed with %v, not a decryption error", bit, p.Rid, err)
		}
	}
}

func TestSnippetCopiedToAnotherVariable(t *testing.T) {
	k := testKey(23)
	s, err := wrap.SealSnippet(k, testRid, "STRIPE_KEY", 0, "sk_live_secret")
	if err != nil {
		t.Fatal(err)
	}
	// Same rid on purpose: a rid is only a hint, two names may share one.
	v, _, err := wrap.OpenSnippet(k, testRid, "DEBUG_TOKEN", s)
	if !errors.Is(err, wrap.ErrSnippetName) {
		t.Fatalf("copied snippet: %q, %v; want ErrSnippetName", v, err)
	}
	if !strings.Contains(err.Error(), "STRIPE_KEY") || !strings.Contains(err.Error(), "DEBUG_TOKEN") {
		t.Errorf("error %q does not name both variables", err)
	}
	if strings.Contains(err.Error(), "sk_live_secret") {
		t.Errorf("error %q leaks the value", err)
	}
}

func TestSnippetWrongRid(t *testing.T) {
	k := testKey(24)
	s, err := wrap.SealSnippet(k, testRid, "NAME", 0, "value")
	if err != nil {
		t.Fatal(err)
	}
	v, _, err := wrap.OpenSnippet(k, "zzzzz", "NAME", s)
	if !errors.Is(err, wrap.ErrSnippetRid) {
		t.Fatalf("wrong rid: %q, %v; want ErrSnippetRid", v, err)
	}
	if !strings.Contains(err.Error(), "NAME") {
		t.Errorf("error %q does not name the variable", err)
	}
	// Rewriting the rid in the text breaks the AAD: decryption error.
	forged := "capy:zzzzz:" + s[len("capy:"+testRid+":"):]
	if _, _, err := wrap.OpenSnippet(k, "zzzzz", "NAME", forged); !errors.Is(err, wrap.ErrDecrypt) {
		t.Fatalf("rid rewritten in the text: %v, want ErrDecrypt", err)
	}
}

func TestSnippetWrongKey(t *testing.T) {
	s, err := wrap.SealSnippet(testKey(25), testRid, "NAME", 0, "value")
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = wrap.OpenSnippet(testKey(26), testRid, "NAME", s)
	mustErrIs(t, "wrong key", err, wrap.ErrDecrypt)
}

func TestSnippetFlags(t *testing.T) {
	k := testKey(27)
	for _, f := range []byte{0x02, 0x03, 0x80, 0xff} {
		if _, err := wrap.SealSnippet(k, testRid, "A", f, "v"); !errors.Is(err, wrap.ErrSnippetFlags) {
			t.Errorf("SealSnippet(flags %#x) = %v, want ErrSnippetFlags", f, err)
		}
		// A snippet carrying unknown flags (a newer writer) is refused on open.
		box := gcmSeal(t, k, 1, []byte("A\x00"+string([]byte{f})+"v"), []byte("capy:v1:"+testRid))
		text := wrap.Snippet{Rid: testRid, Box: box}.String()
		if v, _, err := wrap.OpenSnippet(k, testRid, "A", text); !errors.Is(err, wrap.ErrSnippetFlags) {
			t.Errorf("OpenSnippet(flags %#x) = %q, %v; want ErrSnippetFlags", f, v, err)
		}
	}
}

// Plaintexts the package would never write, properly encrypted, are
// refused as malformed.
func TestSnippetBadPlaintext(t *testing.T) {
	k := testKey(28)
	aad := []byte("capy:v1:" + testRid)
	for _, pt := range []string{"", "A", "A\x00", "\x00\x00v", "1A\x00\x00v", "A B\x00\x00v", strings.Repeat("A", 257) + "\x00\x00v"} {
		text := wrap.Snippet{Rid: testRid, Box: gcmSeal(t, k, 2, []byte(pt), aad)}.String()
		name := pt
		if i := strings.IndexByte(pt, 0); i >= 0 {
			name = pt[:i]
		}
		v, _, err := wrap.OpenSnippet(k, testRid, name, text)
		if !errors.Is(err, wrap.ErrSnippetFormat) {
			t.Errorf("plaintext %q: %q, %v; want ErrSnippetFormat", pt, v, err)
		}
	}
}

func TestParseSnippetRejects(t *testing.T) {
	k := testKey(29)
	good, err := wrap.SealSnippet(k, testRid, "A", 0, "v")
	if err != nil {
		t.Fatal(err)
	}
	b64 := good[len("capy:"+testRid+":"):]
	// 28 zero bytes encode as 38 'A's; the last character carries 4 unused
	// bits, so "…AB" decodes leniently to the same bytes and must be refused.
	zeros := strings.Repeat("A", 38)
	if _, err := wrap.ParseSnippet("capy:" + testRid + ":" + zeros); err != nil {
		t.Fatalf("canonical 28-byte box refused: %v", err)
	}
	for _, bad := range []string{
		"",
		"capy:",
		"capy:" + testRid,
		"capy:" + testRid + ":",
		"capy:" + testRid + ":" + zeros[:37], // 27 bytes: shorter than iv + tag
		"capy:" + testRid + ":" + zeros[:37] + "B",           // non-canonical trailing bits
		"capy:" + testRid + ":" + zeros + "=",                // padding
		"capy:" + testRid + ":" + zeros[:36] + "A=",          // padding
		"capy:" + testRid + ":" + strings.Repeat("+", 38),    // standard alphabet
		"capy:" + testRid + ":" + strings.Repeat("/", 38),    // standard alphabet
		"capy:" + testRid + ":" + b64[:10] + "\n" + b64[10:], // decoders skip newlines
		"capy:" + testRid + ":" + b64[:10] + "\r" + b64[10:],
		"capy:" + testRid + ":" + b64 + "\n",
		"capy:" + testRid + ":" + b64 + " ",
		" capy:" + testRid + ":" + b64,
		"capy:" + testRid + "::" + b64,
		"CAPY:" + testRid + ":" + b64,
		"capy:AB2CD:" + b64,
		"capy:ab1cd:" + b64,
		"capy:ab8cd:" + b64,
		"capy:ab2c:" + b64,
		"capy:ab2cde:" + b64,
		"capy:ab2c-:" + b64,
		"capy:" + testRid + ";" + b64,
		"capy:" + testRid + ":" + b64 + ":",
		"capy:" + testRid + ":" + strings.Repeat("A", wrap.MaxSnippetLen),
	} {
		if p, err := wrap.ParseSnippet(bad); !errors.Is(err, wrap.ErrSnippetFormat) {
			t.Errorf("ParseSnippet(%.60q) = %+v, %v; want ErrSnippetFormat", bad, p, err)
		}
		if v, _, err := wrap.OpenSnippet(k, testRid, "A", bad); err == nil {
			t.Errorf("OpenSnippet(%.60q) = %q", bad, v)
		}
	}
}

func TestSealSnippetRejects(t *testing.T) {
	k := testKey(30)
	for _, name := range []string{"", "1A", "A-B", "A\x00", strings.Repeat("A", 257)} {
		if _, err := wrap.SealSnippet(k, testRid, name, 0, "v"); !errors.Is(err, ident.ErrBadName) {
			t.Errorf("SealSnippet(name %q) = %v, want ErrBadName", name, err)
		}
	}
	for _, rid := range []string{"", "abcd", "abcdef", "ABCDE", "abc1e", "ab:de"} {
		if _, err := wrap.SealSnippet(k, rid, "A", 0, "v"); !errors.Is(err, wrap.ErrSnippetFormat) {
			t.Errorf("SealSnippet(rid %q) = %v, want ErrSnippetFormat", rid, err)
		}
	}
}

func TestSnippetSizeLimit(t *testing.T) {
	k := testKey(31)
	// 64 KiB of value under the longest name fits, as the limit promises.
	big := strings.Repeat("x", 64<<10)
	name := strings.Repeat("N", ident.MaxNameLen)
	s, err := wrap.SealSnippet(k, testRid, name, 0, big)
	if err != nil {
		t.Fatalf("64 KiB value refused: %v", err)
	}
	if v, _, err := wrap.OpenSnippet(k, testRid, name, s); err != nil || v != big {
		t.Fatalf("64 KiB value did not round trip: %v", err)
	}
	// A value whose snippet would exceed MaxSnippetLen is refused, and the
	// error names the variable, not the value.
	huge := strings.Repeat("y", wrap.MaxSnippetLen)
	_, err = wrap.SealSnippet(k, testRid, "HUGE", 0, huge)
	if err == nil {
		t.Fatal("oversized value sealed")
	}
	if !strings.Contains(err.Error(), "HUGE") || strings.Contains(err.Error(), "yyyy") {
		t.Errorf("oversize error %q", err)
	}
	// Text just over the limit is refused before decoding.
	over := "capy:" + testRid + ":" + strings.Repeat("A", wrap.MaxSnippetLen)
	if _, err := wrap.ParseSnippet(over); !errors.Is(err, wrap.ErrSnippetFormat) {
		t.Fatalf("over-long text: %v", err)
	}
}

func TestIsSnippet(t *testing.T) {
	for s, want := range map[string]bool{
		"capy:":             true,
		"capy:ab2cd:AAAA":   true,
		"Capy:ab2cd:AAAA":   false,
		" capy:ab2cd:AAAA":  false,
		"postgres://capy:x": false,
		"":                  false,
	} {
		if wrap.IsSnippet(s) != want {
			t.Errorf("IsSnippet(%q) != %v", s, want)
		}
	}
}

// TestSnippetCipherMatchesFunctions: the cached cipher and the per-call
// functions are one format; opening the same text twice works (Open
// decrypts in place into its own decoded buffer, never into text).
func TestSnippetCipherMatchesFunctions(t *testing.T) {
	key := testKey(9)
	c, err := wrap.NewSnippetCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	s1, err := c.Seal(testRid, "API_KEY", wrap.FlagLiteral, "v$1")
	if err != nil {
		t.Fatal(err)
	}
	s2, err := wrap.SealSnippet(key, testRid, "API_KEY", 0, "v2")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if v, f, err := wrap.OpenSnippet(key, testRid, "API_KEY", s1); err != nil || v != "v$1" || f != wrap.FlagLiteral {
			t.Fatalf("OpenSnippet(cipher's snippet) = %q %d %v", v, f, err)
		}
		if v, f, err := c.Open(testRid, "API_KEY", s2); err != nil || v != "v2" || f != 0 {
			t.Fatalf("cipher Open(function's snippet) = %q %d %v", v, f, err)
		}
		if n, v, _, rid, err := c.OpenAny(s1); err != nil || n != "API_KEY" || v != "v$1" || rid != testRid {
			t.Fatalf("cipher OpenAny = %q %q %q %v", n, v, rid, err)
		}
	}
	if _, _, err := c.Open(testRid, "OTHER", s1); !errors.Is(err, wrap.ErrSnippetName) {
		t.Fatalf("moved snippet: %v", err)
	}
	other, _ := wrap.NewSnippetCipher(testKey(10))
	if _, _, err := other.Open(testRid, "API_KEY", s1); !errors.Is(err, wrap.ErrDecrypt) {
		t.Fatalf("wrong key: %v", err)
	}
}
