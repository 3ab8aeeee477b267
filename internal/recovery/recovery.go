// Package recovery is the recovery kit: the organisation's recovery phrase
// split k-of-n into SLIP-39 shares (internal/slip39) so that no single
// paper or person holds the organisation, and the recovery of key.enc
// from such shares. What is split is the phrase's 32 bytes of BIP-39
// entropy; combining shares gives that entropy back, hence the phrase,
// and the existing recovery (member.Account.RecoverWith) takes over. A
// split and every recovery are recorded in the org's audit log; no share
// content ever leaves this machine. cmd/capy holds only the prompts and
// the printing (docs/cli.md "Recovery kit").
package recovery

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/member"
	"github.com/capy-oss/capy/internal/slip39"
)

// iterationExponent is the SLIP-39 exponent capy's kits use: 20,000
// PBKDF2-HMAC-SHA256 iterations over the four rounds, the reference
// implementation's default. The passphrase guards shares against k
// colluding holders only as well as it resists guessing; the exponent
// makes each guess cost that much.
const iterationExponent = 1

// ErrWrongPassphrase: the shares combined (their checksums and digest
// hold), but the phrase they give is not the organisation's: the
// passphrase is wrong, or the shares belong to another organisation.
// SLIP-39 cannot tell a wrong passphrase by itself; the org's key check
// can.
var ErrWrongPassphrase = errors.New("the shares combine, but not to this organisation's phrase: the passphrase is wrong (or the shares are another organisation's)")

// Kit is a split of an organisation's recovery phrase.
type Kit struct {
	OrgID   string
	OrgName string // as the service names it; for the share files' comments
	SetID   string // the share set's identifier, four hex digits
	Scheme  slip39.Scheme
	Shares  []Share // group by group, member by member
}

// Share is one share of a kit, numbered as capy prints it.
type Share struct {
	Number          int    `json:"number"` // 1 … the kit's shares, across groups
	Group           int    `json:"group"`  // from 1
	GroupCount      int    `json:"group_count"`
	GroupThreshold  int    `json:"groups_needed"`
	Member          int    `json:"member"` // from 1, within its group
	MemberCount     int    `json:"member_count"`
	MemberThreshold int    `json:"member_threshold"` // shares of the group needed
	Words           string `json:"words"`
}

// Total is the number of shares in the kit.
func (k *Kit) Total() int { return len(k.Shares) }

// ParseScheme reads "K-of-N" (1 ≤ K ≤ N ≤ 16).
func ParseScheme(s string) (slip39.Group, error) {
	k, n, ok := strings.Cut(strings.TrimSpace(s), "-of-")
	ki, err1 := strconv.Atoi(k)
	ni, err2 := strconv.Atoi(n)
	if !ok || err1 != nil || err2 != nil || ki < 1 || ni < ki || ni > slip39.MaxShareCount {
		return slip39.Group{}, fmt.Errorf("%q is not a split: write K-of-N with 1 ≤ K ≤ N ≤ %d, e.g. 2-of-3", s, slip39.MaxShareCount)
	}
	return slip39.Group{Threshold: ki, Count: ni}, nil
}

// NewKit splits the phrase's entropy by the scheme under the passphrase
// (printable ASCII; empty for none). It is pure but for randomness: random
// must be crypto/rand.Reader outside tests.
func NewKit(random io.Reader, phrase string, scheme slip39.Scheme, passphrase []byte) (*Kit, error) {
	entropy, err := keys.EntropyFromPhrase(phrase)
	if err != nil {
		return nil, err
	}
	defer clear(entropy)
	groups, err := slip39.Split(random, entropy, scheme, slip39.Options{
		Passphrase: passphrase, IterationExponent: iterationExponent, Extendable: true,
	})
	if err != nil {
		return nil, err
	}
	kit := &Kit{SetID: groups[0][0].SetID(), Scheme: scheme}
	for g, members := range groups {
		for m := range members {
			s := &members[m]
			kit.Shares = append(kit.Shares, Share{
				Number: len(kit.Shares) + 1, Group: g + 1, GroupCount: len(groups), GroupThreshold: scheme.GroupThreshold,
				Member: m + 1, MemberCount: len(members), MemberThreshold: s.MemberThreshold, Words: s.Mnemonic(),
			})
			clear(s.Value)
		}
	}
	return kit, nil
}

// Split checks the phrase against the organisation's key check with the
// service (keys.ErrKeyCheck: it is another organisation's phrase), splits
// it and records the split in the org's audit log (recovery-split, admins
// and owners). The kit is returned only once the split is recorded.
func Split(ctx context.Context, a *member.Account, orgID, phrase string, scheme slip39.Scheme, passphrase []byte) (*Kit, error) {
	org, err := a.CheckPhrase(ctx, orgID, phrase)
	if err != nil {
		return nil, err
	}
	kit, err := NewKit(rand.Reader, phrase, scheme, passphrase)
	if err != nil {
		return nil, err
	}
	kit.OrgID, kit.OrgName = orgID, org.Name
	if err := RecordSplit(ctx, a, orgID, kit); err != nil {
		return nil, err
	}
	return kit, nil
}

// RecordSplit records a kit in the org's audit log: its share set and
// scheme, nothing of the shares.
func RecordSplit(ctx context.Context, a *member.Account, orgID string, kit *Kit) error {
	return a.RecordEvent(ctx, orgID, api.AuditEventRequest{Action: api.EventRecoverySplit, Set: kit.SetID, Scheme: kit.Scheme.String()})
}

// Collector gathers the shares of one set as a person types them, one at
// a time, and says after each what is still needed.
type Collector struct {
	set      slip39.Set
	accepted int
}

// Next is the number of the share asked for next (from 1): refused
// shares do not count.
func (c *Collector) Next() int { return c.accepted + 1 }

// Add reads one share and adds it to the set. A refusal (not a share,
// another set, a repeat, not needed) names the share's number and leaves
// the set as it was.
func (c *Collector) Add(text string) error {
	sh, err := slip39.ParseShare(text)
	if err == nil {
		err = c.set.Add(sh)
	}
	if err != nil {
		return &ShareError{Number: c.Next(), Err: err}
	}
	c.accepted++
	return nil
}

// Progress is what the set has and still needs.
func (c *Collector) Progress() slip39.Progress { return c.set.Progress() }

// Complete reports whether the shares so far recover the phrase.
func (c *Collector) Complete() bool { return c.set.Progress().Complete() }

// SetID is the set's identifier ("" before the first share).
func (c *Collector) SetID() string {
	if f := c.set.First(); f != nil {
		return f.SetID()
	}
	return ""
}

// Phrase combines a complete set under the passphrase into the recovery
// phrase. A wrong passphrase gives a phrase too, another one: only the
// org's key check tells (Recover).
func (c *Collector) Phrase(passphrase []byte) (string, error) {
	entropy, err := c.set.Secret(passphrase)
	if err != nil {
		return "", err
	}
	defer clear(entropy)
	if len(entropy) != 32 {
		return "", fmt.Errorf("the shares hold a %d-bit secret, not a capy recovery phrase (256 bits)", len(entropy)*8)
	}
	return keys.PhraseFromEntropy(entropy)
}

// Recover combines the collected shares, checks the phrase they give
// against the org's key check (ErrWrongPassphrase otherwise), records the
// recovery (recover from=shares) and rebuilds key.enc as `capy recover`
// does with the phrase. Nothing is written before the check passes.
func Recover(ctx context.Context, a *member.Account, orgID string, c *Collector, passphrase []byte) error {
	phrase, err := c.Phrase(passphrase)
	if err != nil {
		return err
	}
	err = a.RecoverWith(ctx, orgID, phrase, api.AuditEventRequest{Action: api.EventRecover, From: "shares", Set: c.SetID()})
	if errors.Is(err, keys.ErrKeyCheck) {
		return ErrWrongPassphrase
	}
	return err
}

// ShareError is a refused share, by its number.
type ShareError struct {
	Number int
	Err    error
}

func (e *ShareError) Error() string { return fmt.Sprintf("share %d: %v", e.Number, e.Err) }
func (e *ShareError) Unwrap() error { return e.Err }

// Info is what one share says about itself: enough for its holder to
// check it, nothing about the secret.
type Info struct {
	SetID             string `json:"set"`
	Words             int    `json:"words"`
	Bits              int    `json:"bits"` // of the secret
	Group             int    `json:"group"`
	GroupCount        int    `json:"group_count"`
	GroupsNeeded      int    `json:"groups_needed"`
	Member            int    `json:"member"`
	MemberThreshold   int    `json:"member_threshold"`
	Extendable        bool   `json:"extendable"`
	IterationExponent int    `json:"iteration_exponent"`
}

// Check reads one share alone, offline: word list, length, checksum,
// padding. It cannot tell whether the share fits the others of its set
// (only combining does).
func Check(text string) (Info, error) {
	sh, err := slip39.ParseShare(text)
	if err != nil {
		return Info{}, err
	}
	defer clear(sh.Value)
	return Info{
		SetID: sh.SetID(), Words: len(strings.Fields(text)), Bits: len(sh.Value) * 8,
		Group: sh.GroupIndex + 1, GroupCount: sh.GroupCount, GroupsNeeded: sh.GroupThreshold,
		Member: sh.MemberIndex + 1, MemberThreshold: sh.MemberThreshold,
		Extendable: sh.Extendable, IterationExponent: sh.IterationExponent,
	}, nil
}

// ShareLines returns the share lines of a share file or of stdin: blank
// lines and lines starting with '#' are skipped, every other line is a
// share (or, after the shares, a passphrase).
func ShareLines(text string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, l)
	}
	return out
}

// IsShareLine reports whether a line of input is meant as a share: a
// line the share parser accepts. Used to refuse an extra share where a
// passphrase is expected.
func IsShareLine(line string) bool {
	_, err := slip39.ParseShare(line)
	return err == nil
}

// FileText is the content of a share file: '#' comment lines saying what
// the share is, then the words on one line.
func FileText(kit *Kit, s Share) string {
	var b strings.Builder
	if kit.OrgID != "" {
		fmt.Fprintf(&b, "# capy recovery share %d of %d for organisation %s (%s)\n", s.Number, kit.Total(), commentSafe(kit.OrgName), kit.OrgID)
	} else { // capy init --split: the org is created after its shares are shown
		fmt.Fprintf(&b, "# capy recovery share %d of %d for a new organisation\n", s.Number, kit.Total())
	}
	fmt.Fprintf(&b, "# share set %s, %s: %s\n", kit.SetID, kit.Scheme, Describe(s))
	b.WriteString("# SLIP-39 shares; recover with: capy recover --shares --org " + orDefault(kit.OrgID, "ORG_ID") + "\n")
	b.WriteString("# keep it offline and apart from the other shares\n")
	b.WriteString(s.Words + "\n")
	return b.String()
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// commentSafe keeps a name the service chose on its comment line: no line
// break, no control character.
func commentSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// Describe says where a share sits: its group and what is needed.
func Describe(s Share) string {
	if s.GroupCount == 1 {
		return fmt.Sprintf("any %d of the %d shares recover the organisation", s.MemberThreshold, s.MemberCount)
	}
	return fmt.Sprintf("group %d of %d (%d of its %d shares needed), %d of the %d groups needed", s.Group, s.GroupCount, s.MemberThreshold, s.MemberCount, s.GroupThreshold, s.GroupCount)
}
