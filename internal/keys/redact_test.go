package keys_test

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/capy-oss/capy/internal/keys"
)

// leaks returns the first rendering of secret found in out: hex (whole or
// a prefix), base64, or fmt's decimal rendering of the bytes.
func leaks(out string, secret []byte) string {
	forms := []string{
		hex.EncodeToString(secret), hex.EncodeToString(secret[:6]),
		strings.ToUpper(hex.EncodeToString(secret[:6])),
		base64.StdEncoding.EncodeToString(secret)[:12], base64.RawURLEncoding.EncodeToString(secret)[:12],
		strings.Trim(fmt.Sprint(secret[:6]), "[]"),      // "12 34 56 ..."
		fmt.Sprintf("%#v", secret[:4])[len("[]byte{"):], // "0xc, 0x22, ..."
		string(secret[:8]),
	}
	for _, f := range forms {
		if strings.Contains(out, f) {
			return f
		}
	}
	return ""
}

func TestKeysRedacted(t *testing.T) {
	m := master(t, 30)
	pk := m.ProjectKey(orgID, projectID)
	ek := pk.EnvKey(projectID, envID, 1)
	d := device(9)
	iw := d.InnerWrapKey(userID, orgID)
	it, _ := keys.NewInviteToken()
	dt, _ := keys.NewDeployToken()
	kf := keys.EnvKeyFile{EnvID: envID, Epoch: 1, Key: ek}
	c := ek.Cipher(envID, 1)
	snippetKey := hkdfN(t, ek[:], []byte(envID), "capy:snippet", 32)
	ridKey := hkdfN(t, ek[:], []byte(envID), "capy:rid", 32)

	type holder struct {
		M  keys.MasterKey
		PK *keys.ProjectKey
	}
	cases := []struct {
		name    string
		v       any
		secrets [][]byte
	}{
		{"MasterKey", m, [][]byte{m[:]}},
		{"*MasterKey", &m, [][]byte{m[:]}},
		{"ProjectKey", pk, [][]byte{pk[:]}},
		{"*ProjectKey", &pk, [][]byte{pk[:]}},
		{"EnvKey", ek, [][]byte{ek[:]}},
		{"*EnvKey", &ek, [][]byte{ek[:]}},
		{"InnerWrapKey", iw, [][]byte{iw[:]}},
		{"*InnerWrapKey", &iw, [][]byte{iw[:]}},
		{"InviteToken", it, [][]byte{it[:]}},
		{"*InviteToken", &it, [][]byte{it[:]}},
		{"DeployToken", dt, [][]byte{dt[:]}},
		{"*DeployToken", &dt, [][]byte{dt[:]}},
		{"DeviceSecret", *d, [][]byte{d[:]}},
		{"*DeviceSecret", d, [][]byte{d[:]}},
		{"EnvKeyFile", kf, [][]byte{ek[:]}},
		{"*EnvKeyFile", &kf, [][]byte{ek[:]}},
		{"*EnvCipher", c, [][]byte{snippetKey, ridKey}},
		{"EnvCipher", *c, [][]byte{snippetKey, ridKey}},
		{"struct holding keys", holder{m, &pk}, [][]byte{m[:], pk[:]}},
		{"slice of keys", []any{ek, dt}, [][]byte{ek[:], dt[:]}},
	}
	for _, tc := range cases {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%o", "%b"} {
			out := fmt.Sprintf(verb, tc.v)
			for _, s := range tc.secrets {
				if leak := leaks(out, s); leak != "" {
					t.Errorf("%s with %s leaks %q: %.120s", tc.name, verb, leak, out)
				}
			}
		}
		out := fmt.Sprint(tc.v) + fmt.Sprintln(tc.v)
		for _, s := range tc.secrets {
			if leak := leaks(out, s); leak != "" {
				t.Errorf("%s via Sprint leaks %q", tc.name, leak)
			}
		}
	}
	// The key file's String keeps what is not secret.
	if s := kf.String(); !strings.Contains(s, envID) || !strings.Contains(s, "redacted") {
		t.Errorf("EnvKeyFile.String() = %q", s)
	}
	// Encode is the one way to get the key out, on purpose.
	if !strings.Contains(kf.Encode(), hex.EncodeToString(ek[:])) {
		t.Error("Encode does not carry the key")
	}
}
