package storetest

import (
	"sync/atomic"
	"testing"

	"github.com/capy-oss/capy/internal/store"
)

// BenchmarkCoDecrypt measures AuthorizeCoDecrypt on one org from parallel
// goroutines, each with its own member and session: the hot path of every
// unlock (session check, locked membership read, audit append, commit).
func BenchmarkCoDecrypt(b *testing.B, open Opener) {
	h := newH(b, open)
	owner := h.login(email("owner"))
	org := h.newOrg(owner)
	const members = 32
	ms := make([]who, members)
	for i := range ms {
		ms[i] = h.addMember(org, owner, store.RoleMember)
	}
	var next atomic.Int64
	b.SetParallelism(8) // many clients, as a server sees them
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		m := ms[next.Add(1)%members]
		for pb.Next() {
			if _, err := h.s.AuthorizeCoDecrypt(h.ctx, m.tok, org, m.ID); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "co-decrypts/s")
	if _, err := h.s.VerifyChain(h.ctx, org); err != nil {
		b.Fatal(err)
	}
}
