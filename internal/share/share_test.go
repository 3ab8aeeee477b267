package share

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"strings"
	"sync"
	"testing"
)

var (
	keyOnce sync.Once
	key1    *rsa.PrivateKey
	key2    *rsa.PrivateKey
)

func keys(t testing.TB) (*rsa.PrivateKey, *rsa.PrivateKey) {
	keyOnce.Do(func() {
		var err error
		if key1, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if key2, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return key1, key2
}

func spki(t testing.TB, k *rsa.PrivateKey) []byte {
	b, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFingerprintVector: the fingerprint agrees with an independent
// computation (Python's hashlib and base64.b32encode, lowercased, first
// 20 characters).
func TestFingerprintVector(t *testing.T) {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	if got := Fingerprint("abcdefghij", b); got != "iny3jl26lwhe7sfjivlx" {
		t.Fatalf("fingerprint %q", got)
	}
}

func TestCodeRoundTrip(t *testing.T) {
	c := Code{ID: "abcdefghij", Fingerprint: "iny3jl26lwhe7sfjivlx"}
	s := c.String()
	if s != "abcde-fghij-iny3j-l26lw-he7sf-jivlx" {
		t.Fatalf("code %q", s)
	}
	for _, in := range []string{s, strings.ToUpper(s), " abcdefghij iny3jl26lwhe7sfjivlx ", "abcde fghij-INY3J-l26lw-he7sf-jivlx"} {
		got, err := ParseCode(in)
		if err != nil || got != c {
			t.Fatalf("ParseCode(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "abcde-fghij", s + "a", s[:len(s)-1], strings.Replace(s, "a", "1", 1), strings.Replace(s, "a", "é", 1)} {
		if _, err := ParseCode(bad); !errors.Is(err, ErrBadCode) {
			t.Errorf("ParseCode(%q): %v", bad, err)
		}
	}
}

func TestRequestRoundTrip(t *testing.T) {
	k, other := keys(t)
	id := "abcdefghij"
	pk := spki(t, k)
	code := Code{ID: id, Fingerprint: Fingerprint(id, pk)}
	pub, err := CheckRequestKey(code, id, pk)
	if err != nil {
		t.Fatal(err)
	}
	// A swapped key (the service's own) is refused.
	if _, err := CheckRequestKey(code, id, spki(t, other)); !errors.Is(err, ErrFingerprint) {
		t.Fatalf("swapped key: %v", err)
	}
	// So is the right key answered for another request.
	if _, err := CheckRequestKey(code, "bbbbbbbbbb", pk); !errors.Is(err, ErrFingerprint) {
		t.Fatalf("other id: %v", err)
	}
	entries := []Entry{{"DATABASE_URL", "postgres://u:p@h/db"}, {"EMPTY", ""}, {"API_TOKEN", "tok\nwith newline"}}
	blob, err := SealForRequest(id, pub, entries)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Value != "" && bytes.Contains(blob, []byte(e.Value)) || bytes.Contains(blob, []byte(e.Name)) {
			t.Fatalf("the blob holds %s in the clear", e.Name)
		}
	}
	got, err := OpenWithPrivateKey(id, blob, k)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(entries) {
		t.Fatalf("got %v", got)
	}
	for i := range got {
		if got[i] != entries[i] {
			t.Fatalf("entry %d: %v", i, got[i])
		}
	}
	if _, err := OpenWithPrivateKey("bbbbbbbbbb", blob, k); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("opened under another id: %v", err)
	}
	if _, err := OpenWithPrivateKey(id, blob, other); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("opened with another key: %v", err)
	}
}

func TestRequestKeyShape(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	pk := spki(t, small)
	code := Code{ID: "abcdefghij", Fingerprint: Fingerprint("abcdefghij", pk)}
	if _, err := CheckRequestKey(code, "abcdefghij", pk); !errors.Is(err, ErrBadKey) {
		t.Fatalf("RSA-1024 accepted: %v", err)
	}
	if err := CheckPublicKey([]byte("not a key")); !errors.Is(err, ErrBadKey) {
		t.Fatal(err)
	}
}

// TestLinkSplice: entries cannot be moved between shares, reordered or
// dropped, and every entry has its own IV.
func TestLinkSplice(t *testing.T) {
	entries := []Entry{{"A", "one"}, {"B", "two"}}
	blob, key, err := SealForLink("abcdefghij", entries)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Open("abcdefghij", blob, key)
	if err != nil || len(got) != 2 || got[1] != entries[1] {
		t.Fatalf("%v %v", got, err)
	}
	p, err := ParseBlob(blob)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Wrapped) != 0 || bytes.Equal(p.Entries[0].IV, p.Entries[1].IV) {
		t.Fatal("a link share carries a wrapped key, or IVs repeat")
	}
	// Swap the two entries.
	swapped := Blob{Entries: []SealedEntry{p.Entries[1], p.Entries[0]}}
	if _, err := swapped.open("abcdefghij", key); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("reordered entries opened: %v", err)
	}
	dropped := Blob{Entries: p.Entries[:1]}
	if _, err := dropped.open("abcdefghij", key); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("a dropped entry went unnoticed: %v", err)
	}
	u := LinkURL("https://capy.example.com/", "abcdefghij", key)
	if !strings.HasPrefix(u, "https://capy.example.com/s/abcdefghij#") {
		t.Fatal(u)
	}
	svc, id, k2, err := ParseLinkURL(u)
	if err != nil || svc != "https://capy.example.com" || id != "abcdefghij" || !bytes.Equal(k2, key) {
		t.Fatalf("ParseLinkURL: %q %q %v", svc, id, err)
	}
}

func TestSealLimits(t *testing.T) {
	if _, _, err := SealForLink("abcdefghij", nil); !errors.Is(err, ErrNothingToShare) {
		t.Fatal(err)
	}
	if _, _, err := SealForLink("abcdefghij", []Entry{{"A", strings.Repeat("x", MaxValueBytes+1)}}); !errors.Is(err, ErrTooMuch) {
		t.Fatal(err)
	}
	if _, _, err := SealForLink("abcdefghij", []Entry{{"1BAD", "x"}}); err == nil {
		t.Fatal("a malformed name was sealed")
	}
	if _, _, err := SealForLink("NOT-AN-ID", []Entry{{"A", "x"}}); err == nil {
		t.Fatal("a malformed id was accepted")
	}
}

func FuzzParseCode(f *testing.F) {
	f.Add("abcde-fghij-iny3j-l26lw-he7sf-jivlx")
	f.Add("ABCDEFGHIJINY3JL26LWHE7SFJIVLX")
	f.Add("")
	f.Add("a-b")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCode(s)
		if err != nil {
			return
		}
		again, err := ParseCode(c.String())
		if err != nil || again != c {
			t.Fatalf("%q: re-parse of %q gave %v, %v", s, c.String(), again, err)
		}
	})
}

func FuzzParseBlob(f *testing.F) {
	blob, _, err := SealForLink("abcdefghij", []Entry{{"A", "one"}, {"B", ""}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(blob)
	f.Add([]byte(blobMagic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseBlob(b)
		if err != nil {
			return
		}
		if len(p.Entries) == 0 || len(p.Entries) > MaxEntries {
			t.Fatalf("parsed %d entries", len(p.Entries))
		}
		// Never panics on decryption of whatever parsed.
		_, _ = p.open("abcdefghij", make([]byte, dataKeyLen))
	})
}

func FuzzParseLinkURL(f *testing.F) {
	f.Add("https://capy.example.com/s/abcdefghij#AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("#")
	f.Fuzz(func(t *testing.T, s string) {
		svc, id, key, err := ParseLinkURL(s)
		if err != nil {
			return
		}
		if got := LinkURL(svc, id, key); !strings.HasSuffix(s, got[len(strings.TrimRight(svc, "/")):]) {
			t.Fatalf("%q round-trips to %q", s, got)
		}
	})
}
