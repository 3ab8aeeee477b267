package replicas

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/auditchain"
	"github.com/capy-oss/capy/internal/client"
	"github.com/capy-oss/capy/internal/e2e/e2etest"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/wrap"
)

// requestTimeout bounds every request a test makes: nothing may hang.
const requestTimeout = 10 * time.Second

// service is the client side of a set of replicas of one capyd service.
type service struct {
	t    *testing.T
	ctx  context.Context
	reps []*replica
	hc   *http.Client
}

func newService(t *testing.T, reps []*replica) *service {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	tr := &http.Transport{MaxIdleConnsPerHost: 16, IdleConnTimeout: 30 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	return &service{t: t, ctx: ctx, reps: reps, hc: &http.Client{Transport: tr, Timeout: requestTimeout}}
}

// client is a typed client for replica i with token, without the client
// package's own retries: the tests see every answer.
func (s *service) client(i int, token string) *client.Client {
	c, err := client.New(s.reps[i].URL, client.WithHTTPClient(s.hc), client.WithRetry(1, 0), client.WithToken(token))
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

// user is a logged-in person with a key.enc (outer blob) for the world's
// org, and a client per replica.
type user struct {
	id, email, token string
	inner, outer     []byte
	via              []*client.Client // via[i] talks to replica i
}

var userCounter atomic.Int64

// login signs a fresh address in through replica i: the code comes from
// that replica's development mail.log.
func (s *service) login(prefix string, i int) *user {
	s.t.Helper()
	email := fmt.Sprintf("%s%d@example.com", prefix, userCounter.Add(1))
	r := s.reps[i]
	skip := len(e2etest.MailLines(r.MailLog))
	anon := s.client(i, "")
	if _, err := anon.AuthStart(s.ctx, email); err != nil {
		s.t.Fatalf("AuthStart via %s: %v", r.Name, err)
	}
	code, err := r.mailCode(email, skip)
	if err != nil {
		s.t.Fatal(err)
	}
	res, err := anon.AuthVerify(s.ctx, email, code, "e2e")
	if err != nil {
		s.t.Fatalf("AuthVerify via %s: %v", r.Name, err)
	}
	u := &user{id: res.User.ID, email: email, token: res.Token}
	for j := range s.reps {
		u.via = append(u.via, s.client(j, res.Token))
	}
	return u
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// sealed returns a 61-byte inner sealed box of a random 32-byte key (what
// a device-bound key.enc inner layer looks like to the service).
func sealed() []byte {
	var k [32]byte
	copy(k[:], randBytes(32))
	box, err := wrap.Seal(&k, randBytes(32), []byte("e2e"))
	if err != nil {
		panic(err)
	}
	return box
}

// world is an org with an owner and members (each with a key.enc), one
// project and one environment whose signing key every member holds.
type world struct {
	org, project, env string
	sign              ed25519.PrivateKey
	owner             *user
	members           []*user
}

// newWorld sets an org up through the API, spreading the requests over
// the replicas: the owner logs in through replica 1, member k through
// replica k+2 (mod n), and so on, so sessions made on one replica are used
// on the others.
func (s *service) newWorld(members int) *world {
	s.t.Helper()
	n := len(s.reps)
	w := &world{org: ident.NewID(ident.Org), project: ident.NewID(ident.Project), env: ident.NewID(ident.Env)}
	w.owner = s.login("owner", 0)
	if _, err := w.owner.via[0].CreateOrg(s.ctx, api.CreateOrgRequest{ID: w.org, Name: "acme", KeyCheck: hex.EncodeToString(randBytes(16))}); err != nil {
		s.t.Fatalf("CreateOrg: %v", err)
	}
	s.enrol(w, w.owner, 1%n)
	role := api.RoleMember
	for k := range members {
		u := s.login("member", (k+1)%n)
		inv, err := w.owner.via[k%n].CreateInvite(s.ctx, w.org, api.CreateInviteRequest{Kind: "member", Email: u.email, Role: &role, Inner: sealed()})
		if err != nil {
			s.t.Fatalf("CreateInvite: %v", err)
		}
		if _, err := u.via[(k+2)%n].Redeem(s.ctx, inv.ID); err != nil {
			s.t.Fatalf("Redeem: %v", err)
		}
		s.enrol(w, u, k%n)
		w.members = append(w.members, u)
	}
	if _, err := w.owner.via[2%n].CreateProject(s.ctx, w.org, api.CreateProjectRequest{ID: w.project, Name: "web"}); err != nil {
		s.t.Fatalf("CreateProject: %v", err)
	}
	_, w.sign, _ = ed25519.GenerateKey(rand.Reader)
	if _, err := w.owner.via[0].CreateEnv(s.ctx, w.org, w.project, api.CreateEnvRequest{
		ID: w.env, Name: "development", SigningPublicKey: api.Bytes(w.sign.Public().(ed25519.PublicKey)),
	}); err != nil {
		s.t.Fatalf("CreateEnv: %v", err)
	}
	return w
}

// enrol wraps a fresh inner blob for u through replica i (its key.enc).
func (s *service) enrol(w *world, u *user, i int) {
	s.t.Helper()
	u.inner = sealed()
	outer, err := u.via[i].Wrap(s.ctx, w.org, u.inner)
	if err != nil {
		s.t.Fatalf("Wrap: %v", err)
	}
	u.outer = outer
}

// blob builds a signed environment blob at version on parent with fresh
// random snippets.
func (w *world) blob(version uint64, parent string) (*wrap.Blob, error) {
	var k [32]byte
	copy(k[:], randBytes(32))
	var snippets []string
	for _, name := range []string{"DATABASE_URL", "API_TOKEN"} {
		sn, err := wrap.SealSnippet(&k, "abcde", name, 0, hex.EncodeToString(randBytes(12)))
		if err != nil {
			return nil, err
		}
		snippets = append(snippets, sn)
	}
	return wrap.BuildBlob(w.sign, w.project, w.env, 1, version, parent, snippets)
}

// problemSlug is the problem type of err, or "" if it is none.
func problemSlug(err error) api.ProblemType {
	if p := client.ProblemOf(err); p != nil {
		return p.Slug()
	}
	return ""
}

// auditChain reads the whole audit chain of the world's org as its owner
// through replica i, recomputes every hash with auditchain (the client's
// proof, api.md §1.9), and also asks the service to verify it. It fails
// the test on any break and returns the rows in seq order.
func (s *service) auditChain(w *world, i int) []api.AuditEntry {
	s.t.Helper()
	c := w.owner.via[i]
	var rows []api.AuditEntry
	var head api.AuditHead
	cursor := ""
	for {
		page, err := c.Audit(s.ctx, w.org, 1, cursor, 1000)
		if err != nil {
			s.t.Fatalf("Audit: %v", err)
		}
		rows = append(rows, page.Items...)
		head = page.Head
		if page.NextCursor == nil {
			break
		}
		cursor = *page.NextCursor
	}
	prev := auditchain.Genesis
	for k, r := range rows {
		if r.Seq != uint64(k+1) {
			s.t.Fatalf("audit row %d has seq %d", k+1, r.Seq)
		}
		tm, err := auditchain.ParseTime(r.Time)
		if err != nil {
			s.t.Fatalf("audit row %d: %v", r.Seq, err)
		}
		ev := auditchain.Event{Seq: int64(r.Seq), Time: tm, Actor: r.Actor, Action: r.Action, Target: r.Target, Result: r.Result}
		if err := ev.Check(); err != nil {
			s.t.Fatalf("audit row %d: %v", r.Seq, err)
		}
		if r.PrevHash != prev {
			s.t.Fatalf("audit row %d: prev_hash %s, want %s", r.Seq, r.PrevHash, prev)
		}
		if h := auditchain.Hash(prev, ev); h != r.Hash {
			s.t.Fatalf("audit row %d: hash %s, recomputed %s", r.Seq, r.Hash, h)
		}
		prev = r.Hash
	}
	if len(rows) == 0 || head.Seq != uint64(len(rows)) || head.Hash != prev {
		s.t.Fatalf("audit head %+v does not end the %d rows read (last hash %s)", head, len(rows), prev)
	}
	v, err := c.AuditVerify(s.ctx, w.org)
	if err != nil {
		s.t.Fatalf("AuditVerify: %v", err)
	}
	if !v.Valid || v.Rows != uint64(len(rows)) || v.Head != head || v.FirstBadSeq != nil {
		s.t.Fatalf("service verify %+v, want valid with %d rows and head %+v", v, len(rows), head)
	}
	return rows
}

// history reads every version of the world's environment through replica
// i and checks that it is whole: versions 1..head without gaps, each blob
// parses, its id is the hash of its text, its manifest names its version
// and chains to the previous version's id, and its signature verifies
// against the environment's key. The versions list agrees. It returns the
// blob ids by version (index 0 = version 1).
func (s *service) history(w *world, i int) []string {
	s.t.Helper()
	c := w.owner.via[i]
	env, err := c.Env(s.ctx, w.org, w.project, w.env)
	if err != nil {
		s.t.Fatalf("Env: %v", err)
	}
	if env.Head == nil {
		return nil
	}
	pub := w.sign.Public().(ed25519.PublicKey)
	var ids []string
	parent := wrap.NoParent
	for n := uint64(1); n <= env.Head.Version; n++ {
		b, err := c.Version(s.ctx, w.org, w.project, w.env, n)
		if err != nil {
			s.t.Fatalf("Version %d: %v", n, err)
		}
		pb, err := wrap.ParseBlob([]byte(b.Text))
		switch {
		case err != nil:
			s.t.Fatalf("version %d does not parse: %v", n, err)
		case b.Version != n || pb.Version != n:
			s.t.Fatalf("version %d is labelled %d, manifest says %d", n, b.Version, pb.Version)
		case b.ID != wrap.BlobID([]byte(b.Text)):
			s.t.Fatalf("version %d: id %s is not the hash of its text", n, b.ID)
		case pb.Parent != parent || b.Parent != parent:
			s.t.Fatalf("version %d: parent %s (meta %s), want %s", n, pb.Parent, b.Parent, parent)
		case pb.VerifySignature(pub, w.project, w.env) != nil:
			s.t.Fatalf("version %d: signature does not verify", n)
		}
		ids = append(ids, b.ID)
		parent = b.ID
	}
	if env.Head.ID != parent {
		s.t.Fatalf("head %+v is not the last version %s", env.Head, parent)
	}
	// The list (newest first) agrees.
	listed := map[uint64]string{}
	cursor := ""
	for {
		page, err := c.Versions(s.ctx, w.org, w.project, w.env, cursor, 200)
		if err != nil {
			s.t.Fatalf("Versions: %v", err)
		}
		for _, m := range page.Items {
			listed[m.Version] = m.ID
		}
		if page.NextCursor == nil {
			break
		}
		cursor = *page.NextCursor
	}
	if len(listed) != len(ids) {
		s.t.Fatalf("versions list has %d entries, want %d", len(listed), len(ids))
	}
	for k, id := range ids {
		if listed[uint64(k+1)] != id {
			s.t.Fatalf("versions list: version %d is %s, want %s", k+1, listed[uint64(k+1)], id)
		}
	}
	return ids
}

// pushRows returns the push audit rows of the world's environment by blob
// id, failing on a row that is not ok or names an id twice.
func pushRows(t *testing.T, w *world, rows []api.AuditEntry) map[string]api.AuditEntry {
	t.Helper()
	out := map[string]api.AuditEntry{}
	for _, r := range rows {
		if r.Action != "push" {
			continue
		}
		f := strings.Fields(r.Target)
		if len(f) != 3 || f[0] != w.env || !strings.HasPrefix(f[1], "version=") || !strings.HasPrefix(f[2], "id=") || r.Result != "ok" {
			t.Fatalf("push audit row %+v", r)
		}
		id := strings.TrimPrefix(f[2], "id=")
		if _, dup := out[id]; dup {
			t.Fatalf("two push audit rows for blob %s", id)
		}
		out[id] = r
	}
	return out
}

// checkPushesAudited fails unless the push audit rows and the history are
// one to one: every version has exactly one push row naming its version
// and id, and no push row names anything else.
func checkPushesAudited(t *testing.T, w *world, rows []api.AuditEntry, ids []string) {
	t.Helper()
	pr := pushRows(t, w, rows)
	for k, id := range ids {
		r, ok := pr[id]
		if !ok {
			t.Fatalf("version %d (%s) has no push audit row", k+1, id)
		}
		if want := fmt.Sprintf("%s version=%d id=%s", w.env, k+1, id); r.Target != want {
			t.Fatalf("push audit row %q, want %q", r.Target, want)
		}
	}
	if len(pr) != len(ids) {
		t.Fatalf("%d push audit rows for %d versions", len(pr), len(ids))
	}
}
