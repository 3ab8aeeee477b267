package auditchain_test

import (
	"testing"

	"github.com/capy-oss/capy/internal/auditchain"
	"github.com/capy-oss/capy/internal/testvectors"
)

// TestVectors checks the chain hash against the independent Python
// implementation (testdata/vectors).
func TestVectors(t *testing.T) {
	v, err := testvectors.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Audit) != 2 || v.Audit[0].PrevHash != auditchain.Genesis {
		t.Fatalf("unexpected vectors: %d rows, genesis %q", len(v.Audit), v.Audit[0].PrevHash)
	}
	prev := auditchain.Genesis
	for _, row := range v.Audit {
		tm, err := auditchain.ParseTime(row.Time)
		if err != nil {
			t.Fatal(err)
		}
		if auditchain.FormatTime(tm) != row.Time {
			t.Fatalf("time %q formats as %q", row.Time, auditchain.FormatTime(tm))
		}
		e := auditchain.Event{Seq: int64(row.Seq), Time: tm, Actor: row.Actor, Action: row.Action, Target: row.Target, Result: row.Result}
		if row.PrevHash != prev {
			t.Fatalf("seq %d: prev %s, want %s", row.Seq, row.PrevHash, prev)
		}
		if got := auditchain.Hash(prev, e); got != row.Hash {
			t.Errorf("seq %d: hash %s, want %s", row.Seq, got, row.Hash)
		}
		prev = row.Hash
	}
}
