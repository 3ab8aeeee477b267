package envsync

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/capy-oss/capy/internal/envfile"
	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/wrap"
)

// RemoteBlob is a version as the service serves it.
type RemoteBlob struct {
	Version uint64
	Text    string
}

// Remote is what sync needs from the service for one environment.
type Remote interface {
	// Head returns the head, or nil before the first push.
	Head(ctx context.Context) (*RemoteBlob, error)
	// Version returns one stored version.
	Version(ctx context.Context, v uint64) (*RemoteBlob, error)
	// Push sends the next version; a stale head must give an error for
	// which errors.Is(err, ErrVersionConflict) holds.
	Push(ctx context.Context, text string) error
}

// ErrVersionConflict is what a Remote returns when someone pushed first.
var ErrVersionConflict = errors.New("the environment changed on the service while syncing")

// errLocalChanged means the local file changed between the sync's read and
// its rewrite (a concurrent `capy set` in the same checkout, an editor
// saving): replacing it would drop that change, so the sync starts over
// from the new content, like after a push conflict.
var errLocalChanged = errors.New("the local file changed while syncing")

// EnvKeys gives the keys of one environment at any epoch. Members derive
// them from PK; a CI runner has one epoch's EK and no signer.
type EnvKeys interface {
	Cipher(epoch uint32) (*keys.EnvCipher, error)
	PublicKey(epoch uint32) (ed25519.PublicKey, error)
	// Signer returns the signing key, or an error for read-only holders.
	Signer(epoch uint32) (ed25519.PrivateKey, error)
}

// ErrReplacement means a local file that changed outside capy would
// delete names on the service (or drop every snippet) and nobody agreed.
var ErrReplacement = errors.New("the local file no longer looks like what capy wrote")

// ErrConflicts is wrapped by the error Sync returns when both sides
// changed names differently; nothing was changed.
var ErrConflicts = errors.New("conflicting changes")

// ConflictError lists conflicting names.
type ConflictError struct{ Conflicts []Conflict }

// Error lists the conflicting names and what each side did.
func (e *ConflictError) Error() string {
	names := make([]string, len(e.Conflicts))
	for i, c := range e.Conflicts {
		names[i] = fmt.Sprintf("%s (local %s, remote %s)", c.Name, c.Local, c.Remote)
	}
	return "conflicting changes to " + strings.Join(names, ", ")
}

// Unwrap makes errors.Is(err, ErrConflicts) hold.
func (e *ConflictError) Unwrap() error { return ErrConflicts }

// File is an environment's .env file as Sync (and ReadLocal) reads and
// rewrites it. The CLI's is workspace.File, which refuses a symbolic link
// anywhere between the repository root and the file, a path that leaves
// the repository, anything but a regular file and a file larger than a
// blob can be, before reading or writing a byte: a file that is a link to
// another project's .env would otherwise be read, merged and pushed.
type File interface {
	// ReadFile returns the file's content; a missing file gives an error
	// matching fs.ErrNotExist. Its errors name the file.
	ReadFile() ([]byte, error)
	// WriteFileIf replaces the file atomically, running check (if not
	// nil) just before the rename and giving up with its error
	// (envfile.WriteFileAtomicIf).
	WriteFileIf(data []byte, check func() error) error
	// String names the file in messages.
	String() string
}

// Env is everything Sync needs to know about the environment it syncs.
type Env struct {
	ProjectID, EnvID string
	File             File   // the .env file
	PinnedEpoch      uint32 // from project.json
	State            State  // from state.json
}

// State is the environment's local sync record (state.json).
type State struct {
	Epoch       uint32 // epoch of the snippets in the local file
	BaseVersion uint64
	BaseID      string
	SeenVersion uint64
	SeenID      string
}

// Replacement lists what a local file that changed outside capy would do
// to the service: the names it would delete and change there (names only).
type Replacement struct {
	Removed, Changed, Added []string
	NoSnippets              bool // the file holds values but no snippet at all
	CopiedSnippets          bool // a changed value is a snippet capy did not write for this change

	// Sealed names the values a contributor sealed (capy encrypt).
	Sealed []string
}

// Options tune a sync.
type Options struct {
	Prefer Prefer
	DryRun bool
	// CheckReplacement says the local file changed since capy last wrote
	// it (git may have checked out a branch that carries one). If it would
	// then remove names from the service, or holds no snippet at all
	// while the base had values, Confirm decides (nil: refuse with
	// ErrReplacement); nothing is pushed or written before it agrees.
	CheckReplacement bool
	Confirm          func(Replacement) error
	// ConfirmPush, when set, decides whether a push that changes names
	// on the service may go (the first sync of a checkout: an existing
	// .env may hold a personal value); an error stops the sync before
	// anything is pushed or written. A dry run never asks.
	ConfirmPush func(PushNames) error
	// OwnEdits are names the command itself just set or removed in the
	// file (`capy set`, `unset`, `import`): not counted as what the
	// outside change did.
	OwnEdits map[string]bool
	// BeforeRename runs right before the rewritten file replaces the old
	// one, with its bytes and the state the sync will record: the caller
	// notes its intent, so that a crash between the rename and the state
	// write can be recovered (the file is newer than state.json says).
	BeforeRename func(data []byte, st State) error
	MaxRetries   int                         // push conflicts retried; default 30
	Backoff      func(try int) time.Duration // default: jittered, ≤ 1 s
}

// Report says what a sync did.
type Report struct {
	Pushed        bool
	Version       uint64 // the environment's head after the sync (0 if none); a dry run's would-be head
	HeadVersion   uint64 // the service's head this sync read (0 if none)
	HeadID        string
	Epoch         uint32
	FileChanged   bool
	Added         []string  // names new in the local file
	Updated       []string  // names whose value changed in the local file
	Removed       []string  // names removed from the local file
	Adopted       []string  // names whose sealed value (a contributor's) became a snippet
	PushedChanges int       // names changed on the service
	Push          PushNames // which names the push changed (or would change)
	Retries       int
	State         State // the new state to record
	// File is the local file's content after the sync: what it rewrote,
	// or what it read when it left the file as it was (nil: no file).
	File []byte

	// pushedLocal is the local side this attempt merged and pushed: the
	// base of a retry after the file changed under it (see Sync).
	pushedLocal *Side
}

// Sync runs one sync of an environment (DESIGN §3): pull and verify the
// head, decrypt, three-way merge with the local file, push a signed new
// version if the service lacks something, rewrite the file atomically.
// Conflicts return a *ConflictError and change nothing. A push conflict,
// or a local file that changed while syncing, starts the sync over (at
// most MaxRetries times).
func Sync(ctx context.Context, remote Remote, kr EnvKeys, env Env, opt Options) (*Report, error) {
	if opt.MaxRetries == 0 {
		opt.MaxRetries = 30
	}
	if opt.Backoff == nil {
		opt.Backoff = func(try int) time.Duration {
			d := time.Duration(20*(1<<min(try, 5))) * time.Millisecond
			return d/2 + time.Duration(rand.Int64N(int64(d)))
		}
	}
	// Pushes made by attempts that then found the local file changed: the
	// service has them, so the final report counts them.
	pushed, pushedChanges := false, 0
	var pushedNames PushNames
	if ask := opt.ConfirmPush; ask != nil {
		// A retry (a push conflict, a file changed meanwhile) asks again
		// only for names the person has not agreed to yet.
		agreed := map[string]bool{}
		opt.ConfirmPush = func(n PushNames) error {
			if n.Without(agreed).Len() == 0 {
				return nil
			}
			if err := ask(n); err != nil {
				return err
			}
			for _, l := range [][]string{n.Added, n.Changed, n.Removed} {
				for _, x := range l {
					agreed[x] = true
				}
			}
			return nil
		}
	}
	var base *Side // set after an attempt pushed: see below
	for try := 0; ; try++ {
		rep, err := syncOnce(ctx, remote, kr, env, base, opt)
		if errors.Is(err, errLocalChanged) && rep != nil {
			pushed, pushedChanges = pushed || rep.Pushed, pushedChanges+rep.PushedChanges
			if rep.Pushed {
				pushedNames = pushedNames.union(rep.Push)
			}
			if rep.Pushed {
				// The push is on the service, so it is what the next
				// attempt verifies against (base = pushed version). The
				// file was not rewritten, though: its values are still
				// the local side this attempt read, so that side is the
				// merge base. Merged against the old base instead, the
				// member's own pushed edit would conflict with their next
				// edit of the same name, or be dropped under --prefer
				// remote; against the pushed version, every remote change
				// the file lacks would look like a local revert.
				env.State, base = rep.State, rep.pushedLocal
			}
		}
		if (errors.Is(err, ErrVersionConflict) || errors.Is(err, errLocalChanged)) && try < opt.MaxRetries {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(opt.Backoff(try)):
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		rep.Retries = try
		rep.Pushed = rep.Pushed || pushed
		rep.PushedChanges += pushedChanges
		if pushedNames.Len() > 0 {
			rep.Push = rep.Push.union(pushedNames)
		}
		return rep, nil
	}
}

// LocalFile is the parsed local .env with its decrypted values.
type LocalFile struct {
	Doc       *envfile.Document
	Raw       []byte
	Exists    bool
	Side      Side
	Plaintext []string        // names whose value is still plaintext in the file
	Sealed    []string        // names whose value is a sealed value (a contributor's), opened
	entries   []envfile.Entry // Doc.Entries() as read
}

// ReadLocal reads and decrypts the local file with the cipher of epoch.
// A missing file is an empty environment.
func ReadLocal(file File, c *keys.EnvCipher) (*LocalFile, error) {
	return ParseFile(file).Open(c)
}

// ParsedFile is a .env file read and parsed, its values not yet opened:
// the part of ReadLocal that needs no key, which a member's command does
// while the unlock's round trip is in flight (ParseEnv).
type ParsedFile struct {
	path    string
	raw     []byte
	exists  bool
	doc     *envfile.Document
	err     error // of the read or the parse, returned by Open
	entries []envfile.Entry
}

// ParseFile reads and parses file; any error comes out of Open.
func ParseFile(file File) ParsedFile {
	pf := ParsedFile{path: file.String()}
	raw, err := file.ReadFile()
	if errors.Is(err, fs.ErrNotExist) {
		pf.doc, _ = envfile.Parse(nil)
		return pf
	}
	if err != nil {
		pf.err = err // it names the file
		return pf
	}
	pf.raw, pf.exists = raw, true
	if pf.doc, err = envfile.Parse(raw); err != nil {
		pf.err = fmt.Errorf("%s: %w", pf.path, err)
		return pf
	}
	pf.entries = pf.doc.Entries()
	return pf
}

// Open decrypts the parsed file's values with c.
func (pf ParsedFile) Open(c *keys.EnvCipher) (*LocalFile, error) {
	if pf.err != nil {
		return nil, pf.err
	}
	lf := &LocalFile{Side: NewSide(), Doc: pf.doc}
	if !pf.exists {
		return lf, nil
	}
	path := pf.path
	lf.Raw, lf.Exists = pf.raw, true
	entries := pf.entries
	lf.entries = entries
	lf.Side = newSideSize(len(entries))
	opened, serr := openSealedEntries(entries, c)
	if serr != nil {
		return nil, fmt.Errorf("%s line %d: %s: %w", path, serr.entry.Line, serr.entry.Name, explainSealed(serr.err))
	}
	snippets, oerr := openSnippets(entries, opened, c)
	if oerr != nil {
		e := oerr.entry
		return nil, fmt.Errorf("%s line %d: %s: %w", path, e.Line, e.Name, explainOpen(oerr.err, c))
	}
	for i, e := range entries {
		if v, ok := opened[i]; ok {
			// A contributor's value (protocol.md §14): opened here, it is
			// a local change like a typed one, which the sync seals as a
			// snippet and pushes (adoption). Literal: a contributor's
			// text is never expanded.
			lf.Side.Set(e.Name, Value{Text: v, Literal: true}, "")
			lf.Sealed = append(lf.Sealed, e.Name)
			continue
		}
		if !wrap.IsSnippet(e.Value) {
			lf.Side.Set(e.Name, Value{Text: e.Value, Literal: e.Literal}, "")
			lf.Plaintext = append(lf.Plaintext, e.Name)
			continue
		}
		v := snippets[i]
		lf.Side.Set(e.Name, Value{Text: v.text, Literal: v.literal}, e.Value)
	}
	return lf, nil
}

// openedSnippet is one snippet's value.
type openedSnippet struct {
	text    string
	literal bool
}

// parallelSnippets is the number of snippets from which they are opened
// on several cores (forRuns): below it, starting the goroutines costs
// more than it saves (one opening is ~1.5 µs).
const parallelSnippets = 512

// forRuns calls open(c, j) for every j < n: in order, or, when n is at
// least parallelSnippets, in contiguous runs, one per core, each with its
// own copy of c (keys.EnvCipher.ForWorker). A run stops at its first
// error; the error returned is the one at the smallest j, as a loop in
// order would return, with that j.
func forRuns(n int, c *keys.EnvCipher, open func(c *keys.EnvCipher, j int) error) (int, error) {
	errs := make([]error, n)
	run := func(c *keys.EnvCipher, from, to int) {
		for j := from; j < to; j++ {
			if errs[j] = open(c, j); errs[j] != nil {
				return
			}
		}
	}
	workers := min(runtime.GOMAXPROCS(0), n/(parallelSnippets/2))
	if n < parallelSnippets || workers < 2 {
		run(c, 0, n)
	} else {
		var wg sync.WaitGroup
		per := (n + workers - 1) / workers
		for from := 0; from < n; from += per {
			wc := c
			if from > 0 {
				wc = c.ForWorker()
			}
			wg.Go(func() { run(wc, from, min(from+per, n)) })
		}
		wg.Wait()
	}
	for j, err := range errs {
		if err != nil {
			return j, err
		}
	}
	return -1, nil
}

// openSnippets opens every snippet among entries (skipping the sealed
// ones, already opened) with forRuns; the values come back by entry
// index, and an error names the first failing entry in file order.
func openSnippets(entries []envfile.Entry, sealed map[int]string, c *keys.EnvCipher) ([]openedSnippet, *sealedError) {
	var idx []int
	for i, e := range entries {
		if _, ok := sealed[i]; !ok && wrap.IsSnippet(e.Value) {
			idx = append(idx, i)
		}
	}
	out := make([]openedSnippet, len(entries))
	j, err := forRuns(len(idx), c, func(c *keys.EnvCipher, j int) error {
		e := entries[idx[j]]
		v, literal, err := c.Open(e.Name, e.Value)
		out[idx[j]] = openedSnippet{v, literal}
		return err
	})
	if err != nil {
		return nil, &sealedError{entry: entries[idx[j]], err: err}
	}
	return out, nil
}

// explainSealed says what to do about a sealed value that does not open.
func explainSealed(err error) error {
	switch {
	case errors.Is(err, keys.ErrSealedRecipient):
		return fmt.Errorf("sealed value is for a recipient no key here opens (another project, or an environment or epoch you do not hold); ask its contributor to run `capy encrypt` again in this repository: %w", err)
	case errors.Is(err, keys.ErrSealedTampered), errors.Is(err, wrap.ErrSealedFormat), errors.Is(err, keys.ErrSealedTooLarge):
		return fmt.Errorf("sealed value cannot be used (ask its contributor to encrypt it again): %w", err)
	}
	return err
}

func explainOpen(err error, c *keys.EnvCipher) error {
	if errors.Is(err, wrap.ErrDecrypt) {
		return fmt.Errorf("snippet does not decrypt with the key of %s epoch %d (copied from another environment, or tampered): %w",
			c.EnvID, c.Epoch, err)
	}
	return err
}

// OpenBlob parses, verifies and decrypts a blob against the checks of
// DESIGN §2.4 and returns its variables (snippets kept).
func OpenBlob(rb *RemoteBlob, kr EnvKeys, check wrap.PullCheck) (*wrap.Blob, Side, error) {
	b, err := wrap.ParseBlob([]byte(rb.Text))
	if err != nil {
		return nil, Side{}, err
	}
	pub, err := kr.PublicKey(b.Epoch)
	if err != nil {
		return nil, Side{}, err
	}
	check.PublicKey = pub
	check.ClaimedVersion = rb.Version
	if err := wrap.VerifyPull(b, check); err != nil {
		return nil, Side{}, err
	}
	c, err := kr.Cipher(b.Epoch)
	if err != nil {
		return nil, Side{}, err
	}
	type opened struct {
		name, text string
		literal    bool
	}
	values := make([]opened, len(b.Snippets))
	bad, openErr := forRuns(len(b.Snippets), c, func(c *keys.EnvCipher, j int) error {
		name, v, literal, err := c.OpenAny(b.Snippets[j])
		values[j] = opened{name, v, literal}
		return err
	})
	// The snippets before the first that does not open are checked for a
	// repeated name first, so the error is the one a loop in order meets.
	good := len(b.Snippets)
	if openErr != nil {
		good = bad
	}
	side := newSideSize(len(b.Snippets))
	for j, s := range b.Snippets[:good] {
		name, v, literal := values[j].name, values[j].text, values[j].literal
		if _, dup := side.Values[name]; dup {
			return nil, Side{}, fmt.Errorf("%w: %s appears twice in version %d", ErrDuplicateName, name, b.Version)
		}
		side.Set(name, Value{Text: v, Literal: literal}, s)
	}
	if openErr != nil {
		return nil, Side{}, fmt.Errorf("version %d holds a snippet that does not open with the key of epoch %d: %w", b.Version, b.Epoch, openErr)
	}
	return b, side, nil
}

// ErrBadState means state.json holds a record no sync could have written
// (a version without its id, a base ahead of what was seen): trusting it
// would switch off the checks that rest on it.
var ErrBadState = errors.New("the checkout's sync record (.capy/state.json) is damaged")

// Check refuses a state no sync writes. Ids are what VerifyPull compares
// blobs against, so an empty or malformed one would disable the fork checks.
func (s State) Check() error {
	if s.BaseVersion > 0 && !wrap.ValidBlobID(s.BaseID) {
		return fmt.Errorf("%w: base version %d has no valid id", ErrBadState, s.BaseVersion)
	}
	if s.SeenVersion > 0 && !wrap.ValidBlobID(s.SeenID) {
		return fmt.Errorf("%w: seen version %d has no valid id", ErrBadState, s.SeenVersion)
	}
	if s.BaseVersion == 0 && s.BaseID != "" || s.SeenVersion == 0 && s.SeenID != "" {
		return fmt.Errorf("%w: an id without a version", ErrBadState)
	}
	if s.BaseVersion > s.SeenVersion {
		return fmt.Errorf("%w: base version %d is ahead of the newest seen, %d", ErrBadState, s.BaseVersion, s.SeenVersion)
	}
	return nil
}

// VerifyHead checks a head the service served (nil: "no versions yet")
// against the pins and everything this machine recorded, and decrypts it.
// Every path that reads a head goes through it (sync, status, ci, the
// --pull reads, rollback, rotate), so that none is laxer than another: a
// machine that has seen version N refuses "no versions", an older version,
// another blob at a version it saw, and a base + 1 on another parent.
func VerifyHead(head *RemoteBlob, kr EnvKeys, env Env) (*wrap.Blob, Side, error) {
	if err := env.State.Check(); err != nil {
		return nil, Side{}, err
	}
	if head == nil {
		if seen := max(env.State.SeenVersion, env.State.BaseVersion); seen > 0 {
			return nil, Side{}, fmt.Errorf("%w (the service says the environment has no versions, this machine has seen version %d)",
				wrap.ErrRollback, seen)
		}
		return nil, NewSide(), nil
	}
	check := wrap.PullCheck{ProjectID: env.ProjectID, EnvID: env.EnvID, PinnedEpoch: env.PinnedEpoch,
		SeenVersion: env.State.SeenVersion, SeenID: env.State.SeenID,
		BaseVersion: env.State.BaseVersion, BaseID: env.State.BaseID}
	return OpenBlob(head, kr, check)
}

// FetchVersion fetches one version by number and verifies that it is that
// version (and, with id set, that very blob): a service answering a
// request for the base with its head would make every older local value
// look like a local edit, and the merge would push them back.
func FetchVersion(ctx context.Context, remote Remote, kr EnvKeys, env Env, version uint64, id string) (*wrap.Blob, Side, error) {
	rb, err := remote.Version(ctx, version)
	if err != nil {
		return nil, Side{}, fmt.Errorf("fetch version %d: %w", version, err)
	}
	if rb == nil {
		return nil, Side{}, fmt.Errorf("version %d: %w (no blob in the answer)", version, wrap.ErrNotRequested)
	}
	b, side, err := OpenBlob(rb, kr, wrap.PullCheck{ProjectID: env.ProjectID, EnvID: env.EnvID,
		RequestedVersion: version, RequestedID: id})
	if err != nil {
		return nil, Side{}, fmt.Errorf("version %d: %w", version, err)
	}
	return b, side, nil
}

// openHead fetches the head and verifies it (VerifyHead).
func openHead(ctx context.Context, remote Remote, kr EnvKeys, env Env) (*wrap.Blob, Side, error) {
	head, err := remote.Head(ctx)
	if err != nil {
		return nil, Side{}, fmt.Errorf("fetch head: %w", err)
	}
	return VerifyHead(head, kr, env)
}

// ErrDuplicateName means a blob holds two snippets for one name.
var ErrDuplicateName = errors.New("a variable appears twice in the environment")

func syncOnce(ctx context.Context, remote Remote, kr EnvKeys, env Env, baseOverride *Side, opt Options) (*Report, error) {
	localEpoch := env.State.Epoch
	if localEpoch == 0 {
		localEpoch = env.PinnedEpoch
	}
	lc, err := kr.Cipher(localEpoch)
	if err != nil {
		return nil, err
	}
	// The local file is read and decrypted on one core while the head is
	// fetched, verified and decrypted on the other (a thousand snippets
	// each side). The local file's errors come first, as if read first.
	localDone := make(chan error, 1)
	var local *LocalFile
	go func() {
		var err error
		local, err = ReadLocal(env.File, lc)
		localDone <- err
	}()
	headBlob, remoteSide, err := openHead(ctx, remote, kr, env)
	if lerr := <-localDone; lerr != nil {
		return nil, lerr
	}
	if err != nil {
		return nil, err
	}

	base := NewSide()
	targetEpoch := env.PinnedEpoch
	if headBlob != nil {
		targetEpoch = headBlob.Epoch
		switch {
		case baseOverride != nil:
			base = Side{Values: baseOverride.Values, Snippets: map[string]string{}}
		case env.State.BaseVersion == 0:
		case env.State.BaseVersion == headBlob.Version:
			base = remoteSide
		default:
			baseBlob, bside, err := FetchVersion(ctx, remote, kr, env, env.State.BaseVersion, env.State.BaseID)
			if err != nil {
				return nil, fmt.Errorf("base: %w", err)
			}
			base = bside
			if baseBlob.Epoch != headBlob.Epoch {
				base.Snippets = map[string]string{} // not reusable in this epoch
			}
		}
	}
	// Snippets from another epoch cannot be reused in the merged version.
	if localEpoch != targetEpoch {
		local.Side.Snippets = map[string]string{}
	}

	// A missing file is a fresh checkout (or a file removed by hand), not
	// an order to delete every variable for the whole team: it counts as
	// unchanged from the base, so the sync pulls. Emptying the file is how
	// one deletes everything.
	if !local.Exists {
		local.Side = base
	}
	res := Merge(base, local.Side, remoteSide, opt.Prefer)
	if len(res.Conflicts) > 0 {
		return nil, &ConflictError{Conflicts: res.Conflicts}
	}
	if opt.CheckReplacement && local.Exists {
		if r, ok := replacement(base, local, opt.OwnEdits); ok {
			if opt.Confirm == nil {
				return nil, ErrReplacement
			}
			if err := opt.Confirm(r); err != nil {
				return nil, err
			}
		}
	}
	tc, err := kr.Cipher(targetEpoch)
	if err != nil {
		return nil, err
	}
	// Encrypt what has no snippet yet (plaintext edits, values from
	// another epoch).
	if err := SealMissing(tc, res.Merged); err != nil {
		return nil, err
	}

	rep := &Report{Epoch: targetEpoch}
	for _, n := range local.Sealed {
		if _, ok := res.Merged.Values[n]; ok {
			rep.Adopted = append(rep.Adopted, n)
		}
	}
	sort.Strings(rep.Adopted)
	newVersion, newID := uint64(0), ""
	if headBlob != nil {
		newVersion, newID = headBlob.Version, headBlob.ID()
		rep.HeadVersion = headBlob.Version
	}
	if res.RemoteChanged || (headBlob == nil && len(res.Merged.Values) > 0) {
		parent, version := wrap.NoParent, uint64(1)
		if headBlob != nil {
			parent, version = headBlob.ID(), headBlob.Version+1
		}
		nb, err := SignVersion(kr, env.ProjectID, env.EnvID, targetEpoch, version, parent, res.Merged)
		if err != nil {
			return nil, err
		}
		rep.Push = pushNames(remoteSide, res.Merged)
		rep.PushedChanges = rep.Push.Len()
		if !opt.DryRun && opt.ConfirmPush != nil && rep.Push.Len() > 0 {
			if err := opt.ConfirmPush(rep.Push); err != nil {
				return nil, err
			}
		}
		if !opt.DryRun {
			if err := remote.Push(ctx, string(nb.Raw())); err != nil {
				return nil, err
			}
			rep.Pushed = true
			rep.pushedLocal = &local.Side
		}
		newVersion, newID = version, nb.ID()
	}

	// Rewrite the local file: every value a snippet, everything else kept.
	// The file's values are read once up front: Document.Get after a Set
	// renumbers the whole file, which made this loop quadratic.
	doc := local.Doc
	entries := local.entries // the file as read; nothing has changed doc yet
	inFile := make(map[string]string, len(entries))
	for _, e := range entries {
		if _, ok := res.Merged.Values[e.Name]; !ok {
			doc.Delete(e.Name)
			rep.Removed = append(rep.Removed, e.Name)
			continue
		}
		inFile[e.Name] = e.Value
	}
	// Only the names whose line changes are ordered (a stable order of new
	// lines, in which a value comes after the names it refers to:
	// ExpansionOrder): in an everyday sync that is none.
	var names []string
	for n := range res.Merged.Values {
		if old, had := inFile[n]; !had || old != res.Merged.Snippets[n] {
			names = append(names, n)
		}
	}
	names = ExpansionOrder(names, res.Merged.Values)
	for _, n := range names {
		_, had := inFile[n]
		snip := res.Merged.Snippets[n]
		if !had {
			rep.Added = append(rep.Added, n)
		} else if lv, ok := local.Side.Values[n]; !ok || lv != res.Merged.Values[n] {
			rep.Updated = append(rep.Updated, n)
		}
		if err := doc.Set(n, snip, false); err != nil {
			return nil, fmt.Errorf("write %s: %w", n, err)
		}
	}
	sort.Strings(rep.Added) // the report lists names in name order
	sort.Strings(rep.Updated)
	out := doc.Bytes()
	rep.FileChanged = !local.Exists && len(out) > 0 || string(out) != string(local.Raw)
	rep.File = local.Raw
	if rep.FileChanged {
		rep.File = out
	}
	rep.Version, rep.HeadID = newVersion, newID
	// The state this sync leads to, set before the file is written: an
	// attempt that pushed and then found the file changed under it hands
	// it to the next attempt as its base. The file's epoch stays the old
	// one until the file is rewritten.
	rep.State = State{Epoch: localEpoch, BaseVersion: newVersion, BaseID: newID,
		SeenVersion: max(newVersion, env.State.SeenVersion), SeenID: newID}
	if env.State.SeenVersion > newVersion {
		rep.State.SeenID = env.State.SeenID
	}
	if rep.FileChanged && !opt.DryRun {
		// out was built from the file as read before the round trips; if
		// it has changed since (a concurrent `capy set`, an editor), writing
		// out would silently undo that change. The check runs right before
		// the rename, after the temporary file's fsync; it is not a lock.
		err := env.File.WriteFileIf(out, func() error {
			changed, err := localChanged(env.File, local)
			if err == nil && changed {
				err = errLocalChanged
			}
			if err == nil && opt.BeforeRename != nil {
				st := rep.State
				st.Epoch = targetEpoch
				err = opt.BeforeRename(out, st)
			}
			return err
		})
		if errors.Is(err, errLocalChanged) {
			return rep, err
		}
		if err != nil {
			return nil, fmt.Errorf("rewrite %s: %w", env.File, err)
		}
	}
	rep.State.Epoch = targetEpoch
	return rep, nil
}

// replacement reports what a local file that changed outside capy does
// beyond typed edits of values: names of the base it lacks, a changed
// value that is a snippet already (copied in), or no snippet left although
// the base had several values (a plaintext file put in its place).
func replacement(base Side, local *LocalFile, own map[string]bool) (Replacement, bool) {
	var r Replacement
	oldSnippet := false
	for name, bv := range base.Values {
		if own[name] {
			continue
		}
		lv, ok := local.Side.Values[name]
		if !ok {
			r.Removed = append(r.Removed, name)
		} else if lv != bv {
			r.Changed = append(r.Changed, name)
			// A changed value that is already a snippet was not typed
			// here (capy encrypts typed values on the next sync): it was
			// copied in, e.g. an old snippet a branch carries.
			oldSnippet = oldSnippet || local.Side.Snippets[name] != ""
		}
	}
	for name := range local.Side.Values {
		if _, ok := base.Values[name]; !ok {
			r.Added = append(r.Added, name)
		}
	}
	// Every value in plaintext, where the base had several: a plaintext
	// file put in place of capy's. (Editing the only value of a
	// one-variable environment looks the same and is an edit.)
	r.NoSnippets = len(base.Values) > 1 && len(local.entries) > 0 && len(local.Plaintext) == len(local.entries)
	sort.Strings(r.Removed)
	sort.Strings(r.Changed)
	sort.Strings(r.Added)
	r.CopiedSnippets = oldSnippet
	// A contributor's sealed value that replaces a value the team has is
	// named before the push, like a deletion: whoever can write to the
	// repository can contribute, but replacing is a decision.
	replaces := false
	for _, name := range local.Sealed {
		if !own[name] {
			r.Sealed = append(r.Sealed, name)
			_, had := base.Values[name]
			replaces = replaces || had
		}
	}
	sort.Strings(r.Sealed)
	return r, len(r.Removed) > 0 || r.NoSnippets || r.CopiedSnippets || replaces
}

// SealMissing encrypts, with c, every value of side that has no snippet
// yet (plaintext edits, values from another epoch) and records the
// snippets in side.
func SealMissing(c *keys.EnvCipher, side Side) error {
	for name, v := range side.Values {
		if side.Snippets[name] != "" {
			continue
		}
		s, err := c.Seal(name, v.Text, v.Literal)
		if err != nil {
			return fmt.Errorf("encrypt %s: %w", name, err)
		}
		side.Snippets[name] = s
	}
	return nil
}

// SignVersion signs the snippets of side (every value must have one: see
// SealMissing) as the given version of an environment on parent.
func SignVersion(kr EnvKeys, projectID, envID string, epoch uint32, version uint64, parent string, side Side) (*wrap.Blob, error) {
	signer, err := kr.Signer(epoch)
	if err != nil {
		return nil, err
	}
	snips := make([]string, 0, len(side.Values))
	for name := range side.Values {
		s := side.Snippets[name]
		if s == "" {
			return nil, fmt.Errorf("%s has no snippet to sign", name)
		}
		snips = append(snips, s)
	}
	return wrap.BuildBlob(signer, projectID, envID, epoch, version, parent, snips)
}

// BuildVersion is the one way a version is made from values (sync,
// rollback, env rotate): the values are encrypted afresh under the epoch's
// key (snippets of another epoch cannot be reused) and signed.
func BuildVersion(kr EnvKeys, projectID, envID string, epoch uint32, version uint64, parent string, values map[string]Value) (*wrap.Blob, error) {
	c, err := kr.Cipher(epoch)
	if err != nil {
		return nil, err
	}
	side := Side{Values: values, Snippets: make(map[string]string, len(values))}
	if err := SealMissing(c, side); err != nil {
		return nil, err
	}
	return SignVersion(kr, projectID, envID, epoch, version, parent, side)
}

// localChanged reports whether the file differs from what ReadLocal read
// into lf.
func localChanged(file File, lf *LocalFile) (bool, error) {
	raw, err := file.ReadFile()
	if errors.Is(err, fs.ErrNotExist) {
		return lf.Exists, nil
	}
	if err != nil {
		return false, err // it names the file
	}
	return !lf.Exists || string(raw) != string(lf.Raw), nil
}

// PushNames names what a push changes on the service, names only: the
// person sees what goes to everyone before and after it goes.
type PushNames struct {
	Added, Changed, Removed []string
}

// Len is how many names the push changes.
func (n PushNames) Len() int { return len(n.Added) + len(n.Changed) + len(n.Removed) }

// Without returns n less the names in drop.
func (n PushNames) Without(drop map[string]bool) PushNames {
	keep := func(names []string) []string {
		var out []string
		for _, x := range names {
			if !drop[x] {
				out = append(out, x)
			}
		}
		return out
	}
	return PushNames{Added: keep(n.Added), Changed: keep(n.Changed), Removed: keep(n.Removed)}
}

// union adds m's names to n's, each once, sorted.
func (n PushNames) union(m PushNames) PushNames {
	join := func(a, b []string) []string {
		seen := map[string]bool{}
		var out []string
		for _, x := range append(append([]string{}, a...), b...) {
			if !seen[x] {
				seen[x] = true
				out = append(out, x)
			}
		}
		sort.Strings(out)
		return out
	}
	return PushNames{Added: join(n.Added, m.Added), Changed: join(n.Changed, m.Changed), Removed: join(n.Removed, m.Removed)}
}

// Changes names what after changes against before, sorted: what one
// version did to the previous (capy history), or a push to the head.
func Changes(before, after Side) PushNames { return pushNames(before, after) }

// pushNames names what after changes against before, sorted.
func pushNames(before, after Side) PushNames {
	var n PushNames
	for name, v := range after.Values {
		if w, ok := before.Values[name]; !ok {
			n.Added = append(n.Added, name)
		} else if w != v {
			n.Changed = append(n.Changed, name)
		}
	}
	for name := range before.Values {
		if _, ok := after.Values[name]; !ok {
			n.Removed = append(n.Removed, name)
		}
	}
	sort.Strings(n.Added)
	sort.Strings(n.Changed)
	sort.Strings(n.Removed)
	return n
}
