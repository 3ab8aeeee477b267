// Package scale fills a capyd database, through the store API only (never
// raw SQL), with the shape of issue #21: many orgs of Zipf-distributed size
// (most small, a few large), their members, a long audit history, one
// environment with a long version history and many deploy tokens. The
// benchmark (`capybench -scale`) fills the database before it starts capyd
// on it, so that the service rows are measured on a big database as well
// as an empty one.
//
// Every row goes through the same store method a request would use:
// logins through CreateLoginCode/VerifyLoginCode/CreateSession, members
// through CreateInvite and Redeem, history through Push, audit rows through
// the operations that write them and RecordEvent for the rest. So the
// audit chains are real chains (VerifyChain passes) and every limit of the
// store applies.
package scale

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/store"
	"github.com/capy-oss/capy/internal/store/storeopen"
)

// Shape is what to generate.
type Shape struct {
	Orgs       int // orgs, each with an owner, one project and one environment
	Users      int // users, all logged in once; every org member is one of them
	MaxMembers int // members of the largest org (owner included); org k (from 1) has about MaxMembers/√k
	AuditRows  int // audit rows in all orgs, at least (the setup's own rows count)
	Versions   int // versions of the one long environment (in the largest org)
	Deploys    int // deploy tokens, spread over the orgs' environments
	BlobBytes  int // size of each pushed blob
}

// Full is the shape: 10,000 orgs, 100,000 users, the largest org
// with 500 members, 1,000,000 audit rows, one environment with 100,000
// versions, 10,000 deploy tokens.
var Full = Shape{Orgs: 10000, Users: 100000, MaxMembers: 500, AuditRows: 1000000, Versions: 100000, Deploys: 10000, BlobBytes: 1024}

// At returns Full scaled by factor f (0 < f ≤ 1): counts × f, the largest
// org × √f (so that the orgs' sizes still add up to about the users), each
// at least 1.
func At(f float64) Shape {
	n := func(v int, by float64) int { return max(1, int(math.Round(float64(v)*by))) }
	return Shape{Orgs: n(Full.Orgs, f), Users: n(Full.Users, f), MaxMembers: max(2, n(Full.MaxMembers, math.Sqrt(f))),
		AuditRows: n(Full.AuditRows, f), Versions: n(Full.Versions, f), Deploys: n(Full.Deploys, f), BlobBytes: Full.BlobBytes}
}

// OrgSizes returns each org's member count (owner included), largest first:
// MaxMembers/√k for org k, at least 1 and at most Users.
func (s Shape) OrgSizes() []int {
	out := make([]int, s.Orgs)
	for k := range out {
		out[k] = min(s.Users, max(1, int(math.Round(float64(s.MaxMembers)/math.Sqrt(float64(k+1))))))
	}
	return out
}

// Result is what was generated, counted as it was written.
type Result struct {
	Orgs, Users, Members, AuditRows, Versions, Deploys int
	BigOrg, BigProject, BigEnv                         string // the largest org, its project and its long environment
	// BigOwnerSession is the raw session token of the largest org's owner
	// (32 bytes; capyd's bearer token is "capys_" + its unpadded base64url),
	// for the HTTP rows on the filled database.
	BigOwnerSession []byte
	OrgIDs          []string
	Owners          []store.TokenHash // a session of each org's owner, in OrgIDs order
	Elapsed         time.Duration
	Probes          []Probe // from Measure, when FillDatabase was asked for them
	Mixed           []Mixed // from MixedLoad: many orgs, then one
	blob            int
}

func (r Result) blobBytes() int { return max(r.blob, 1) }

// Pepper is the login-code pepper FillDatabase opens the store with. Codes
// are used as soon as they are made, so it need not be capyd's.
var Pepper = []byte("capybench scale pepper, 32 bytes")

// Options says how FillDatabase fills and what it measures afterwards.
type Options struct {
	Workers int // goroutines filling (default 4)
	Probes  int // runs of each Measure probe (0: none)
	// The mixed load (none if MixedRequests is 0): MixedClients
	// goroutines co-decrypting in MixedOrgs orgs, then in one org, each
	// for at most MixedRequests requests and MixedDuration.
	MixedOrgs, MixedClients, MixedRequests int
	MixedDuration                          time.Duration
	// Watch, if set, runs beside each mixed load until stop closes and
	// returns what it saw (Mixed.Waits).
	Watch func(stop <-chan struct{}) string
}

// FillDatabase opens the database as capyd's --database names it (a
// SQLite path or a postgres:// URL), migrating it, fills it, runs the
// measurements opts asks for and closes it.
func FillDatabase(ctx context.Context, database string, s Shape, opts Options, progress func(string)) (Result, error) {
	st, err := storeopen.Open(ctx, database, store.Config{CodePepper: Pepper, AutoMigrate: true})
	if err != nil {
		return Result{}, fmt.Errorf("scale: open %s store: %w", kindOf(database), err)
	}
	defer st.Close()
	say := func(format string, args ...any) {
		if progress != nil {
			progress(fmt.Sprintf(format, args...))
		}
	}
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	res, err := Fill(ctx, st, s, opts.Workers, progress)
	if err != nil {
		return res, err
	}
	if opts.Probes > 0 {
		say("scale: timing store operations on the filled database (%d each)…", opts.Probes)
		if res.Probes, err = Measure(ctx, st, res, opts.Probes); err != nil {
			return res, err
		}
	}
	if opts.MixedRequests > 0 {
		for _, orgs := range []int{opts.MixedOrgs, 1} {
			say("scale: co-decrypts in %d org(s) from %d clients (in process)…", orgs, opts.MixedClients)
			m, err := MixedLoad(ctx, st, res, orgs, opts.MixedClients, opts.MixedRequests, opts.MixedDuration, opts.Watch)
			if err != nil {
				return res, err
			}
			res.Mixed = append(res.Mixed, m)
		}
	}
	return res, nil
}

func kindOf(database string) string { k, _ := storeopen.Parse(database); return string(k) }

type user struct {
	store.User
	tok store.TokenHash
	raw []byte // the session token itself (store.HashToken(raw) = tok)
}

// Fill writes the shape into st with workers goroutines (SQLite serialises
// them; PostgreSQL runs them side by side). progress, if not nil, gets a
// line now and then.
func Fill(ctx context.Context, st store.Store, s Shape, workers int, progress func(string)) (Result, error) {
	start := time.Now()
	if s.Orgs < 1 || s.Users < 1 || s.MaxMembers < 1 {
		return Result{}, fmt.Errorf("scale: shape needs at least one org and one user: %+v", s)
	}
	workers = max(1, workers)
	say := func(format string, args ...any) {
		if progress != nil {
			progress(fmt.Sprintf(format, args...))
		}
	}
	res := Result{blob: s.BlobBytes}

	// Users first: each is logged in once, with a session kept for the
	// org work below.
	say("scale: %d users…", s.Users)
	users := make([]user, s.Users)
	if err := parallel(ctx, workers, s.Users, func(i int) error {
		u, err := login(ctx, st, fmt.Sprintf("u%07d@scale.example.com", i))
		users[i] = u
		return err
	}, func(done int) { say("scale: %d/%d users", done, s.Users) }); err != nil {
		return res, err
	}
	res.Users = s.Users

	// Orgs: members are the next users in turn (wrapping around: a user
	// may be in several orgs), the owner first.
	sizes := s.OrgSizes()
	firstUser := make([]int, s.Orgs)
	next := 0
	for k, n := range sizes {
		firstUser[k] = next % s.Users
		next += n
	}
	deploysPer := spread(s.Deploys, s.Orgs, func(int) float64 { return 1 })
	auditPer := spread(s.AuditRows, s.Orgs, func(k int) float64 { return float64(sizes[k]) })
	res.OrgIDs = make([]string, s.Orgs)
	res.Owners = make([]store.TokenHash, s.Orgs)
	envIDs := make([]string, s.Orgs)
	var bigProject string
	var members, audit, deploys atomic.Int64
	say("scale: %d orgs (largest %d members)…", s.Orgs, sizes[0])
	err := parallel(ctx, workers, s.Orgs, func(k int) error {
		owner := users[firstUser[k]]
		org := ident.NewID(ident.Org)
		if _, _, err := st.CreateOrg(ctx, owner.tok, store.NewOrg{ID: org, Name: fmt.Sprintf("scale-%d", k), KeyCheck: hex.EncodeToString(random(16))}); err != nil {
			return fmt.Errorf("store.CreateOrg: %w", err)
		}
		res.OrgIDs[k], res.Owners[k] = org, owner.tok
		for j := 1; j < sizes[k]; j++ {
			m := users[(firstUser[k]+j)%s.Users] // distinct: sizes[k] ≤ s.Users
			inv, _, err := st.CreateInvite(ctx, owner.tok, store.NewInvite{ID: ident.NewID(ident.Invite), OrgID: org, Email: m.Email,
				Kind: store.InviteMember, Role: store.RoleMember, ExpiresAt: time.Now().Add(7 * 24 * time.Hour), Blob: random(80)})
			if err != nil {
				return fmt.Errorf("store.CreateInvite: %w", err)
			}
			if _, err := st.Redeem(ctx, m.tok, inv.ID, nil); err != nil {
				return fmt.Errorf("store.Redeem: %w", err)
			}
		}
		members.Add(int64(sizes[k]))
		prj := ident.NewID(ident.Project)
		if _, err := st.CreateProject(ctx, owner.tok, store.NewProject{ID: prj, OrgID: org, Name: "app"}); err != nil {
			return fmt.Errorf("store.CreateProject: %w", err)
		}
		env, err := st.CreateEnv(ctx, owner.tok, store.NewEnv{ID: ident.NewID(ident.Env), OrgID: org, ProjectID: prj, Name: "development", SigningKey: random(32)})
		if err != nil {
			return fmt.Errorf("store.CreateEnv: %w", err)
		}
		envIDs[k] = env.ID
		if k == 0 {
			bigProject = prj
		}
		_, head, err := st.Push(ctx, owner.tok, env.ID, version(1, env.Epoch, store.FirstParent, s.BlobBytes))
		if err != nil {
			return fmt.Errorf("store.Push: %w", err)
		}
		for range deploysPer[k] {
			sum := sha256.Sum256(random(32))
			_, head, err = st.CreateDeploy(ctx, owner.tok, store.NewDeploy{ID: ident.NewID(ident.Deploy), OrgID: org, EnvID: env.ID,
				Name: "ci", Epoch: env.Epoch, Verifier: sum[:], Blob: random(64)})
			if err != nil {
				return fmt.Errorf("store.CreateDeploy: %w", err)
			}
			deploys.Add(1)
		}
		for head.Seq < int64(auditPer[k]) {
			if head, err = st.RecordEvent(ctx, owner.tok, org, store.ClientEvent{Action: store.ActionRecover, From: store.RecoverFromPhrase}); err != nil {
				return fmt.Errorf("store.RecordEvent: %w", err)
			}
		}
		audit.Add(head.Seq)
		return nil
	}, func(done int) { say("scale: %d/%d orgs", done, s.Orgs) })
	if err != nil {
		return res, err
	}
	res.Orgs, res.Members, res.Deploys = s.Orgs, int(members.Load()), int(deploys.Load())
	res.BigOrg, res.BigProject, res.BigEnv = res.OrgIDs[0], bigProject, envIDs[0]
	res.BigOwnerSession = users[firstUser[0]].raw

	// The long history: the largest org's environment, pushed by its owner
	// (version 1 is there already).
	say("scale: %d versions of one environment…", s.Versions)
	owner := res.Owners[0]
	e, err := st.GetEnv(ctx, owner, res.BigEnv)
	if err != nil {
		return res, fmt.Errorf("store.GetEnv: %w", err)
	}
	parent, n := e.HeadID, e.HeadVersion
	for n < int64(s.Versions) {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		v, _, err := st.Push(ctx, owner, res.BigEnv, version(n+1, e.Epoch, parent, s.BlobBytes))
		if err != nil {
			return res, fmt.Errorf("store.Push %d: %w", n+1, err)
		}
		parent, n = v.ID, v.Version
		audit.Add(1)
		if n%10000 == 0 {
			say("scale: %d/%d versions", n, s.Versions)
		}
	}
	res.Versions = int(n)
	res.AuditRows = int(audit.Load())
	res.Elapsed = time.Since(start)
	say("scale: done in %s: %d orgs, %d users, %d memberships, %d audit rows, %d versions, %d deploy tokens",
		res.Elapsed.Round(time.Second), res.Orgs, res.Users, res.Members, res.AuditRows, res.Versions, res.Deploys)
	return res, nil
}

// login makes a user through the login-code flow and opens a session.
func login(ctx context.Context, st store.Store, email string) (user, error) {
	code := fmt.Sprintf("%08d", binary.BigEndian.Uint32(random(4))%100000000)
	if _, err := st.CreateLoginCode(ctx, email, code, 0); err != nil {
		return user{}, fmt.Errorf("store.CreateLoginCode: %w", err)
	}
	u, err := st.VerifyLoginCode(ctx, email, code)
	if err != nil {
		return user{}, fmt.Errorf("store.VerifyLoginCode: %w", err)
	}
	raw := random(32)
	tok := store.HashToken(raw)
	if _, err := st.CreateSession(ctx, u.ID, tok, "scale"); err != nil {
		return user{}, fmt.Errorf("store.CreateSession: %w", err)
	}
	return user{u, tok, raw}, nil
}

// version is a NewVersion of size bytes after parent.
func version(n, epoch int64, parent string, size int) store.NewVersion {
	b := fmt.Appendf(nil, "capy-blob 1\nmanifest %d %d %s scale\n", epoch, n, parent)
	for len(b) < size {
		b = append(b, hex.EncodeToString(random(32))...)
	}
	sum := sha256.Sum256(b)
	return store.NewVersion{Version: n, Epoch: epoch, ID: hex.EncodeToString(sum[:]), ParentID: parent, Blob: b}
}

// spread divides total over n slots in proportion to weight (rounded, the
// remainder to the first slots).
func spread(total, n int, weight func(int) float64) []int {
	out := make([]int, n)
	var sum float64
	for k := range n {
		sum += weight(k)
	}
	given := 0
	for k := range n {
		out[k] = int(float64(total) * weight(k) / sum)
		given += out[k]
	}
	for k := 0; given < total; k = (k + 1) % n {
		out[k]++
		given++
	}
	return out
}

// parallel runs fn(0..n-1) on workers goroutines; the first error stops
// the rest. tick is called every 1,000 items done.
func parallel(ctx context.Context, workers, n int, fn func(int) error, tick func(int)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next, done atomic.Int64
		once       sync.Once
		first      error
		wg         sync.WaitGroup
	)
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
				if d := done.Add(1); d%1000 == 0 && tick != nil {
					tick(int(d))
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return fmt.Errorf("scale: %w", first)
	}
	return ctx.Err()
}

func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
