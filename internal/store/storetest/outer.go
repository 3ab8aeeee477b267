package storetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/store"
)

func init() {
	register(
		test{"DeployDecryptOpensBeforeCommit", testDeployDecryptOpen},
		test{"RedeemOpensBeforeCommit", testRedeemOpen},
		test{"OuterKeyUse", testOuterKeyUse},
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

// outerUnder returns a stand-in outer blob whose header names KEK kid.
func outerUnder(kid uint32) []byte {
	b := append([]byte{1, 0, 0, 0, 0}, randBytes(90)...)
	binary.BigEndian.PutUint32(b[1:5], kid)
	return b
}

// testOuterKeyUse: the stored blobs that may still be opened are counted
// per KEK id in their header; revoked, consumed and expired ones are not,
// and a re-wrap on use moves a blob to its new KEK.
func testOuterKeyUse(t *testing.T, h *h) {
	f := h.setup() // its member invites are consumed: not counted
	use := func() []store.KEKUse {
		t.Helper()
		u, err := h.s.OuterKeyUse(h.ctx)
		wantErr(t, err, nil, "OuterKeyUse")
		return u
	}
	if u := use(); len(u) != 0 {
		t.Fatalf("a store with no open blob: %+v", u)
	}
	invite := func(kid uint32, ttl time.Duration) (store.Invite, who) {
		t.Helper()
		addr := email("kek")
		inv, _, err := h.s.CreateInvite(h.ctx, f.owner.tok, store.NewInvite{
			ID: ident.NewID(ident.Invite), OrgID: f.org, Email: addr, Kind: store.InviteMember, Role: store.RoleMember,
			ExpiresAt: h.clock.Now().Add(ttl), Blob: outerUnder(kid),
		})
		wantErr(t, err, nil, "CreateInvite")
		return inv, h.login(addr)
	}
	deploy := func(kid uint32, ttl time.Duration) store.Deploy {
		t.Helper()
		ver := sha256.Sum256(randBytes(32))
		nd := store.NewDeploy{ID: ident.NewID(ident.Deploy), OrgID: f.org, EnvID: f.env.ID, Name: "ci", Epoch: 1, Verifier: ver[:], Blob: outerUnder(kid)}
		if ttl > 0 {
			nd.ExpiresAt = h.clock.Now().Add(ttl)
		}
		d, _, err := h.s.CreateDeploy(h.ctx, f.admin.tok, nd)
		wantErr(t, err, nil, "CreateDeploy")
		return d
	}
	// Soon expired: an invite and a deploy token under KEK 1.
	invite(1, time.Hour)
	deploy(1, time.Hour)
	h.clock.Advance(2 * time.Hour)

	invite(1, 24*time.Hour)                  // open
	_, bob := invite(1, 24*time.Hour)        // redeemed below: still counted
	revokedInv, _ := invite(1, 24*time.Hour) // revoked below
	consumed, carol := invite(1, 24*time.Hour)
	invite(2, 24*time.Hour)
	deploy(1, 0)
	deploy(3, 24*time.Hour)
	revokedDep := deploy(1, 0)
	bobInv := func() store.Invite {
		invs, err := h.s.ListInvites(h.ctx, f.owner.tok, f.org)
		wantErr(t, err, nil, "ListInvites")
		for _, i := range invs {
			if i.Email == bob.Email {
				return i
			}
		}
		t.Fatal("bob's invite is gone")
		return store.Invite{}
	}()
	_, err := h.s.Redeem(h.ctx, bob.tok, bobInv.ID, nil)
	wantErr(t, err, nil, "Redeem")
	_, _, err = h.s.RevokeInvite(h.ctx, f.owner.tok, f.org, revokedInv.ID)
	wantErr(t, err, nil, "RevokeInvite")
	_, err = h.s.Redeem(h.ctx, carol.tok, consumed.ID, nil)
	wantErr(t, err, nil, "Redeem")
	_, err = h.s.Wrap(h.ctx, carol.tok, f.org, carol.ID)
	wantErr(t, err, nil, "Wrap (consumes)")
	_, _, err = h.s.RevokeDeploy(h.ctx, f.admin.tok, f.org, revokedDep.ID)
	wantErr(t, err, nil, "RevokeDeploy")

	want := []store.KEKUse{{KEKID: 1, Invites: 2, Deploys: 1}, {KEKID: 2, Invites: 1}, {KEKID: 3, Deploys: 1}}
	if got := use(); !reflect.DeepEqual(got, want) {
		t.Fatalf("OuterKeyUse\n got  %+v\n want %+v", got, want)
	}
	// Bob redeems again on a replica whose primary is KEK 2: his invite
	// moves to KEK 2.
	_, err = h.s.Redeem(h.ctx, bob.tok, bobInv.ID, func(string, []byte) ([]byte, error) { return outerUnder(2), nil })
	wantErr(t, err, nil, "Redeem with a re-wrap")
	want = []store.KEKUse{{KEKID: 1, Invites: 1, Deploys: 1}, {KEKID: 2, Invites: 2}, {KEKID: 3, Deploys: 1}}
	if got := use(); !reflect.DeepEqual(got, want) {
		t.Fatalf("OuterKeyUse after a re-wrap\n got  %+v\n want %+v", got, want)
	}
	// Time passes: the KEK 3 token expires.
	h.clock.Advance(25 * time.Hour)
	want = []store.KEKUse{{KEKID: 1, Deploys: 1}}
	if got := use(); !reflect.DeepEqual(got, want) {
		t.Fatalf("OuterKeyUse a day later\n got  %+v\n want %+v", got, want)
	}
}
