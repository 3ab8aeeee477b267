package wrap_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/capy-oss/capy/internal/wrap"
)

// keyring mimics how the service opens an outer blob: read the kid, look
// up that KEK, open with it.
type keyring map[uint32]*[wrap.KeySize]byte

func (r keyring) open(org, purpose, subject string, outer []byte) ([]byte, error) {
	kid, err := wrap.OuterKeyID(outer)
	if err != nil {
		return nil, err
	}
	kek, ok := r[kid]
	if !ok {
		return nil, errors.New("unknown kid")
	}
	return wrap.OpenOuter(kek, org, purpose, subject, outer)
}

func TestOuterRoundTrip(t *testing.T) {
	kek := testKey(10)
	inner := []byte("inner sealed box bytes")
	for _, p := range []struct{ purpose, subject string }{
		{wrap.PurposeKey, userID}, {wrap.PurposeInvite, inviteID}, {wrap.PurposeDeploy, deployID},
	} {
		outer, err := wrap.SealOuter(kek, 0xdeadbeef, orgID, p.purpose, p.subject, inner)
		if err != nil {
			t.Fatal(err)
		}
		kid, err := wrap.OuterKeyID(outer)
		if err != nil || kid != 0xdeadbeef {
			t.Fatalf("OuterKeyID = %#x, %v", kid, err)
		}
		got, err := wrap.OpenOuter(kek, orgID, p.purpose, p.subject, outer)
		if err != nil || !bytes.Equal(got, inner) {
			t.Fatalf("OpenOuter = %q, %v", got, err)
		}
		// DESIGN §2.6 layout, checked independently: 0x01 || kid u32be ||
		// seal(HKDF(KEK, orgId, "capyd:outer:" purpose), inner, purpose:org:subject).
		if outer[0] != 0x01 || binary.BigEndian.Uint32(outer[1:5]) != 0xdeadbeef {
			t.Fatalf("outer header %x", outer[:5])
		}
		ok := hkdf32(t, kek[:], []byte(orgID), "capyd:outer:"+p.purpose)
		if wrap.OuterKey(kek, orgID, p.purpose) != ok {
			t.Fatal("OuterKey differs from HKDF(KEK, orgId, capyd:outer:purpose)")
		}
		if outer[5] != 0x01 {
			t.Fatalf("inner seal version %#x", outer[5])
		}
		pt := gcmOpen(t, &ok, outer[6:], []byte("\x01"+p.purpose+":"+orgID+":"+p.subject))
		if !bytes.Equal(pt, inner) {
			t.Fatal("independent open differs")
		}
	}
}

func TestOuterWrongContext(t *testing.T) {
	kek := testKey(11)
	outer, err := wrap.SealOuter(kek, 1, orgID, wrap.PurposeKey, userID, []byte("inner"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name                  string
		kek                   *[wrap.KeySize]byte
		org, purpose, subject string
	}{
		{"wrong org", kek, orgID2, wrap.PurposeKey, userID},
		{"wrong purpose", kek, orgID, wrap.PurposeInvite, userID},
		{"wrong purpose deploy", kek, orgID, wrap.PurposeDeploy, userID},
		{"wrong subject", kek, orgID, wrap.PurposeKey, userID2},
		{"wrong kek", testKey(12), orgID, wrap.PurposeKey, userID},
		{"empty subject", kek, orgID, wrap.PurposeKey, ""},
	}
	for _, c := range cases {
		got, err := wrap.OpenOuter(c.kek, c.org, c.purpose, c.subject, outer)
		if got != nil || !errors.Is(err, wrap.ErrDecrypt) {
			t.Errorf("%s: OpenOuter = %q, %v; want ErrDecrypt", c.name, got, err)
		}
	}
}

func TestOuterEveryBitFlip(t *testing.T) {
	kek1, kek2 := testKey(13), testKey(14)
	ring := keyring{1: kek1, 2: kek2, 3: kek2}
	inner := []byte("sealed inner bytes")
	outer, err := wrap.SealOuter(kek1, 1, orgID, wrap.PurposeInvite, inviteID, inner)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ring.open(orgID, wrap.PurposeInvite, inviteID, outer); err != nil || !bytes.Equal(got, inner) {
		t.Fatalf("keyring open = %q, %v", got, err)
	}
	for bit := range len(outer) * 8 {
		got, err := ring.open(orgID, wrap.PurposeInvite, inviteID, flipBit(outer, bit))
		if err == nil {
			t.Fatalf("bit %d flipped: opened to %q", bit, got)
		}
		if bit < 8 && !errors.Is(err, wrap.ErrOuterVersion) {
			t.Fatalf("bit %d (outer version) flipped: %v, want ErrOuterVersion", bit, err)
		}
		if bit >= 5*8+8 && !errors.Is(err, wrap.ErrDecrypt) {
			t.Fatalf("bit %d flipped: %v, want ErrDecrypt", bit, err)
		}
	}
}

func TestOuterMalformed(t *testing.T) {
	kek := testKey(15)
	outer, err := wrap.SealOuter(kek, 7, orgID, wrap.PurposeDeploy, deployID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(outer) != 5+wrap.SealOverhead {
		t.Fatalf("outer of empty inner is %d bytes", len(outer))
	}
	for _, c := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, wrap.ErrOuterFormat},
		{"header only", outer[:5], wrap.ErrOuterFormat},
		{"one short", outer[:len(outer)-1], wrap.ErrOuterFormat},
		{"version 2", append([]byte{2}, outer[1:]...), wrap.ErrOuterVersion},
		{"version 0", append([]byte{0}, outer[1:]...), wrap.ErrOuterVersion},
		{"inner version 2", append(append(bytes.Clone(outer[:5]), 2), outer[6:]...), wrap.ErrSealedVersion},
	} {
		_, err := wrap.OpenOuter(kek, orgID, wrap.PurposeDeploy, deployID, c.b)
		mustErrIs(t, c.name, err, c.want)
		if c.want != wrap.ErrSealedVersion {
			_, err := wrap.OuterKeyID(c.b)
			mustErrIs(t, c.name+" (kid)", err, c.want)
		}
	}
	if got, err := wrap.OpenOuter(kek, orgID, wrap.PurposeDeploy, deployID, outer); err != nil || len(got) != 0 {
		t.Fatalf("empty inner: %q, %v", got, err)
	}
}

func TestOuterKeyDomainSeparation(t *testing.T) {
	kek := testKey(16)
	keys := map[[wrap.KeySize]byte]string{}
	for _, org := range []string{orgID, orgID2} {
		for _, p := range []string{wrap.PurposeKey, wrap.PurposeInvite, wrap.PurposeDeploy} {
			k := wrap.OuterKey(kek, org, p)
			if prev, dup := keys[k]; dup {
				t.Fatalf("outer key for %s/%s equals %s", org, p, prev)
			}
			keys[k] = org + "/" + p
		}
	}
	if wrap.OuterKey(testKey(17), orgID, wrap.PurposeKey) == wrap.OuterKey(kek, orgID, wrap.PurposeKey) {
		t.Fatal("KEK does not change the outer key")
	}
}

// CheckOuterFor accepts every honest wrap and refuses what a malicious
// service could hand back instead: a blob of another length, another
// version, or one that carries the inner layer (or a 16-byte run of it)
// in the clear, which would let the machine open key.enc alone.
func TestCheckOuterFor(t *testing.T) {
	kek := testKey(18)
	inner, err := wrap.Seal(testKey(19), bytes.Repeat([]byte{7}, 32), []byte("capy:key:"+orgID+":"+userID))
	if err != nil {
		t.Fatal(err)
	}
	if wrap.OuterSize(len(inner)) != 5+wrap.SealOverhead+len(inner) {
		t.Fatalf("OuterSize(%d) = %d", len(inner), wrap.OuterSize(len(inner)))
	}
	for i := range 200 {
		outer, err := wrap.SealOuter(kek, uint32(i), orgID, wrap.PurposeKey, userID, inner)
		if err != nil {
			t.Fatal(err)
		}
		if err := wrap.CheckOuterFor(outer, inner); err != nil {
			t.Fatalf("honest wrap %d refused: %v", i, err)
		}
	}
	outer, err := wrap.SealOuter(kek, 3, orgID, wrap.PurposeKey, userID, inner)
	if err != nil {
		t.Fatal(err)
	}
	header := outer[:5]
	// The padding starts like a sealed box so that only the last rule
	// can see what it hides.
	pad := append([]byte{wrap.SealVersion}, bytes.Repeat([]byte{0xa5}, wrap.SealOverhead-1)...)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for _, c := range []struct {
		name  string
		outer []byte
		msg   string
	}{
		{"empty", nil, "has 0 bytes"},
		{"three bytes", []byte{1, 2, 3}, "has 3 bytes"},
		{"the inner layer itself", inner, "bytes, a wrap"},
		{"one byte short", outer[:len(outer)-1], "bytes, a wrap"},
		{"one byte long", cat(outer, []byte{0}), "bytes, a wrap"},
		{"a wrap of a longer inner layer", cat(outer, outer[:10]), "bytes, a wrap"},
		{"outer version 2", cat([]byte{2}, outer[1:]), "unknown version"},
		{"sealed box version 2", cat(header, []byte{2}, outer[6:]), "unknown version"},
		{"header, inner layer, padding", cat(header, inner, pad), "in the clear"},
		{"header, padding, inner layer", cat(header, pad, inner), "in the clear"},
		{"inner layer split by padding", cat(header, inner[:30], pad, inner[30:]), "in the clear"},
		{"16 bytes of the inner layer", cat(outer[:40], inner[20:36], outer[56:]), "in the clear"},
	} {
		err := wrap.CheckOuterFor(c.outer, inner)
		if !errors.Is(err, wrap.ErrOuterAnswer) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: CheckOuterFor = %v; want ErrOuterAnswer /%s/", c.name, err, c.msg)
		}
	}
	if err := wrap.CheckOuterFor(outer, nil); !errors.Is(err, wrap.ErrOuterAnswer) {
		t.Errorf("no inner layer: %v", err)
	}
}
