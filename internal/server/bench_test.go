package server

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/wrap"
)

// BenchmarkPushBody: the request-body work of a push of 1,000 variables
// before the store sees it: strict JSON decoding and the blob shape check.
func BenchmarkPushBody(b *testing.B) {
	_, sk, _ := ed25519.GenerateKey(nil)
	lines := make([]string, 1000)
	for i := range lines {
		lines[i] = snippet(fmt.Sprintf("VAR_%04d", i))
	}
	blob, err := wrap.BuildBlob(sk, "prj_aaaaaaaaaaaaaaaaaaaaaaaaaa", "env_aaaaaaaaaaaaaaaaaaaaaaaaaa", 1, 2, "0123456789012345678901234567890123456789012345678901234567890123", lines)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := json.Marshal(api.PushRequest{Text: string(blob.Raw())})
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			var req api.PushRequest
			if _, err := decodeStrict(body, &req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("checkBlob", func(b *testing.B) {
		for b.Loop() {
			if _, err := checkBlob(string(blob.Raw())); err != nil {
				b.Fatal(err)
			}
		}
	})
}
