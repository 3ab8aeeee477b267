package workspace

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"time"

	"github.com/capy-oss/capy/internal/privfile"
)

// AuditHead is one position of an org's audit chain as the service named
// it in an answer: the entry's number and its hash.
type AuditHead struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// Limits on the audit heads a client accepts and keeps.
const (
	// MaxAuditSeq is the highest position accepted: 2^53-1, the largest
	// integer every JSON reader keeps exact.
	MaxAuditSeq = 1<<53 - 1
	// RecentAuditHeads is how many distinct heads audit_head.json keeps
	// (the most recently seen), each one a position at which a rewritten
	// chain is caught.
	RecentAuditHeads = 64
	// A head above the highest one seen may be ahead of it by at most
	// auditJumpSlack + auditMaxRate × the seconds since that highest one
	// was first seen: more than the service could have written since.
	// One capyd writes about 8,000 audit rows a second for one org at
	// most (BENCHMARKS.md, co-decrypt with rate limits off); twice that,
	// plus 2^24 rows of slack, is never reached by an honest service, and
	// still takes a forged head 17,000 years to climb to 2^53-1.
	auditJumpSlack = 1 << 24
	auditMaxRate   = 1 << 14
)

// AuditHeads is what this machine has seen of an org's audit chain.
type AuditHeads struct {
	// Highest is the highest position seen, HighestAt when it was first
	// seen (this machine's clock; zero if not known).
	Highest   AuditHead
	HighestAt time.Time
	// Recent are the last RecentAuditHeads distinct heads seen, oldest
	// first (Highest may have left it).
	Recent []AuditHead
}

// auditFile is audit_head.json. Version 1 (no "version") held one head,
// the highest; version 2 keeps it in the same fields, so an older capy
// still reads the highest head, and adds the recent ones.
type auditFile struct {
	Version int         `json:"version,omitempty"`
	Seq     uint64      `json:"seq"`
	Hash    string      `json:"hash"`
	SeenAt  *time.Time  `json:"seen_at,omitempty"`
	Recent  []AuditHead `json:"recent,omitempty"`
}

// auditFileMax bounds the read of audit_head.json (64 heads are ~8 KiB).
const auditFileMax = 64 << 10

// AuditHead returns the highest head seen for the org (zero if none).
func (o Org) AuditHead() (AuditHead, error) {
	hs, err := o.AuditHeads()
	return hs.Highest, err
}

// AuditHeads returns what this machine has recorded of the org's audit
// chain at this service (zero if nothing). A version 1 file reads as its
// one head, first seen when the file was written. What the file holds is
// taken as it is, even a head an older capy recorded without checking
// it: it is what the service said, and a later answer or `capy audit
// --verify` is compared with exactly that.
func (o Org) AuditHeads() (AuditHeads, error) {
	data, p, err := o.read(auditFileMax, "audit_head.json")
	if errors.Is(err, fs.ErrNotExist) {
		return AuditHeads{}, nil
	}
	if err != nil {
		return AuditHeads{}, err
	}
	f, err := decodeAuditFile(data)
	if err != nil {
		return AuditHeads{}, fmt.Errorf("%s is corrupt: %w", p, err)
	}
	hs := AuditHeads{Highest: AuditHead{Seq: f.Seq, Hash: f.Hash}}
	switch f.Version {
	case 0:
		if f.Seq > 0 {
			hs.Recent = []AuditHead{hs.Highest}
			// Version 1 was rewritten only when the highest head moved.
			if fi, err := os.Lstat(p); err == nil {
				hs.HighestAt = fi.ModTime()
			}
		}
	case 2:
		hs.Recent = f.Recent
		if f.SeenAt != nil {
			hs.HighestAt = *f.SeenAt
		}
	default:
		return AuditHeads{}, fmt.Errorf("%s has version %d, which this capy does not read", p, f.Version)
	}
	return hs, nil
}

// Errors of RecordAuditHead.
var (
	// ErrAuditFork means the service reported a different hash for an
	// audit position this machine has already seen: history was
	// rewritten.
	ErrAuditFork = errors.New("the service's audit chain differs from the one this machine has seen (history was rewritten)")
	// ErrAuditHead means the service named an audit position that no
	// honest answer names: malformed, or further ahead than it could
	// have written.
	ErrAuditHead = errors.New("the service named an audit position that cannot be right")
)

// checkAuditHead refuses a head no honest answer holds. Only audited
// actions (co-decrypt, push) hand a head to the client, and each names
// its own row, so position 0 is refused too.
func checkAuditHead(a AuditHead) error {
	switch {
	case a.Seq == 0:
		return fmt.Errorf("%w: #0 (the answer to an audited action names its own entry)", ErrAuditHead)
	case a.Seq > MaxAuditSeq:
		return fmt.Errorf("%w: #%d is beyond 2^53-1", ErrAuditHead, a.Seq)
	case !isLowerHex64(a.Hash):
		return fmt.Errorf("%w: the hash of #%d is not 64 lowercase hex characters", ErrAuditHead, a.Seq)
	}
	return nil
}

func isLowerHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Add checks a head an answer named against what was seen and returns
// what to keep: ErrAuditFork if a recorded position (the highest or a
// recent one) had another hash, ErrAuditHead if the head is malformed or
// implausibly far above the highest (see auditJumpSlack). A head already
// recorded changes nothing (changed is false). A head below the highest
// is kept too: another capy on this machine, or another member, may have
// moved the chain since, and it is one more position to check.
func (hs AuditHeads) Add(a AuditHead, now time.Time) (next AuditHeads, changed bool, err error) {
	if err := checkAuditHead(a); err != nil {
		return hs, false, err
	}
	known := false
	for _, r := range append([]AuditHead{hs.Highest}, hs.Recent...) {
		if r.Seq != a.Seq {
			continue
		}
		if r.Hash != a.Hash {
			return hs, false, fmt.Errorf("%w: entry #%d", ErrAuditFork, a.Seq)
		}
		known = true
	}
	if known {
		return hs, false, nil
	}
	if hs.Highest.Seq > 0 && a.Seq > hs.Highest.Seq {
		elapsed := now.Sub(hs.HighestAt)
		if hs.HighestAt.IsZero() || elapsed < 0 {
			elapsed = 0
		}
		limit := hs.Highest.Seq + auditJumpSlack + auditMaxRate*uint64(elapsed/time.Second)
		if a.Seq > limit {
			return hs, false, fmt.Errorf("%w: #%d is %d entries past #%d, which this machine saw %s ago: more than the service could have written",
				ErrAuditHead, a.Seq, a.Seq-hs.Highest.Seq, hs.Highest.Seq, elapsed.Round(time.Second))
		}
	}
	next = AuditHeads{Highest: hs.Highest, HighestAt: hs.HighestAt}
	recent := append(slices.Clone(hs.Recent), a)
	if n := len(recent); n > RecentAuditHeads {
		recent = slices.Clone(recent[n-RecentAuditHeads:])
	}
	next.Recent = recent
	if a.Seq > hs.Highest.Seq {
		next.Highest, next.HighestAt = a, now
	}
	return next, true, nil
}

// RecordAuditHead checks a head an answer named against the heads
// recorded for the org at this service (AuditHeads.Add) and records them
// in this service's directory.
//
// Every unlock and push moves the org's head, so this write happens on
// almost every command. It is atomic (temporary file, fsync, rename: the
// file holds the old heads or the new ones, never a torn file) but the
// directory is not synced: a crash may bring the previous file back,
// which is a valid, older view of the same chain. That weakens the
// rollback detection a little (a fork at the lost position goes
// unnoticed) and never raises a false alarm (docs/decisions.md). Two
// capy processes recording at once may likewise lose one's head.
//
// With DeferAuditHead set, the write is left running (see Flush); the
// check against the recorded heads is always done before returning. A
// write still in flight from an earlier call is waited for first, so
// writes stay in order and each check sees the previous heads.
func (o Org) RecordAuditHead(a AuditHead) error {
	return o.recordAuditHead(o.flushAndReadHeads(), a)
}

// AuditHeadsAhead is a read of the recorded heads started before the
// answer that names the next one arrives (ReadAuditHeadsAhead).
type AuditHeadsAhead struct {
	flushErr error
	done     chan auditHeadsRead
}

type auditHeadsRead struct {
	heads AuditHeads
	stamp fileStamp // of audit_head.json when it was read
	err   error
}

// fileStamp is what tells that a file was rewritten: its size and
// modification time (zero for a missing file).
type fileStamp struct {
	size    int64
	modTime time.Time
}

func (o Org) auditStamp() fileStamp {
	p, err := o.path("audit_head.json")
	if err != nil {
		return fileStamp{}
	}
	fi, err := os.Lstat(p)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{size: fi.Size(), modTime: fi.ModTime()}
}

// ReadAuditHeadsAhead waits for this process's write in flight (as
// RecordAuditHead does first, so that its error is not lost if the
// answer never comes), then starts reading the recorded heads in the
// background, so that the read overlaps a round trip;
// RecordAuditHeadAhead finishes the record with it.
func (o Org) ReadAuditHeadsAhead() *AuditHeadsAhead {
	r := &AuditHeadsAhead{flushErr: o.h.Flush(), done: make(chan auditHeadsRead, 1)}
	if r.flushErr == nil {
		go func() { r.done <- o.readHeadsStamped() }()
	}
	return r
}

// RecordAuditHeadAhead is RecordAuditHead with the read started by
// ReadAuditHeadsAhead (on the same Home, with nothing recorded since). If
// another capy process rewrote audit_head.json since that read, the file
// is read again, so the window in which two processes can lose one's
// head is no wider than RecordAuditHead's.
func (o Org) RecordAuditHeadAhead(r *AuditHeadsAhead, a AuditHead) error {
	if r.flushErr != nil {
		return r.flushErr
	}
	read := <-r.done
	if read.err == nil && o.auditStamp() != read.stamp {
		read = o.readHeadsStamped()
	}
	return o.recordAuditHead(read, a)
}

func (o Org) flushAndReadHeads() auditHeadsRead {
	if err := o.h.Flush(); err != nil {
		return auditHeadsRead{err: err}
	}
	return o.readHeadsStamped()
}

func (o Org) readHeadsStamped() auditHeadsRead {
	stamp := o.auditStamp()
	hs, err := o.AuditHeads()
	return auditHeadsRead{heads: hs, stamp: stamp, err: err}
}

func (o Org) recordAuditHead(read auditHeadsRead, a AuditHead) error {
	h := o.h
	if read.err != nil {
		return read.err
	}
	next, changed, err := read.heads.Add(a, time.Now().UTC())
	if err != nil || !changed {
		return err
	}
	p, err := o.path("audit_head.json")
	if err != nil {
		return err
	}
	if err := o.mkdirs("orgs", o.id); err != nil {
		return err
	}
	f := auditFile{Version: 2, Seq: next.Highest.Seq, Hash: next.Highest.Hash, Recent: next.Recent}
	if !next.HighestAt.IsZero() {
		at := next.HighestAt.UTC()
		f.SeenAt = &at
	}
	data, err := encodeAuditFile(p, f)
	if err != nil {
		return err
	}
	if !h.DeferAuditHead {
		return writeAuditHead(p, data)
	}
	ch := make(chan error, 1)
	h.mu.Lock()
	h.pending = ch
	h.mu.Unlock()
	go func() { ch <- writeAuditHead(p, data) }()
	return nil
}

// writeAuditHead writes audit_head.json (0600) atomically without the
// directory fsync; tests replace it to see deferred writes fail.
var writeAuditHead = func(path string, data []byte) error {
	return privfile.WriteAtomicWith(path, data, privfile.Options{Private: true, NoDirSync: true})
}
