package keys

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"testing"
)

// RFC 8032 §7.1, TEST 1, 2, 3 and 1024: secret key (seed) → public key.
var rfc8032Vectors = []struct{ seed, pub string }{
	{"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"},
	{"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb", "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"},
	{"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7", "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025"},
	{"f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5", "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e"},
}

func TestEd25519PublicKeyRFC8032(t *testing.T) {
	for _, v := range rfc8032Vectors {
		seed, _ := hex.DecodeString(v.seed)
		if got := hex.EncodeToString(ed25519PublicKey(seed)); got != v.pub {
			t.Errorf("seed %s: public key %s, want %s", v.seed, got, v.pub)
		}
	}
}

// SigningPublicKey must be the public half of SigningKey for every key and
// epoch: a member checks signatures and pins with the one and signs with
// the other.
func TestSigningPublicKeyMatchesSigningKey(t *testing.T) {
	var pk ProjectKey
	for i := range 200 {
		for j := range pk {
			pk[j] = byte(i*31 + j*7)
		}
		env := "env_" + string(rune('a'+i%26))
		for _, epoch := range []uint32{1, 2, uint32(i + 3)} {
			want := pk.SigningKey(env, epoch).Public().(ed25519.PublicKey)
			if got := pk.SigningPublicKey(env, epoch); !bytes.Equal(got, want) {
				t.Fatalf("key %d env %s epoch %d: public key %x, want %x", i, env, epoch, got, want)
			}
		}
	}
}
