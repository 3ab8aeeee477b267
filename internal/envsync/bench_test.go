package envsync

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/keys"
)

var benchSizes = []int{10, 100, 1000, 10000}

// benchSide returns n variables; with snippets, each gets a distinct
// snippet-shaped string (the merge only compares them).
func benchSide(n int, valuePrefix string, snippets bool) Side {
	s := NewSide()
	for i := range n {
		snip := ""
		if snippets {
			snip = fmt.Sprintf("capy:abcde:%s-%d", valuePrefix, i)
		}
		s.Set(fmt.Sprintf("VAR_%d", i), Value{Text: fmt.Sprintf("%s-%d", valuePrefix, i)}, snip)
	}
	return s
}

// BenchmarkMerge: the three-way merge at n variables, in the two shapes a
// sync meets most: nothing changed anywhere (the everyday `capy`), and
// every value changed on one side.
func BenchmarkMerge(b *testing.B) {
	for _, n := range benchSizes {
		base := benchSide(n, "v1", true)
		same := benchSide(n, "v1", true)
		changed := benchSide(n, "v2", false) // local plaintext edits
		b.Run(fmt.Sprintf("unchanged/vars=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				res := Merge(base, same, base, PreferNone)
				if len(res.Merged.Values) != n || res.RemoteChanged {
					b.Fatal("bad merge")
				}
			}
		})
		b.Run(fmt.Sprintf("all-changed/vars=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				res := Merge(base, changed, base, PreferNone)
				if len(res.Merged.Values) != n || !res.RemoteChanged {
					b.Fatal("bad merge")
				}
			}
		})
	}
}

func benchKeys(b testing.TB) *MemberKeys {
	b.Helper()
	m, err := keys.MasterKeyFromPhrase("abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon art")
	if err != nil {
		b.Fatal(err)
	}
	return &MemberKeys{PK: m.ProjectKey(org, prj), ProjectID: prj, EnvID: env}
}

func benchEnvFile(n int, prefix string) []byte {
	var sb strings.Builder
	for i := range n {
		fmt.Fprintf(&sb, "VAR_%d=%s-value-%d\n", i, prefix, i)
	}
	return []byte(sb.String())
}

// BenchmarkSyncLoop: the whole client side of `capy` sync without the
// network and the unlock: read and decrypt .env, verify and decrypt the
// head, merge, (encrypt, sign, push,) rewrite .env atomically with fsync.
// The remote is in memory.
func BenchmarkSyncLoop(b *testing.B) {
	ctx := context.Background()
	opt := Options{Backoff: func(int) time.Duration { return 0 }}
	first := func(b *testing.B, n int) (*memRemote, Env, []byte) {
		r := &memRemote{}
		file := filepath.Join(b.TempDir(), ".env")
		if err := os.WriteFile(file, benchEnvFile(n, "v1"), 0o600); err != nil {
			b.Fatal(err)
		}
		e := Env{ProjectID: prj, EnvID: env, File: plainFile(file), PinnedEpoch: 1}
		rep, err := Sync(ctx, r, benchKeys(b), e, opt)
		if err != nil {
			b.Fatal(err)
		}
		e.State = rep.State
		synced, err := os.ReadFile(file)
		if err != nil {
			b.Fatal(err)
		}
		return r, e, synced
	}
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("no-change/vars=%d", n), func(b *testing.B) {
			r, e, _ := first(b, n)
			kr := benchKeys(b)
			b.ReportAllocs()
			for b.Loop() {
				rep, err := Sync(ctx, r, kr, e, opt)
				if err != nil || rep.Pushed || rep.FileChanged {
					b.Fatalf("no-change sync: %v %+v", err, rep)
				}
			}
		})
	}
	for _, n := range []int{1000} {
		b.Run(fmt.Sprintf("all-changed-locally/vars=%d", n), func(b *testing.B) {
			r, e, _ := first(b, n)
			kr := benchKeys(b)
			edited := benchEnvFile(n, "v2")
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				if err := os.WriteFile(e.File.String(), edited, 0o600); err != nil {
					b.Fatal(err)
				}
				r.versions = r.versions[:1] // the same base every time
				b.StartTimer()
				rep, err := Sync(ctx, r, kr, e, opt)
				if err != nil || !rep.Pushed || rep.PushedChanges != n {
					b.Fatalf("all-changed sync: %v %+v", err, rep)
				}
			}
		})
		b.Run(fmt.Sprintf("all-changed-remotely/vars=%d", n), func(b *testing.B) {
			r, e, synced := first(b, n)
			kr := benchKeys(b)
			// A second machine changes every value and pushes.
			other := filepath.Join(b.TempDir(), ".env")
			if err := os.WriteFile(other, synced, 0o600); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(other, benchEnvFile(n, "v2"), 0o600); err != nil {
				b.Fatal(err)
			}
			oe := e
			oe.File = plainFile(other)
			if _, err := Sync(ctx, r, kr, oe, opt); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				if err := os.WriteFile(e.File.String(), synced, 0o600); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				rep, err := Sync(ctx, r, kr, e, opt)
				if err != nil || rep.Pushed || len(rep.Updated) != n {
					b.Fatalf("incoming sync: %v pushed=%v updated=%d", err, rep.Pushed, len(rep.Updated))
				}
			}
		})
	}
}
