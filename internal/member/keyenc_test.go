package member

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/wrap"
)

const user = "usr_mnopqrstuvwxyz234567abcdef"

// checkKeyEncAnswer accepts an honest wrap of the inner layer sent and
// refuses every answer that would leave a key.enc device.key opens alone
// (or no key.enc at all): the inner layer returned as it is, a header and
// padding around it, an older inner layer of this device (which passes
// the key-less rules, since it shares no bytes with the one sent), or a
// blob of the wrong shape.
func TestCheckKeyEncAnswer(t *testing.T) {
	var dev keys.DeviceSecret
	var m keys.MasterKey
	for i := range dev {
		dev[i], m[i] = byte(i), byte(100+i)
	}
	iwk := dev.InnerWrapKey(user, org)
	older, err := iwk.SealMaster(&m, org, user)
	if err != nil {
		t.Fatal(err)
	}
	inner, err := iwk.SealMaster(&m, org, user)
	if err != nil {
		t.Fatal(err)
	}
	var kek [wrap.KeySize]byte
	kek[0] = 1
	honest, err := wrap.SealOuter(&kek, 2, org, wrap.PurposeKey, user, inner)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkKeyEncAnswer(honest, inner, &iwk, org, user); err != nil {
		t.Fatalf("honest wrap refused: %v", err)
	}
	pad := append([]byte{wrap.SealVersion}, bytes.Repeat([]byte{0x5a}, wrap.SealOverhead-1)...)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	if err := wrap.CheckOuterFor(cat(honest[:5], older, pad), inner); err != nil {
		t.Fatalf("the key-less rules see the older inner layer (%v): the case below tests nothing", err)
	}
	for _, c := range []struct {
		name  string
		outer []byte
		msg   string
	}{
		{"three bytes", []byte{1, 2, 3}, "has 3 bytes"},
		{"the inner layer sent", inner, "bytes, a wrap"},
		{"header, inner layer sent, padding", cat(honest[:5], inner, pad), "in the clear"},
		{"header, padding, older inner layer", cat(honest[:5], pad, older), "this machine's key opens"},
		{"header, older inner layer, padding", cat(honest[:5], older, pad), "this machine's key opens"},
		{"a wrap of the older inner layer", must(wrap.SealOuter(&kek, 2, org, wrap.PurposeKey, user, older)), ""},
	} {
		err := checkKeyEncAnswer(c.outer, inner, &iwk, org, user)
		if c.msg == "" {
			// A real wrap of another inner layer of this device is a
			// wrap: it opens only through the service, so it is not
			// refused (the co-decrypt's M is checked on every unlock).
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if !errors.Is(err, wrap.ErrOuterAnswer) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: %v; want ErrOuterAnswer /%s/", c.name, err, c.msg)
		}
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
