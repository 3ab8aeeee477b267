package wrap_test

import (
	"fmt"
	"testing"

	"github.com/capy-oss/capy/internal/wrap"
)

var benchSizes = []int{10, 100, 1000, 10000}

// BenchmarkSnippetSeal and BenchmarkSnippetOpen: the raw snippet format
// (AES-256-GCM, b64u, name and flags inside), without the rid HMAC the
// key hierarchy adds.
func BenchmarkSnippetSeal(b *testing.B) {
	key := testKey(1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := wrap.SealSnippet(key, testRid, "DATABASE_URL", 0, "postgres://app:s3cret@db.internal:5432/app"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSnippetOpen(b *testing.B) {
	key := testKey(1)
	s, err := wrap.SealSnippet(key, testRid, "DATABASE_URL", 0, "postgres://app:s3cret@db.internal:5432/app")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := wrap.OpenSnippet(key, testRid, "DATABASE_URL", s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBlob: build (sort, check, sign, encode) and the pull side
// (parse, verify the manifest signature and the history checks) of an
// environment blob of n snippets.
func BenchmarkBlob(b *testing.B) {
	priv, pub := signer(3)
	parent := wrap.BlobID([]byte("the previous version"))
	for _, n := range benchSizes {
		snips := snippets(b, 1, n)
		b.Run(fmt.Sprintf("encode/vars=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := wrap.BuildBlob(priv, projectID, envID, 1, 2, parent, snips); err != nil {
					b.Fatal(err)
				}
			}
		})
		blob, err := wrap.BuildBlob(priv, projectID, envID, 1, 2, parent, snips)
		if err != nil {
			b.Fatal(err)
		}
		raw := blob.Raw()
		check := wrap.PullCheck{ProjectID: projectID, EnvID: envID, PublicKey: pub, PinnedEpoch: 1,
			KeyEpoch: 1, ClaimedVersion: 2, SeenVersion: 1, SeenID: parent, BaseVersion: 1, BaseID: parent}
		b.Run(fmt.Sprintf("parse+verify/vars=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				pb, err := wrap.ParseBlob(raw)
				if err != nil {
					b.Fatal(err)
				}
				if err := wrap.VerifyPull(pb, check); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
