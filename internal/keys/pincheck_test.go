package keys_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"testing"

	"github.com/capy-oss/capy/internal/keys"
)

// PinCheckTag is HMAC-SHA256 under HKDF(PK, salt projectID, info
// "capy:pin-check") of the length-prefixed fields, computed here from the
// definition with hkdfN; and each field, the project and the key change it.
func TestPinCheckTag(t *testing.T) {
	var pk keys.ProjectKey
	for i := range pk {
		pk[i] = byte(i)
	}
	got := pk.PinCheckTag("prj_a", "env_b", 3, "SIGN", "age1pq1x")
	k := hkdfN(t, pk[:], []byte("prj_a"), "capy:pin-check", 32)
	m := hmac.New(sha256.New, k)
	m.Write([]byte("capy:pin-check:"))
	for _, f := range []string{"env_b", "3", "SIGN", "age1pq1x"} {
		m.Write(binary.BigEndian.AppendUint32(nil, uint32(len(f))))
		m.Write([]byte(f))
	}
	if want := m.Sum(nil); !hmac.Equal(got[:], want) {
		t.Fatalf("tag %x, want %x", got, want)
	}
	other := pk
	other[0] ^= 1
	for name, tag := range map[string][32]byte{
		"project":     pk.PinCheckTag("prj_b", "env_b", 3, "SIGN", "age1pq1x"),
		"environment": pk.PinCheckTag("prj_a", "env_c", 3, "SIGN", "age1pq1x"),
		"epoch":       pk.PinCheckTag("prj_a", "env_b", 4, "SIGN", "age1pq1x"),
		"signing key": pk.PinCheckTag("prj_a", "env_b", 3, "SIGn", "age1pq1x"),
		"recipient":   pk.PinCheckTag("prj_a", "env_b", 3, "SIGN", "age1pq1y"),
		"boundary":    pk.PinCheckTag("prj_a", "env_b", 3, "SIGNa", "ge1pq1x"),
		"key":         other.PinCheckTag("prj_a", "env_b", 3, "SIGN", "age1pq1x"),
	} {
		if tag == got {
			t.Errorf("changing the %s keeps the tag", name)
		}
	}
}
