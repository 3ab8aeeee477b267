package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/capy-oss/capy/internal/auditchain"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/store"
)

// The decryption gate (AuthorizeCoDecrypt, Wrap) with group commit.
//
// Every co-decrypt appends a row to its org's audit chain, so all
// co-decrypts of one org serialise on the chain's head, and each one used
// to hold that lock across its own round trips and its own WAL flush.
// Concurrent co-decrypts of one org are therefore gathered into one
// transaction (docs/storage.md, "Group commit of the gate"): each request
// is checked on its own (session, membership locked against a kick), the
// rows of those let through are appended in one statement, and the
// transaction commits once. Every request still gets its answer only after
// the transaction holding its own row has committed, and a request refused
// inside a batch changes nothing but its own denied row, exactly as alone.

// maxGateBatch bounds one group commit: 9 parameters a row keeps a batch's
// INSERT far below SQLite's and PostgreSQL's parameter limits.
const maxGateBatch = 128

// gateBatchTimeout bounds one group-commit transaction. A batch serves
// several requests, so it does not run under any one request's context.
const gateBatchTimeout = 30 * time.Second

// gateReq is one request waiting for the gate.
type gateReq struct {
	ctx    context.Context // the request's: hooks, and whether it still waits
	tok    store.TokenHash
	userID string // the subject; "" for CoDecrypt: the session's user
	action string
	admit  func(userID string) error // CoDecrypt's last check, or nil

	// admit's verdict, kept across attempts: a retried transaction does
	// not charge the caller's rate limit again.
	admitted bool
	admitErr error

	// Results, written by the batch before done is closed.
	g    store.Grant
	err  error
	done chan struct{}

	// Per-attempt state (reset when the transaction is retried).
	subject string        // userID, or the session's user
	sess    store.Session // when live
	m       store.Member
	grace   time.Duration // the org's offline grace, read with m
	target  string
	skipped bool // refused before the audit phase; err says why
	denied  bool // a revoked member: a throttled denied row, then ErrMembershipRevoked
}

// gateQueues holds, per org, the requests waiting for the next batch.
type gateQueues struct {
	mu   sync.Mutex
	orgs map[string]*gateQueue
}

type gateQueue struct {
	pending []*gateReq
	running bool // a drainer runs for this org
}

// AuthorizeCoDecrypt implements store.Store.
func (s *Store) AuthorizeCoDecrypt(ctx context.Context, tok store.TokenHash, orgID, userID string) (store.Grant, error) {
	if err := checkGateIDs(orgID, userID); err != nil {
		return store.Grant{}, err
	}
	r := &gateReq{ctx: ctx, tok: tok, userID: userID, action: store.ActionCoDecrypt, done: make(chan struct{})}
	if err := s.awaitGate(ctx, orgID, r); err != nil {
		return store.Grant{}, err
	}
	return r.g, r.err
}

// awaitGate queues r for its org's next group and waits for its answer.
// If no drainer runs for the org, this goroutine runs the groups itself
// until r is answered: a lone request then pays no hand-off to a drainer
// and back. The group holding r runs to its end (it serves the others
// too, under gateBatchTimeout) even if ctx is cancelled meanwhile. A
// request still queued behind another drainer's group returns ctx's error
// when ctx ends; that group may still record its row, but the inner blob
// never leaves, which is the safe side.
func (s *Store) awaitGate(ctx context.Context, orgID string, r *gateReq) error {
	if oq := s.enqueueGate(orgID, r); oq != nil {
		s.drainGate(orgID, oq, r)
	}
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// CoDecrypt implements store.Store.
func (s *Store) CoDecrypt(ctx context.Context, tok store.TokenHash, orgID string, admit func(userID string) error) (store.Grant, error) {
	if err := checkID(ident.Org, orgID); err != nil {
		return store.Grant{}, err
	}
	r := &gateReq{ctx: ctx, tok: tok, action: store.ActionCoDecrypt, admit: admit, done: make(chan struct{})}
	if err := s.awaitGate(ctx, orgID, r); err != nil {
		return store.Grant{}, err
	}
	g, err := r.g, r.err
	if err != nil && !isRequestError(err) {
		return g, err // the group failed
	}
	var ae admitError
	if errors.As(err, &ae) {
		err = ae.err
	}
	if r.sess.UserID == "" {
		return g, err
	}
	g.UserID = r.sess.UserID
	// The batch does not record the session's last use (it would lock the
	// session row after the memberships); the caller's goroutine does it
	// here, when due, as AuthorizeOrg does for the other routes. Best
	// effort: the answer is decided and its row committed, and a failure
	// here only leaves the use for the next request to record.
	if now := s.now(); s.touchDue(r.sess, now) {
		_ = s.touch(context.WithoutCancel(ctx), r.sess.ID, now)
	}
	return g, err
}

// Wrap implements store.Store. Wraps are rare (one per enrolment), so they
// run as a batch of one.
func (s *Store) Wrap(ctx context.Context, tok store.TokenHash, orgID, userID string) (store.Grant, error) {
	if err := checkGateIDs(orgID, userID); err != nil {
		return store.Grant{}, err
	}
	r := &gateReq{ctx: ctx, tok: tok, userID: userID, action: store.ActionWrap}
	if err := s.gateBatch(ctx, orgID, []*gateReq{r}); err != nil {
		return store.Grant{}, err
	}
	return r.g, r.err
}

func checkGateIDs(orgID, userID string) error {
	if err := checkID(ident.Org, orgID); err != nil {
		return err
	}
	return checkID(ident.User, userID)
}

// enqueueGate adds r to its org's queue. If no drainer runs for the org,
// the caller becomes it: enqueueGate returns the queue, and the caller
// must run drainGate on it.
func (s *Store) enqueueGate(orgID string, r *gateReq) *gateQueue {
	q := &s.gates
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.orgs == nil {
		q.orgs = map[string]*gateQueue{}
	}
	oq := q.orgs[orgID]
	if oq == nil {
		oq = &gateQueue{}
		q.orgs[orgID] = oq
	}
	oq.pending = append(oq.pending, r)
	if oq.running {
		return nil
	}
	oq.running = true
	return oq
}

// drainGate runs batches for one org until its queue is empty. Requests
// that arrive while a batch runs form the next batch, so the batch size
// follows the load: one request at a time when idle, many under load.
// When own is set (the drainer is own's request goroutine), it stops once
// own is answered and leaves what still waits to a new goroutine.
func (s *Store) drainGate(orgID string, oq *gateQueue, own *gateReq) {
	q := &s.gates
	for {
		q.mu.Lock()
		if len(oq.pending) == 0 {
			delete(q.orgs, orgID)
			q.mu.Unlock()
			return
		}
		if own != nil && own.answered() {
			q.mu.Unlock()
			go s.drainGate(orgID, oq, nil)
			return
		}
		n := min(len(oq.pending), maxGateBatch)
		batch := make([]*gateReq, 0, n)
		for _, r := range oq.pending[:n] {
			// A request whose caller has gone is dropped before it can
			// leave a row.
			if err := r.ctx.Err(); err != nil {
				r.err = err
				close(r.done)
				continue
			}
			batch = append(batch, r)
		}
		oq.pending = append(oq.pending[:0], oq.pending[n:]...)
		q.mu.Unlock()
		if len(batch) == 0 {
			continue
		}
		if own != nil && own.answered() {
			// own was dropped (its caller gave up): its goroutine does not
			// run the others' batch.
			go func() {
				s.answerBatch(orgID, batch)
				s.drainGate(orgID, oq, nil)
			}()
			return
		}
		s.answerBatch(orgID, batch)
	}
}

// answerBatch runs one batch and answers each of its requests.
func (s *Store) answerBatch(orgID string, batch []*gateReq) {
	err := s.runGateBatch(orgID, batch)
	for _, r := range batch {
		if err != nil {
			r.g, r.err = store.Grant{}, err
		}
		close(r.done)
	}
}

// answered reports whether r's batch is over.
func (r *gateReq) answered() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// runGateBatch runs one batch under its own deadline. A panic fails the
// batch (its requests get an error, nothing was committed) instead of
// taking capyd down with every other org's waiting requests, and the
// drainer goes on with the next batch.
func (s *Store) runGateBatch(orgID string, batch []*gateReq) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("sqlstore: co-decrypt batch of org %s: panic: %v", orgID, r)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), gateBatchTimeout)
	defer cancel()
	return s.gateBatch(ctx, orgID, batch)
}

// gateBatch runs the gate for reqs, all for orgID, in one write
// transaction. Each request's own outcome is left in r.g and r.err; the
// returned error is the transaction's (then no request was let through).
//
// Locks are taken in the store's order: every membership first (FOR
// SHARE), then the audit head, last.
func (s *Store) gateBatch(ctx context.Context, orgID string, reqs []*gateReq) error {
	now := s.now()
	return s.db.Write(ctx, func(tx Tx) error {
		found, err := s.gateLookup(ctx, tx, orgID, reqs)
		if err != nil {
			return err
		}
		for _, r := range reqs {
			r.g, r.err, r.skipped, r.denied = store.Grant{}, nil, false, false
			r.subject, r.target, r.sess = r.userID, r.userID, store.Session{}
			row, ok := found[r.tok]
			if err := s.gateCheck(ctx, tx, orgID, r, row, ok, now); err != nil {
				if isRequestError(err) {
					r.err, r.skipped = err, true
					continue
				}
				return err
			}
		}
		// Denied rows first, each through the throttle (which reads and
		// extends the head itself), then one append for the granted.
		for _, r := range reqs {
			if !r.skipped && r.denied {
				if err := s.auditDenied(ctx, tx, orgID, r.subject, r.action, r.subject); err != nil {
					return err
				}
				r.err = store.ErrMembershipRevoked
			}
		}
		var ok []*gateReq
		for _, r := range reqs {
			if !r.skipped && !r.denied {
				ok = append(ok, r)
			}
		}
		if len(ok) == 0 {
			return nil
		}
		rows := make([]auditRow, len(ok))
		for i, r := range ok {
			rows[i] = auditRow{actor: r.subject, action: r.action, target: r.target, result: store.ResultOK}
		}
		heads, err := s.auditMany(ctx, tx, orgID, rows)
		if err != nil {
			return err
		}
		for i, r := range ok {
			r.g = store.Grant{UserID: r.subject, Email: r.m.Email, Role: r.m.Role, Audit: heads[i], OfflineGrace: r.grace}
		}
		return nil
	})
}

// gateRow is what the batch's one lookup found for a token: the session
// and the caller's membership of the org, locked against a kick.
type gateRow struct {
	sess  store.Session
	m     store.Member
	grace time.Duration // the org's offline grace
}

// gateLookup reads, in one statement, the session and the membership of
// the org for every token of the batch, locking the memberships (FOR
// SHARE) against a concurrent kick and the sessions (FOR KEY SHARE)
// against a concurrent revocation, as authed does. A token missing from the result has no
// session or no membership; gateCheck finds out which.
func (s *Store) gateLookup(ctx context.Context, tx Tx, orgID string, reqs []*gateReq) (map[store.TokenHash]gateRow, error) {
	args := make([]any, 0, 1+len(reqs))
	args = append(args, orgID)
	var in string
	if s.d.BatchSQL {
		// One array parameter: one statement text for every group size.
		toks := make([][]byte, len(reqs))
		for i, r := range reqs {
			toks[i] = r.tok[:]
		}
		in, args = `= ANY($2)`, append(args, toks)
	} else {
		// The list is padded to a power of two with the last token again
		// (IN ignores the repeat): at most 8 texts for the statement
		// cache, not one per group size.
		var b strings.Builder
		for i := range pow2(len(reqs)) {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "$%d", i+2)
			args = append(args, reqs[min(i, len(reqs)-1)].tok[:])
		}
		in = `IN (` + b.String() + `)`
	}
	rows, err := tx.Query(ctx, `SELECT s.token_hash, `+sessionCols+`, `+memberCols+`, o.offline_grace_seconds`+sessionFrom+`
		JOIN memberships m ON m.org_id = $1 AND m.user_id = s.user_id
		JOIN orgs o ON o.id = m.org_id
		WHERE s.token_hash `+in+s.forShare("m")+s.forKeyShare("s"), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	found := make(map[store.TokenHash]gateRow, len(reqs))
	for rows.Next() {
		var (
			tok   []byte
			sr    sessionRow
			m     store.Member
			mt    [4]Time
			grace time.Duration
		)
		dest := append(append([]any{&tok}, sr.dest()...), memberDest(&m, &mt)...)
		if err := rows.Scan(append(dest, seconds{&grace})...); err != nil {
			return nil, err
		}
		x := sr.session(s)
		memberTimes(&m, &mt)
		var th store.TokenHash
		if len(tok) != len(th) {
			return nil, fmt.Errorf("sqlstore: stored token hash of %d bytes", len(tok))
		}
		copy(th[:], tok)
		found[th] = gateRow{sess: x, m: m, grace: grace}
	}
	return found, rows.Err()
}

// gateCheck checks one request inside the batch transaction: session
// (touched when due), subject, membership (row from gateLookup, or read
// here when the lookup found none, to tell why), and for a wrap the invites
// it consumes. Errors that concern only this request are returned as they
// are; isRequestError tells them apart.
func (s *Store) gateCheck(ctx context.Context, tx Tx, orgID string, r *gateReq, row gateRow, found bool, now time.Time) error {
	sess, m := row.sess, row.m
	r.grace = row.grace
	if found {
		if !s.live(sess, now) {
			return store.ErrSessionExpired
		}
	} else {
		var err error
		if sess, err = s.session(ctx, tx, r.tok, now, ""); err != nil {
			return err
		}
	}
	// The session's last use is not recorded here: the route's
	// AuthorizeOrg did that before the body was read (CoDecrypt does it
	// after the batch), and a write here would lock the session row after
	// the memberships (against the lock order) and survive a refusal.
	r.sess = sess
	if r.subject == "" {
		r.subject, r.target = sess.UserID, sess.UserID
	}
	if sess.UserID != r.subject {
		return store.ErrForbidden
	}
	if !found {
		var err error
		if m, err = s.member(ctx, tx, orgID, r.subject, s.forShare("m")); err != nil {
			return notFoundAs(err, store.ErrNotMember)
		}
	}
	r.m = m
	if r.action == store.ActionCoDecrypt {
		store.RunHook(r.ctx, store.HookCoDecryptLocked)
	}
	if m.Status != store.StatusActive {
		if r.action != store.ActionCoDecrypt {
			return store.ErrMembershipRevoked
		}
		// A revoked member's attempt is recorded (throttled): it is the
		// one change a refusal makes.
		r.denied = true
		return nil
	}
	if r.admit != nil {
		if !r.admitted {
			r.admitErr, r.admitted = runAdmit(r.admit, r.subject), true
		}
		if r.admitErr != nil {
			return admitError{r.admitErr}
		}
	}
	if r.action == store.ActionWrap {
		consumed, err := ids(ctx, tx, `
			UPDATE invites SET consumed_at = $3
			WHERE org_id = $1 AND email = $2 AND redeemed_at IS NOT NULL
			  AND consumed_at IS NULL AND revoked_at IS NULL
			RETURNING id`, orgID, m.Email, now)
		if err != nil {
			return err
		}
		if len(consumed) > 0 {
			sort.Strings(consumed)
			r.target += " consumed=" + strings.Join(consumed, ",")
		}
	}
	return nil
}

// isRequestError reports whether err refuses one request of a batch
// without touching the others: an invalid, expired or foreign session, or
// no (active) membership. Anything else fails the whole transaction.
func isRequestError(err error) bool {
	var ae admitError
	if errors.As(err, &ae) {
		return true
	}
	for _, e := range []error{store.ErrUnauthenticated, store.ErrSessionExpired, store.ErrForbidden, store.ErrNotMember, store.ErrMembershipRevoked} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// runAdmit calls admit; a panic in it refuses this request alone instead
// of failing the whole group.
func runAdmit(admit func(string) error, userID string) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("sqlstore: co-decrypt admit: panic: %v", p)
		}
	}()
	return admit(userID)
}

// admitError carries a refusal by CoDecrypt's admit function, which
// concerns that request alone.
type admitError struct{ err error }

func (e admitError) Error() string { return e.err.Error() }
func (e admitError) Unwrap() error { return e.err }

// auditRow is one event to append.
type auditRow struct {
	actor, action, target, result string
}

// auditMany appends rows to the org's chain inside tx, in order, with one
// INSERT, and returns the head after each row. Like audit, it takes the
// head lock last and reads the time after it.
func (s *Store) auditMany(ctx context.Context, tx Tx, orgID string, rows []auditRow) ([]store.AuditHead, error) {
	var (
		seq  int64
		prev string
	)
	err := tx.QueryRow(ctx, `SELECT seq, hash FROM audit_heads WHERE org_id = $1`+s.forUpdate("audit_heads"), orgID).Scan(&seq, &prev)
	if err != nil {
		return nil, fmt.Errorf("audit head of %s: %w", orgID, err)
	}
	at := s.now()
	heads := make([]store.AuditHead, len(rows))
	evs := make([]auditchain.Event, len(rows))
	prevs := make([]string, len(rows))
	for i, r := range rows {
		e := auditchain.Event{Seq: seq + 1, Time: at, Actor: r.actor, Action: r.action, Target: r.target, Result: r.result}
		if err := e.Check(); err != nil {
			return nil, err
		}
		evs[i], prevs[i] = e, prev
		seq, prev = e.Seq, auditchain.Hash(prev, e)
		heads[i] = store.AuditHead{OrgID: orgID, Seq: seq, Hash: prev}
	}
	if s.d.BatchSQL {
		return heads, s.appendAuditArrays(ctx, tx, orgID, at, evs, prevs, heads)
	}
	// Rows go in chunks whose sizes are powers of two (13 rows: 8, 4, 1):
	// at most 8 texts for the statement cache, not one per group size.
	for i := 0; i < len(evs); {
		k := pow2(len(evs)-i+1) / 2
		args := make([]any, 0, 9*k)
		var q strings.Builder
		q.WriteString(`INSERT INTO audit_events (org_id, seq, at, actor, action, target, result, prev_hash, hash) VALUES `)
		for j, e := range evs[i : i+k] {
			if j > 0 {
				q.WriteString(", ")
			}
			n := len(args)
			fmt.Fprintf(&q, "($%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8, n+9)
			args = append(args, orgID, e.Seq, auditchain.FormatTime(e.Time), e.Actor, e.Action, e.Target, e.Result, prevs[i+j], heads[i+j].Hash)
		}
		if _, err := tx.Exec(ctx, q.String(), args...); err != nil {
			return nil, err
		}
		i += k
	}
	if _, err := tx.Exec(ctx, `UPDATE audit_heads SET seq = $2, hash = $3 WHERE org_id = $1`, orgID, seq, prev); err != nil {
		return nil, err
	}
	return heads, nil
}

// appendAuditArrays appends the rows and moves the head in one statement
// whose text does not depend on the number of rows: one round trip while
// the head is locked, and a statement prepared once per connection. The
// INSERT in WITH runs exactly once, whole, although the UPDATE does not
// read its output.
func (s *Store) appendAuditArrays(ctx context.Context, tx Tx, orgID string, at time.Time, evs []auditchain.Event, prevs []string, heads []store.AuditHead) error {
	n := len(evs)
	var (
		seqs                                  = make([]int64, n)
		actors, actions, targets, results, hs = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	)
	for i, e := range evs {
		seqs[i], actors[i], actions[i], targets[i], results[i], hs[i] = e.Seq, e.Actor, e.Action, e.Target, e.Result, heads[i].Hash
	}
	last := heads[n-1]
	_, err := tx.Exec(ctx, `
		WITH appended AS (
			INSERT INTO audit_events (org_id, seq, at, actor, action, target, result, prev_hash, hash)
			SELECT $1, r.seq, $2, r.actor, r.action, r.target, r.result, r.prev_hash, r.hash
			FROM unnest($3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
				AS r (seq, actor, action, target, result, prev_hash, hash))
		UPDATE audit_heads SET seq = $10, hash = $11 WHERE org_id = $1`,
		orgID, auditchain.FormatTime(at), seqs, actors, actions, targets, results, prevs, hs, last.Seq, last.Hash)
	return err
}

// pow2 returns the least power of two ≥ n (n ≥ 1).
func pow2(n int) int {
	p := 1
	for p < n {
		p *= 2
	}
	return p
}
