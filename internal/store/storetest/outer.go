package storetest

import (
	"bytes"
	"errors"
	"testing"

	"github.com/capy-oss/capy/internal/store"
)

func init() {
	register(
		test{"DeployDecryptOpensBeforeCommit", testDeployDecryptOpen},
		test{"RedeemOpensBeforeCommit", testRedeemOpen},
	)
}

// errNoKEK stands for an outer blob the service cannot open (its KEK is
// missing): what the server's OpenFunc returns.
var errNoKEK = errors.New("storetest: the blob's KEK is missing")

// opener is an OpenFunc that records what it was given and answers with
// err, or with re.
type opener struct {
	calls int
	org   string
	blob  []byte
	re    []byte
	err   error
}

func (o *opener) open(orgID string, blob []byte) ([]byte, error) {
	o.calls++
	o.org, o.blob = orgID, append([]byte(nil), blob...)
	return o.re, o.err
}

// testDeployDecryptOpen: the deploy token's outer blob is opened inside
// the transaction, after the checks and before anything is written. A
// refusal by open changes nothing (no last use, no row) and comes back as
// it is, and the token works once the blob opens; a re-wrap replaces the
// stored blob.
func testDeployDecryptOpen(t *testing.T, h *h) {
	f := h.setup()
	h.push(f.member, f.env.ID)
	d, ver := h.deploy(f.admin, f.env)
	orig := h.deployBlob(d.ID)

	before := h.state(f.owner, f.org)
	o := &opener{err: errNoKEK}
	_, err := h.s.DeployDecrypt(h.ctx, d.ID, ver, o.open)
	if !errors.Is(err, errNoKEK) {
		t.Fatalf("a blob that does not open: got %v, want the OpenFunc's error", err)
	}
	if o.calls < 1 || o.org != f.org || !bytes.Equal(o.blob, orig) {
		t.Fatalf("open got org %s blob %x (%d calls), want %s %x", o.org, o.blob, o.calls, f.org, orig)
	}
	h.unchanged(before, f.owner, f.org, "a deploy decrypt whose blob did not open")

	// The KEK is back: the same token works, and its blob is re-wrapped.
	rewrapped := randBytes(64)
	o = &opener{re: rewrapped}
	g, err := h.s.DeployDecrypt(h.ctx, d.ID, ver, o.open)
	wantErr(t, err, nil, "deploy decrypt once the blob opens")
	if !bytes.Equal(g.Blob, orig) || g.Head == nil || g.Audit.Seq != before.Audit.Seq+1 {
		t.Fatalf("grant %+v", g)
	}
	if got := h.deployBlob(d.ID); !bytes.Equal(got, rewrapped) {
		t.Fatalf("stored blob after a re-wrap: %x, want %x", got, rewrapped)
	}
	// Under the newest KEK: opened, kept.
	o = &opener{}
	g, err = h.s.DeployDecrypt(h.ctx, d.ID, ver, o.open)
	wantErr(t, err, nil, "deploy decrypt of the re-wrapped blob")
	if !bytes.Equal(o.blob, rewrapped) || !bytes.Equal(g.Blob, rewrapped) || !bytes.Equal(h.deployBlob(d.ID), rewrapped) {
		t.Fatalf("second decrypt opened %x, granted %x", o.blob, g.Blob)
	}

	// A refused token never reaches open.
	_, _, err = h.s.RevokeDeploy(h.ctx, f.admin.tok, f.org, d.ID)
	wantErr(t, err, nil, "RevokeDeploy")
	o = &opener{err: errNoKEK}
	_, err = h.s.DeployDecrypt(h.ctx, d.ID, ver, o.open)
	wantErr(t, err, store.ErrRevoked, "revoked token")
	_, err = h.s.DeployDecrypt(h.ctx, d.ID, randBytes(32), o.open)
	wantErr(t, err, store.ErrUnauthenticated, "wrong verifier")
	if o.calls != 0 {
		t.Fatalf("open ran %d times for refused tokens", o.calls)
	}
}

// testRedeemOpen: the invite's outer blob is opened inside the redeem's
// transaction; a refusal undoes the whole redeem (no membership, invite
// not redeemed, no row), and a re-wrap replaces the stored blob.
func testRedeemOpen(t *testing.T, h *h) {
	f := h.setup()
	addr := email("invitee")
	inv := h.invite(f.owner, f.org, addr, store.InviteMember, store.RoleMember)
	orig := h.inviteBlob(inv.ID)
	bob := h.login(addr)

	before := h.state(f.owner, f.org)
	o := &opener{err: errNoKEK}
	_, err := h.s.Redeem(h.ctx, bob.tok, inv.ID, o.open)
	if !errors.Is(err, errNoKEK) {
		t.Fatalf("a blob that does not open: got %v, want the OpenFunc's error", err)
	}
	if o.calls < 1 || o.org != f.org || !bytes.Equal(o.blob, orig) {
		t.Fatalf("open got org %s blob %x, want %s %x", o.org, o.blob, f.org, orig)
	}
	h.unchanged(before, f.owner, f.org, "a redeem whose blob did not open")

	rewrapped := randBytes(80)
	r, err := h.s.Redeem(h.ctx, bob.tok, inv.ID, (&opener{re: rewrapped}).open)
	wantErr(t, err, nil, "redeem once the blob opens")
	if !bytes.Equal(r.Blob, orig) || r.Member.Status != store.StatusActive || r.Invite.RedeemedAt.IsZero() {
		t.Fatalf("redemption %+v", r)
	}
	if got := h.inviteBlob(inv.ID); !bytes.Equal(got, rewrapped) {
		t.Fatalf("stored blob after a re-wrap: %x, want %x", got, rewrapped)
	}
	o = &opener{}
	r, err = h.s.Redeem(h.ctx, bob.tok, inv.ID, o.open)
	wantErr(t, err, nil, "second redeem")
	if !bytes.Equal(o.blob, rewrapped) || !bytes.Equal(r.Blob, rewrapped) {
		t.Fatalf("second redeem opened %x", o.blob)
	}

	// A redeem refused by its checks never reaches open.
	mallory := h.login(email("mallory"))
	o = &opener{err: errNoKEK}
	_, err = h.s.Redeem(h.ctx, mallory.tok, inv.ID, o.open)
	wantErr(t, err, store.ErrForbidden, "another e-mail")
	if o.calls != 0 {
		t.Fatalf("open ran %d times for a refused redeem", o.calls)
	}
}

// deployBlob and inviteBlob read a stored outer blob behind the store's
// back.
func (h *h) deployBlob(id string) []byte { return h.rawBlob("deploys", id) }
func (h *h) inviteBlob(id string) []byte { return h.rawBlob("invites", id) }

func (h *h) rawBlob(table, id string) []byte {
	h.t.Helper()
	var b []byte
	if err := h.raw.QueryRowContext(h.ctx, "SELECT blob FROM "+table+" WHERE id = $1", id).Scan(&b); err != nil {
		h.t.Fatalf("read the %s blob of %s: %v", table, id, err)
	}
	return b
}
