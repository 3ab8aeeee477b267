package wrap

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/capy-oss/capy/internal/testvectors"
)

// TestWycheproofAESGCM runs the Wycheproof AES-GCM vectors through the
// AEAD constructor under the sealed box and the snippet format. Only
// 256-bit keys, 96-bit IVs and 128-bit tags are what capy uses; other
// groups are counted and skipped by parameter, never by outcome.
func TestWycheproofAESGCM(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(testvectors.Dir(), "wycheproof", "aes_gcm_test.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Algorithm  string `json:"algorithm"`
		TestGroups []struct {
			KeySize int `json:"keySize"`
			IVSize  int `json:"ivSize"`
			TagSize int `json:"tagSize"`
			Tests   []struct {
				TcID    int    `json:"tcId"`
				Key     string `json:"key"`
				IV      string `json:"iv"`
				AAD     string `json:"aad"`
				Msg     string `json:"msg"`
				CT      string `json:"ct"`
				Tag     string `json:"tag"`
				Result  string `json:"result"`
				Comment string `json:"comment"`
			} `json:"tests"`
		} `json:"testGroups"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	if file.Algorithm != "AES-GCM" {
		t.Fatalf("algorithm %q", file.Algorithm)
	}
	ran, valid, invalid := 0, 0, 0
	for _, g := range file.TestGroups {
		if g.KeySize != 256 || g.IVSize != 96 || g.TagSize != 128 {
			continue
		}
		for _, tc := range g.Tests {
			key := testvectors.Key32(tc.Key)
			aead, err := newGCM(&key)
			if err != nil {
				t.Fatal(err)
			}
			iv, aad, msg := testvectors.Hex(tc.IV), testvectors.Hex(tc.AAD), testvectors.Hex(tc.Msg)
			sealed := append(testvectors.Hex(tc.CT), testvectors.Hex(tc.Tag)...)
			pt, openErr := aead.Open(nil, iv, sealed, aad)
			ran++
			switch tc.Result {
			case "valid", "acceptable":
				valid++
				if openErr != nil || string(pt) != string(msg) {
					t.Errorf("tc %d (%s): open failed: %v", tc.TcID, tc.Comment, openErr)
				}
				if got := aead.Seal(nil, iv, msg, aad); string(got) != string(sealed) {
					t.Errorf("tc %d (%s): seal differs", tc.TcID, tc.Comment)
				}
			case "invalid":
				invalid++
				if openErr == nil {
					t.Errorf("tc %d (%s): invalid ciphertext opened", tc.TcID, tc.Comment)
				}
			default:
				t.Fatalf("tc %d: unknown result %q", tc.TcID, tc.Result)
			}
		}
	}
	// The pinned file has 66 such cases; fewer means the filter or the
	// file changed and the test would be checking less than it claims.
	if ran < 60 || valid == 0 || invalid == 0 {
		t.Fatalf("ran %d cases (%d valid, %d invalid): too few", ran, valid, invalid)
	}
}
