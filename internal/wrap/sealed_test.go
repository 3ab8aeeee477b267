package wrap_test

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/capy-oss/capy/internal/wrap"
)

var sealErrors = []error{wrap.ErrSealedTooShort, wrap.ErrSealedVersion, wrap.ErrDecrypt}

func TestSealedErrorsDistinct(t *testing.T) {
	for i, a := range sealErrors {
		for j, b := range sealErrors {
			if i != j && errors.Is(a, b) {
				t.Errorf("%v matches %v", a, b)
			}
		}
	}
}

func TestSealOpenRoundTrip(t *testing.T) {
	k := testKey(1)
	for _, pt := range [][]byte{nil, {}, {0}, []byte("M"), bytes.Repeat([]byte{0xab}, 32), bytes.Repeat([]byte("x"), 1000)} {
		for _, aad := range [][]byte{nil, []byte("capy:key:" + orgID + ":" + userID)} {
			box, err := wrap.Seal(k, pt, aad)
			if err != nil {
				t.Fatal(err)
			}
			if len(box) != len(pt)+1+12+16 || wrap.SealOverhead != 29 {
				t.Fatalf("sealed %d bytes into %d, want +29", len(pt), len(box))
			}
			if box[0] != 0x01 {
				t.Fatalf("version byte %#x, want 0x01", box[0])
			}
			got, err := wrap.Open(k, box, aad)
			if err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("Open = %q, %v; want %q", got, err, pt)
			}
			// DESIGN §2.2: the GCM AAD is 0x01 || aad, and the box is
			// version || iv || ct || tag. Check with a bare AES-GCM.
			indep := gcmOpen(t, k, box[1:], append([]byte{0x01}, aad...))
			if !bytes.Equal(indep, pt) {
				t.Fatalf("independent open = %q, want %q", indep, pt)
			}
		}
	}
}

func TestSealFreshIV(t *testing.T) {
	k := testKey(1)
	a, _ := wrap.Seal(k, []byte("same"), nil)
	b, _ := wrap.Seal(k, []byte("same"), nil)
	if bytes.Equal(a[1:13], b[1:13]) {
		t.Fatal("two seals used the same IV")
	}
}

func TestOpenEveryBitFlip(t *testing.T) {
	k := testKey(2)
	aad := []byte("capy:invite:" + orgID + ":bob@x.io")
	box, err := wrap.Seal(k, []byte("0123456789abcdef0123456789abcdef"), aad)
	if err != nil {
		t.Fatal(err)
	}
	for bit := range len(box) * 8 {
		got, err := wrap.Open(k, flipBit(box, bit), aad)
		if err == nil {
			t.Fatalf("bit %d flipped: Open succeeded with %q", bit, got)
		}
		want := wrap.ErrDecrypt
		if bit < 8 {
			want = wrap.ErrSealedVersion
		}
		if !errors.Is(err, want) {
			t.Fatalf("bit %d flipped: %v, want %v", bit, err, want)
		}
	}
}

func TestOpenFailures(t *testing.T) {
	k := testKey(3)
	aad := []byte("capy:deploy:" + envID + ":1")
	box, err := wrap.Seal(k, []byte("environment key................."), aad)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		key  *[wrap.KeySize]byte
		box  []byte
		aad  []byte
		want error
	}{
		{"wrong key", testKey(4), box, aad, wrap.ErrDecrypt},
		{"wrong aad", k, box, []byte("capy:deploy:" + envID + ":2"), wrap.ErrDecrypt},
		{"aad missing", k, box, nil, wrap.ErrDecrypt},
		{"aad extended", k, box, append(bytes.Clone(aad), 0), wrap.ErrDecrypt},
		{"aad given with the version prefix", k, box, append([]byte{0x01}, aad...), wrap.ErrDecrypt},
		{"truncated by one", k, box[:len(box)-1], aad, wrap.ErrDecrypt},
		{"tag only", k, box[:wrap.SealOverhead], aad, wrap.ErrDecrypt},
		{"one short of overhead", k, box[:wrap.SealOverhead-1], aad, wrap.ErrSealedTooShort},
		{"empty", k, nil, aad, wrap.ErrSealedTooShort},
		{"version only", k, box[:1], aad, wrap.ErrSealedTooShort},
		{"extended", k, append(bytes.Clone(box), 0), aad, wrap.ErrDecrypt},
		{"version 0", k, append([]byte{0x00}, box[1:]...), aad, wrap.ErrSealedVersion},
		{"version 2", k, append([]byte{0x02}, box[1:]...), aad, wrap.ErrSealedVersion},
		{"version 2 wrong key", testKey(9), append([]byte{0x02}, box[1:]...), aad, wrap.ErrSealedVersion},
		{"short and bad version", k, make([]byte, 5), aad, wrap.ErrSealedTooShort},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pt, err := wrap.Open(c.key, c.box, c.aad)
			if pt != nil {
				t.Errorf("returned plaintext %q on failure", pt)
			}
			assertOnly(t, c.name, err, c.want, sealErrors)
		})
	}
}

// A box sealed with a version byte the package does not know is refused
// before any decryption, even if it would authenticate.
func TestOpenUnknownVersionAuthentic(t *testing.T) {
	k := testKey(5)
	aad := []byte("x")
	ct := gcmSeal(t, k, 7, []byte("hello"), append([]byte{0x02}, aad...))
	box := append([]byte{0x02}, ct...)
	_, err := wrap.Open(k, box, aad)
	mustErrIs(t, "version 2", err, wrap.ErrSealedVersion)
}

func TestDeriveKey(t *testing.T) {
	ikm := []byte("input key material")
	got := wrap.DeriveKey(ikm, []byte("salt"), "info")
	want, err := hkdf.Key(sha256.New, ikm, []byte("salt"), "info", 32)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[:], want) {
		t.Fatalf("DeriveKey = %x, want HKDF-SHA256 %x", got, want)
	}
	long := wrap.DeriveKeyN(ikm, []byte("salt"), "info", 100)
	want, _ = hkdf.Key(sha256.New, ikm, []byte("salt"), "info", 100)
	if !bytes.Equal(long, want) {
		t.Fatal("DeriveKeyN(100) differs from HKDF-SHA256")
	}
	if wrap.DeriveKey(ikm, []byte("salt"), "info2") == got || wrap.DeriveKey(ikm, []byte("salu"), "info") == got {
		t.Fatal("salt or info does not change the key")
	}
}

func TestB64Strict(t *testing.T) {
	if got := wrap.B64.EncodeToString([]byte{0xfb, 0xff}); got != "-_8" {
		t.Fatalf("B64 = %q, want url alphabet without padding", got)
	}
	for _, bad := range []string{"-_9", "+/8", "-_8=", "AB"} {
		if _, err := wrap.B64.DecodeString(bad); err == nil {
			t.Errorf("B64 accepted %q", bad)
		}
	}
}
