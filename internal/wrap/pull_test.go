package wrap_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/capy-oss/capy/internal/wrap"
)

var pullErrors = []error{
	wrap.ErrBadSignature, wrap.ErrEpochRollback, wrap.ErrWrongEpoch, wrap.ErrVersionMismatch,
	wrap.ErrRollback, wrap.ErrForked, wrap.ErrParentMismatch, wrap.ErrNotRequested,
}

func TestPullErrorsDistinct(t *testing.T) {
	for i, a := range pullErrors {
		for j, b := range pullErrors {
			if i != j && errors.Is(a, b) {
				t.Errorf("%v matches %v", a, b)
			}
		}
	}
}

func TestVerifyPull(t *testing.T) {
	priv, pub := signer(20)
	otherPriv, _ := signer(21)
	build := func(epoch uint32, version uint64, parent string, k byte) *wrap.Blob {
		t.Helper()
		b, err := wrap.BuildBlob(priv, projectID, envID, epoch, version, parent, snippets(t, k, 2))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// An honest history: v1 → v2 → v3 at epoch 1, then an env rotate at v4
	// (epoch 2, still chained), then v9 far ahead with some parent.
	v1 := build(1, 1, wrap.NoParent, 50)
	v2 := build(1, 2, v1.ID(), 51)
	v3 := build(1, 3, v2.ID(), 52)
	v4 := build(2, 4, v3.ID(), 53)
	v8 := build(1, 8, strings.Repeat("9", 64), 54)
	// Forks: another v3 and a v3 whose parent is not v2, both validly signed
	// (a member with the key could make them; the service can replay them).
	v3fork := build(1, 3, v2.ID(), 55)
	v3orphan := build(1, 3, v1.ID(), 52)
	forged, err := wrap.BuildBlob(otherPriv, projectID, envID, 1, 3, v2.ID(), snippets(t, 52, 2))
	if err != nil {
		t.Fatal(err)
	}

	base := func(claimed uint64) wrap.PullCheck {
		return wrap.PullCheck{ProjectID: projectID, EnvID: envID, PublicKey: pub, PinnedEpoch: 1, KeyEpoch: 1, ClaimedVersion: claimed}
	}
	with := func(c wrap.PullCheck, f func(*wrap.PullCheck)) wrap.PullCheck { f(&c); return c }
	requested := func(claimed, want uint64, id string) wrap.PullCheck {
		return with(base(claimed), func(c *wrap.PullCheck) { c.RequestedVersion, c.RequestedID = want, id })
	}
	synced := func(claimed uint64, ver uint64, id string) wrap.PullCheck {
		return with(base(claimed), func(c *wrap.PullCheck) {
			c.SeenVersion, c.SeenID, c.BaseVersion, c.BaseID = ver, id, ver, id
		})
	}

	cases := []struct {
		name string
		blob *wrap.Blob
		c    wrap.PullCheck
		want error
	}{
		// Honest cases.
		{"first sync, nothing seen", v3, base(3), nil},
		{"first sync of version 1", v1, base(1), nil},
		{"head = base", v3, synced(3, 3, v3.ID()), nil},
		{"head = base + 1, parent = base", v3, synced(3, 2, v2.ID()), nil},
		{"head = base + 5, any parent", v8, synced(8, 3, v3.ID()), nil},
		{"head = base + 2, parent not base", v3, synced(3, 1, v1.ID()), nil},
		{"seen ahead of base, head = seen", v3, with(synced(3, 1, v1.ID()), func(c *wrap.PullCheck) { c.SeenVersion, c.SeenID = 3, v3.ID() }), nil},
		{"epoch above pin, key matches", v4, with(synced(4, 3, v3.ID()), func(c *wrap.PullCheck) { c.KeyEpoch = 2 }), nil},
		{"key epoch not checked", v4, with(synced(4, 3, v3.ID()), func(c *wrap.PullCheck) { c.KeyEpoch = 0 }), nil},
		{"nothing pinned", v1, with(base(1), func(c *wrap.PullCheck) { c.PinnedEpoch = 0 }), nil},
		{"fetched by number, the one asked for", v2, requested(2, 2, v2.ID()), nil},
		{"fetched by number, no id known", v2, requested(2, 2, ""), nil},

		// Each check on its own.
		{"signed with another key", forged, base(3), wrap.ErrBadSignature},
		{"pub for another env", v3, with(base(3), func(c *wrap.PullCheck) { c.EnvID = envID2 }), wrap.ErrBadSignature},
		{"pub for another project", v3, with(base(3), func(c *wrap.PullCheck) { c.ProjectID = project2 }), wrap.ErrBadSignature},
		{"no public key", v3, with(base(3), func(c *wrap.PullCheck) { c.PublicKey = nil }), wrap.ErrBadSignature},
		{"epoch below pin", v3, with(base(3), func(c *wrap.PullCheck) { c.PinnedEpoch, c.KeyEpoch = 2, 2 }), wrap.ErrEpochRollback},
		{"epoch below pin, key unchecked", v3, with(base(3), func(c *wrap.PullCheck) { c.PinnedEpoch, c.KeyEpoch = 2, 0 }), wrap.ErrEpochRollback},
		{"wrong key epoch", v4, base(4), wrap.ErrWrongEpoch},
		{"key epoch ahead of blob", v3, with(base(3), func(c *wrap.PullCheck) { c.KeyEpoch = 2 }), wrap.ErrWrongEpoch},
		{"claimed version higher", v3, base(4), wrap.ErrVersionMismatch},
		{"claimed version lower", v3, base(2), wrap.ErrVersionMismatch},
		{"rollback below seen", v2, with(synced(2, 2, v2.ID()), func(c *wrap.PullCheck) { c.SeenVersion, c.SeenID = 3, v3.ID() }), wrap.ErrRollback},
		{"rollback below base", v2, synced(2, 3, v3.ID()), wrap.ErrRollback},
		{"rollback to version 1", v1, synced(1, 3, v3.ID()), wrap.ErrRollback},
		{"forked at seen version", v3fork, synced(3, 3, v3.ID()), wrap.ErrForked},
		{"forked at seen (ahead of base)", v3fork, with(synced(3, 2, v2.ID()), func(c *wrap.PullCheck) { c.SeenVersion, c.SeenID = 3, v3.ID() }), wrap.ErrForked},
		{"forked at base version", v3fork, with(base(3), func(c *wrap.PullCheck) { c.BaseVersion, c.BaseID = 3, v3.ID() }), wrap.ErrForked},
		{"head = base + 1, wrong parent", v3orphan, synced(3, 2, v2.ID()), wrap.ErrParentMismatch},
		{"head = seen + 1 (ahead of base), wrong parent", v3orphan, with(synced(3, 1, v1.ID()), func(c *wrap.PullCheck) { c.SeenVersion, c.SeenID = 2, v2.ID() }), wrap.ErrParentMismatch},
		// A version fetched by number (the base of a merge, a rollback's
		// source): the service answering with its head, a newer or older
		// genuine version, or another blob at that number is refused.
		{"asked for base, got the head", v3, requested(3, 2, v2.ID()), wrap.ErrNotRequested},
		{"asked for a version, got an older one", v1, requested(1, 2, ""), wrap.ErrNotRequested},
		{"asked for a version, got a newer one", v8, requested(8, 3, ""), wrap.ErrNotRequested},
		{"asked for base, got a fork of it", v3fork, requested(3, 3, v3.ID()), wrap.ErrForked},
		{"head = base + 1, first blob parent", build(1, 2, wrap.NoParent, 56), synced(2, 1, v1.ID()), wrap.ErrParentMismatch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := wrap.VerifyPull(c.blob, c.c)
			if c.want == nil {
				if err != nil {
					t.Fatalf("honest pull refused: %v", err)
				}
				return
			}
			assertOnly(t, c.name, err, c.want, pullErrors)
		})
	}
}

// A blob that passes VerifyPull after a parse round trip is the same blob:
// the checks run on parsed data, not on anything the builder kept.
func TestVerifyPullAfterParse(t *testing.T) {
	priv, pub := signer(22)
	b, err := wrap.BuildBlob(priv, projectID, envID, 1, 1, wrap.NoParent, snippets(t, 57, 3))
	if err != nil {
		t.Fatal(err)
	}
	p, err := wrap.ParseBlob(b.Raw())
	if err != nil {
		t.Fatal(err)
	}
	c := wrap.PullCheck{ProjectID: projectID, EnvID: envID, PublicKey: pub, PinnedEpoch: 1, KeyEpoch: 1, ClaimedVersion: 1}
	if err := wrap.VerifyPull(p, c); err != nil {
		t.Fatal(err)
	}
	c.SeenVersion, c.SeenID = 1, p.ID()
	if err := wrap.VerifyPull(p, c); err != nil {
		t.Fatal(err)
	}
}
