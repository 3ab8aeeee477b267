// Package slip39 implements SLIP-0039, Shamir's secret sharing for mnemonic
// codes (satoshilabs/slips slip-0039.md): a secret of 16 to 64 bytes is
// encrypted with an optional passphrase, split into groups and each group
// into member shares, and every share is written as words of a 1,024-word
// list with an RS1024 checksum. Any GroupThreshold groups, each with its
// MemberThreshold shares, give the secret back; fewer reveal nothing about
// it.
//
// capy splits the 32 bytes of entropy of its 24-word recovery phrase
// (docs/protocol.md). The package is pure: randomness comes in as an
// io.Reader, and there is no other I/O. The official test vectors of the
// reference implementation are the known answers (testdata/).
package slip39

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Errors of combining shares; the error returned wraps one of them with
// the details.
var (
	ErrOtherSet   = errors.New("the share belongs to another share set")
	ErrDuplicate  = errors.New("the share was already given")
	ErrNotNeeded  = errors.New("the share is not needed")
	ErrIncomplete = errors.New("not enough shares")
	ErrPassphrase = errors.New("the passphrase must be printable ASCII (letters, digits, punctuation, spaces)")
)

// Group is the member scheme of one group: Threshold of Count shares.
type Group struct {
	Threshold int
	Count     int
}

func (g Group) String() string { return fmt.Sprintf("%d-of-%d", g.Threshold, g.Count) }

// Scheme is how a secret is split: GroupThreshold of the groups are needed.
type Scheme struct {
	GroupThreshold int
	Groups         []Group
}

// String spells a scheme as capy prints and audits it: "2-of-3" for one
// group, "2:2-of-3,1-of-1" (groups needed, then each group) otherwise.
func (s Scheme) String() string {
	if len(s.Groups) == 1 && s.GroupThreshold == 1 {
		return s.Groups[0].String()
	}
	parts := make([]string, len(s.Groups))
	for i, g := range s.Groups {
		parts[i] = g.String()
	}
	return fmt.Sprintf("%d:%s", s.GroupThreshold, strings.Join(parts, ","))
}

// Check refuses a scheme SLIP-39 cannot encode or advises against: 1 to 16
// groups, 1 ≤ group threshold ≤ groups, 1 ≤ threshold ≤ count ≤ 16 in each
// group, and no group of several shares with threshold 1 (each of its
// shares would be the same secret under another number: give one share
// to several people instead).
func (s Scheme) Check() error {
	if len(s.Groups) < 1 || len(s.Groups) > MaxShareCount {
		return fmt.Errorf("a split has 1 to %d groups, not %d", MaxShareCount, len(s.Groups))
	}
	if s.GroupThreshold < 1 || s.GroupThreshold > len(s.Groups) {
		return fmt.Errorf("the groups needed must be between 1 and the number of groups (%d), not %d", len(s.Groups), s.GroupThreshold)
	}
	for i, g := range s.Groups {
		if g.Threshold < 1 || g.Count < g.Threshold || g.Count > MaxShareCount {
			return fmt.Errorf("group %d: %s: need 1 ≤ threshold ≤ shares ≤ %d", i+1, g, MaxShareCount)
		}
		if g.Threshold == 1 && g.Count > 1 {
			return fmt.Errorf("group %d: %s: with threshold 1 every share is the same secret; use 1-of-1 and give that share to several people", i+1, g)
		}
	}
	return nil
}

// Options are the settings of a split besides the scheme.
type Options struct {
	Passphrase        []byte // printable ASCII; empty for none
	IterationExponent int    // 0–15: PBKDF2 runs 10000·2^e iterations in all
	Extendable        bool   // the encrypted secret does not depend on the identifier
}

// Split encrypts secret with the passphrase and splits it by the scheme.
// It returns the shares by group: shares[g][m] has group index g and member
// index m. Randomness (the identifier and the polynomials) is read from
// random, which must be crypto/rand.Reader outside tests.
func Split(random io.Reader, secret []byte, scheme Scheme, opt Options) ([][]Share, error) {
	if len(secret) < minSecretBytes || len(secret)%2 != 0 || len(secret) > 64 {
		return nil, fmt.Errorf("the secret must be 16 to 64 bytes, an even number of them; got %d", len(secret))
	}
	if err := scheme.Check(); err != nil {
		return nil, err
	}
	if err := checkPassphrase(opt.Passphrase); err != nil {
		return nil, err
	}
	if opt.IterationExponent < 0 || opt.IterationExponent > MaxIterationExponent {
		return nil, fmt.Errorf("the iteration exponent must be 0 to %d", MaxIterationExponent)
	}
	var idb [2]byte
	if _, err := io.ReadFull(random, idb[:]); err != nil {
		return nil, fmt.Errorf("read randomness: %w", err)
	}
	id := (uint16(idb[0])<<8 | uint16(idb[1])) & 0x7fff
	ems, err := feistel(secret, opt.Passphrase, opt.IterationExponent, id, opt.Extendable, false)
	if err != nil {
		return nil, err
	}
	defer clear(ems)
	return splitEMS(random, ems, scheme, id, opt.IterationExponent, opt.Extendable)
}

// splitEMS splits an encrypted master secret (the layer under the
// passphrase, so tests can skip PBKDF2).
func splitEMS(random io.Reader, ems []byte, scheme Scheme, id uint16, e int, extendable bool) ([][]Share, error) {
	groupShares, err := splitSecret(random, scheme.GroupThreshold, len(scheme.Groups), ems)
	if err != nil {
		return nil, err
	}
	out := make([][]Share, len(scheme.Groups))
	for g, gs := range groupShares {
		members, err := splitSecret(random, scheme.Groups[g].Threshold, scheme.Groups[g].Count, gs.y)
		clear(gs.y)
		if err != nil {
			return nil, err
		}
		for _, m := range members {
			out[g] = append(out[g], Share{
				Identifier: id, Extendable: extendable, IterationExponent: e,
				GroupIndex: int(gs.x), GroupThreshold: scheme.GroupThreshold, GroupCount: len(scheme.Groups),
				MemberIndex: int(m.x), MemberThreshold: scheme.Groups[g].Threshold, Value: m.y,
			})
		}
	}
	return out, nil
}

// checkPassphrase enforces the standard's printable ASCII (32–126): other
// systems must be able to type the same bytes.
func checkPassphrase(p []byte) error {
	for _, c := range p {
		if c < 32 || c > 126 {
			return ErrPassphrase
		}
	}
	return nil
}

// Set collects the shares of one share set, one at a time, and combines
// them once complete. The first share fixes the set (identifier, format,
// iteration exponent, groups needed, group count, length); a share that
// differs, repeats a member, or is not needed (its group is complete, or
// enough other groups have begun) is refused and leaves the set as it
// was. A Set follows SLIP-39's rule that exactly the needed groups, with
// exactly their threshold of shares each, are combined.
type Set struct {
	first  *Share
	groups map[int][]*Share // by group index, in the order given
}

// Add checks a share against the set and keeps it.
func (s *Set) Add(sh *Share) error {
	if s.first == nil {
		if sh.GroupThreshold > sh.GroupCount || len(sh.Value) < minSecretBytes || len(sh.Value)%2 != 0 {
			return fmt.Errorf("%w: impossible share parameters", ErrOtherSet)
		}
		s.first = sh
		s.groups = map[int][]*Share{sh.GroupIndex: {sh}}
		return nil
	}
	f := s.first
	switch {
	case sh.Identifier != f.Identifier:
		return fmt.Errorf("%w: it is from set %s, the shares so far from set %s", ErrOtherSet, sh.SetID(), f.SetID())
	case sh.Extendable != f.Extendable:
		return fmt.Errorf("%w: its extendable flag differs (same identifier %s)", ErrOtherSet, f.SetID())
	case sh.IterationExponent != f.IterationExponent:
		return fmt.Errorf("%w: its iteration exponent is %d, the others' %d", ErrOtherSet, sh.IterationExponent, f.IterationExponent)
	case sh.GroupThreshold != f.GroupThreshold:
		return fmt.Errorf("%w: it needs %d groups, the others %d", ErrOtherSet, sh.GroupThreshold, f.GroupThreshold)
	case sh.GroupCount != f.GroupCount:
		return fmt.Errorf("%w: it is one of %d groups, the others of %d", ErrOtherSet, sh.GroupCount, f.GroupCount)
	case len(sh.Value) != len(f.Value):
		return fmt.Errorf("%w: it holds a %d-bit secret, the others a %d-bit one", ErrOtherSet, len(sh.Value)*8, len(f.Value)*8)
	}
	group := s.groups[sh.GroupIndex]
	if len(group) > 0 {
		if sh.MemberThreshold != group[0].MemberThreshold {
			return fmt.Errorf("%w: group %d needs %d shares by this share, %d by the earlier ones", ErrOtherSet, sh.GroupIndex+1, sh.MemberThreshold, group[0].MemberThreshold)
		}
		for _, o := range group {
			if o.MemberIndex == sh.MemberIndex {
				return fmt.Errorf("%w: group %d, share %d", ErrDuplicate, sh.GroupIndex+1, sh.MemberIndex+1)
			}
		}
		if len(group) >= sh.MemberThreshold {
			return fmt.Errorf("%w: group %d already has its %d", ErrNotNeeded, sh.GroupIndex+1, sh.MemberThreshold)
		}
	} else if len(s.groups) >= f.GroupThreshold {
		return fmt.Errorf("%w: shares of %d groups were given and %d are needed; this one is of group %d", ErrNotNeeded, len(s.groups), f.GroupThreshold, sh.GroupIndex+1)
	}
	s.groups[sh.GroupIndex] = append(group, sh)
	return nil
}

// GroupProgress is what one group has: Have of Need shares.
type GroupProgress struct {
	Group int // from 1, as printed
	Have  int
	Need  int
}

// Progress says how far a set is from complete.
type Progress struct {
	Groups         []GroupProgress // the groups with shares, by group
	GroupsNeeded   int
	GroupCount     int
	GroupsComplete int
}

// Progress returns the set's progress (zero before the first share).
func (s *Set) Progress() Progress {
	if s.first == nil {
		return Progress{}
	}
	p := Progress{GroupsNeeded: s.first.GroupThreshold, GroupCount: s.first.GroupCount}
	for gi, shares := range s.groups {
		g := GroupProgress{Group: gi + 1, Have: len(shares), Need: shares[0].MemberThreshold}
		if g.Have >= g.Need {
			p.GroupsComplete++
		}
		p.Groups = append(p.Groups, g)
	}
	slices.SortFunc(p.Groups, func(a, b GroupProgress) int { return a.Group - b.Group })
	return p
}

// Complete reports whether the set holds what it needs.
func (p Progress) Complete() bool {
	return p.GroupsNeeded > 0 && p.GroupsComplete >= p.GroupsNeeded
}

// Lines says per group what it has and what it needs ("group 1: 2 of 3;
// 1 more"), and for several groups needed, how many are complete.
func (p Progress) Lines() []string {
	if p.GroupsNeeded == 0 {
		return []string{"no shares yet"}
	}
	var out []string
	for _, g := range p.Groups {
		if g.Have >= g.Need {
			out = append(out, fmt.Sprintf("group %d: %d of %d; complete", g.Group, g.Have, g.Need))
		} else {
			out = append(out, fmt.Sprintf("group %d: %d of %d; %d more", g.Group, g.Have, g.Need, g.Need-g.Have))
		}
	}
	if p.GroupsNeeded > 1 {
		line := fmt.Sprintf("groups: %d of %d complete", p.GroupsComplete, p.GroupsNeeded)
		if missing := p.GroupsNeeded - len(p.Groups); missing > 0 {
			line += fmt.Sprintf("; shares of %d more of the %d groups needed", missing, p.GroupCount)
		}
		out = append(out, line)
	}
	return out
}

func (p Progress) String() string { return strings.Join(p.Lines(), ", ") }

// IncompleteError is ErrIncomplete with the progress made.
type IncompleteError struct{ Progress Progress }

func (e *IncompleteError) Error() string { return fmt.Sprintf("%v: %v", ErrIncomplete, e.Progress) }
func (e *IncompleteError) Unwrap() error { return ErrIncomplete }

// First returns the first share given (nil before any).
func (s *Set) First() *Share { return s.first }

// ems combines the shares into the encrypted master secret.
func (s *Set) ems() ([]byte, error) {
	p := s.Progress()
	if !p.Complete() {
		return nil, &IncompleteError{Progress: p}
	}
	var groupShares []rawShare
	defer func() {
		for _, g := range groupShares {
			clear(g.y)
		}
	}()
	for _, g := range p.Groups {
		shares := s.groups[g.Group-1]
		raw := make([]rawShare, len(shares))
		for i, sh := range shares {
			raw[i] = rawShare{x: byte(sh.MemberIndex), y: sh.Value}
		}
		y, err := recoverSecret(g.Need, raw)
		if err != nil {
			return nil, fmt.Errorf("group %d: %w", g.Group, err)
		}
		groupShares = append(groupShares, rawShare{x: byte(g.Group - 1), y: y})
	}
	return recoverSecret(s.first.GroupThreshold, groupShares)
}

// Secret combines a complete set and decrypts it with the passphrase. A
// wrong passphrase cannot be told from a right one here: it gives another
// secret of the same length (the caller checks the result against what
// it knows, as capy does with the organisation's key check).
func (s *Set) Secret(passphrase []byte) ([]byte, error) {
	if err := checkPassphrase(passphrase); err != nil {
		return nil, err
	}
	ems, err := s.ems()
	if err != nil {
		return nil, err
	}
	defer clear(ems)
	return feistel(ems, passphrase, s.first.IterationExponent, s.first.Identifier, s.first.Extendable, true)
}

// Combine parses the mnemonics, checks that they form one complete set
// and returns the secret under the passphrase. Errors name the share by
// its place in the list, from 1.
func Combine(mnemonics []string, passphrase []byte) ([]byte, error) {
	var s Set
	for i, m := range mnemonics {
		sh, err := ParseShare(m)
		if err != nil {
			return nil, fmt.Errorf("share %d: %w", i+1, err)
		}
		if err := s.Add(sh); err != nil {
			return nil, fmt.Errorf("share %d: %w", i+1, err)
		}
	}
	return s.Secret(passphrase)
}
