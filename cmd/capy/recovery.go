package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"

	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/member"
	"github.com/capy-oss/capy/internal/recovery"
	"github.com/capy-oss/capy/internal/workspace"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

// The recovery kit's words: flags, prompts and printing. What it does
// (check the phrase, split, record, combine, recover) is in
// internal/recovery.

// orgFor is --org, else the current repository's org.
func orgFor(c *cli.Context) (string, error) {
	orgID := c.String("org")
	if orgID == "" {
		wd, _ := os.Getwd()
		r, err := workspace.FindRepo(wd)
		if err != nil {
			return "", usageError("pass --org ID, or run this in a linked repository")
		}
		orgID = r.Project.Org
	}
	if err := ident.CheckID(ident.Org, orgID); err != nil {
		return "", usageError("%v", err)
	}
	return orgID, nil
}

// splitScheme reads --threshold/--shares or --group/--groups-needed.
func splitScheme(c *cli.Context) (recovery.Scheme, error) {
	groups := c.StringSlice("group")
	simple := c.IsSet("threshold") || c.IsSet("shares")
	switch {
	case simple && len(groups) > 0:
		return recovery.Scheme{}, usageError("use --threshold K --shares N, or --group K-of-N (repeated) with --groups-needed, not both")
	case simple:
		if !c.IsSet("threshold") || !c.IsSet("shares") {
			return recovery.Scheme{}, usageError("--threshold K and --shares N go together (any K of N shares recover the organisation)")
		}
		k, n := c.Int("threshold"), c.Int("shares")
		if k < 1 || n > recovery.MaxShareCount || k > n {
			return recovery.Scheme{}, usageError("--threshold %d --shares %d: need 1 ≤ threshold ≤ shares ≤ %d", k, n, recovery.MaxShareCount)
		}
		g := recovery.Group{Threshold: k, Count: n}
		s := recovery.Scheme{GroupThreshold: 1, Groups: []recovery.Group{g}}
		if err := s.Check(); err != nil {
			return recovery.Scheme{}, usageError("%v", err)
		}
		return s, nil
	case len(groups) > 0:
		s := recovery.Scheme{GroupThreshold: c.Int("groups-needed")}
		for _, g := range groups {
			gr, err := recovery.ParseScheme(g)
			if err != nil {
				return recovery.Scheme{}, usageError("--group: %v", err)
			}
			s.Groups = append(s.Groups, gr)
		}
		if !c.IsSet("groups-needed") {
			if len(groups) > 1 {
				return recovery.Scheme{}, usageError("with several groups, say how many must take part: --groups-needed G")
			}
			s.GroupThreshold = 1
		}
		if err := s.Check(); err != nil {
			return recovery.Scheme{}, usageError("%v", err)
		}
		return s, nil
	}
	return recovery.Scheme{}, usageError("say how to split: --threshold K --shares N (e.g. 2 of 3), or --group K-of-N … --groups-needed G")
}

// readPassphrase asks for the kit's passphrase: twice, hidden, on a
// terminal; else one line of stdin.
func readPassphrase(u *ui, confirm bool) ([]byte, error) {
	p, err := u.secret("Passphrase: ")
	if err != nil {
		return nil, err
	}
	if p == "" {
		return nil, usageError("the passphrase is empty; leave out --passphrase for none")
	}
	if confirm && u.stdinIsTTY() {
		again, err := u.secret("Passphrase again: ")
		if err != nil {
			return nil, err
		}
		if again != p {
			return nil, withHint(errors.New("the two passphrases differ; nothing was split"), "passphrase-mismatch", "run the command again")
		}
	}
	return []byte(p), nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func cmdRecoverySplit(u *ui, c *cli.Context) error {
	if c.Args().Len() > 0 {
		return usageError("the phrase is never taken as an argument (shell history); type it at the prompt or pipe it in")
	}
	scheme, err := splitScheme(c)
	if err != nil {
		return err
	}
	orgID, err := orgFor(c)
	if err != nil {
		return err
	}
	service, err := serviceURL(c)
	if err != nil {
		return err
	}
	out := c.String("out")
	if out != "" {
		if err := prepareOutDir(out); err != nil {
			return err
		}
	}
	typed, err := u.secret("Recovery phrase (24 words): ")
	if err != nil {
		return err
	}
	phrase, err := recovery.ParsePhrase(typed)
	if err != nil {
		return err
	}
	var passphrase []byte
	if c.Bool("passphrase") {
		if passphrase, err = readPassphrase(u, true); err != nil {
			return err
		}
	}
	home, err := workspace.OpenHome()
	if err != nil {
		return err
	}
	a, err := accountFor(c, u, home, service, "")
	if err != nil {
		return err
	}
	var kit *recovery.Kit
	if err := u.wait("checking the phrase and recording the split", func() error {
		kit, err = recovery.Split(c.Context, a, orgID, phrase, scheme, passphrase)
		return err
	}); err != nil {
		return err
	}
	if err := showKit(u, kit, u.stdout, out, u.json); err != nil {
		return err
	}
	u.done("split the recovery phrase of %s into %d shares (set %s, %s); the split is in the audit log", orgID, kit.Total(), kit.SetID, kit.Scheme)
	if len(passphrase) > 0 {
		u.say("The shares need the passphrase too: keep it apart from every share.")
	}
	u.say("Earlier shares and the phrase itself stay valid: destroy what you replace.")
	return nil
}

// prepareOutDir makes the share directory (0700) if needed.
func prepareOutDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("share directory: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return usageError("--out %s is not a directory", dir)
	}
	return nil
}

// shareFile is where --out writes a share.
func shareFile(dir string, kit *recovery.Kit, s recovery.Share) string {
	return filepath.Join(dir, fmt.Sprintf("capy-share-%s-%d.txt", kit.SetID, s.Number))
}

// showKit hands the shares out: as 0600 files in dir (--out), as JSON,
// one at a time on a terminal, or all at once (share-file text) to w.
func showKit(u *ui, kit *recovery.Kit, w io.Writer, dir string, asJSON bool) error {
	type jsonShare struct {
		recovery.Share
		File string `json:"file,omitempty"`
	}
	if dir != "" {
		for _, s := range kit.Shares {
			if _, err := os.Lstat(shareFile(dir, kit, s)); err == nil {
				return fmt.Errorf("%s exists; choose another --out directory", shareFile(dir, kit, s))
			}
		}
		var files []string
		for _, s := range kit.Shares {
			path := shareFile(dir, kit, s)
			if created, err := recovery.WriteShareFile(path, kit, s); err != nil || !created {
				return fmt.Errorf("write %s: %v (the shares written so far are in %s; the split is recorded: delete them and split again)", path, err, dir)
			}
			files = append(files, path)
		}
		u.say("Wrote %d share files (0600) to %s: print or copy each for its holder, then delete them.", len(files), dir)
		return u.data(map[string]any{"org": kit.OrgID, "set": kit.SetID, "scheme": kit.Scheme.String(), "files": files}, func(w io.Writer) {
			for _, f := range files {
				fmt.Fprintln(w, f)
			}
		})
	}
	if asJSON {
		shares := make([]jsonShare, len(kit.Shares))
		for i, s := range kit.Shares {
			shares[i] = jsonShare{Share: s}
		}
		return u.data(map[string]any{"org": kit.OrgID, "set": kit.SetID, "scheme": kit.Scheme.String(), "shares": shares}, nil)
	}
	if isTerminal(w) && u.stdinIsTTY() {
		return showOneByOne(u, w, kit)
	}
	for i, s := range kit.Shares {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprint(w, recovery.FileText(kit, s))
	}
	return nil
}

// showOneByOne shows one share at a time on a terminal, cleared before
// the next, so that each holder can write theirs down alone.
func showOneByOne(u *ui, w io.Writer, kit *recovery.Kit) error {
	const clearScreen = "\x1b[2J\x1b[H"
	for _, s := range kit.Shares {
		fmt.Fprint(w, clearScreen)
		fmt.Fprintf(w, "Recovery share %d of %d, set %s (%s)\n%s\n\n", s.Number, kit.Total(), kit.SetID, kit.Scheme, recovery.Describe(s))
		words := strings.Fields(s.Words)
		for i := 0; i < len(words); i += 4 {
			var row []string
			for j := i; j < i+4 && j < len(words); j++ {
				row = append(row, fmt.Sprintf("%2d. %-9s", j+1, words[j]))
			}
			fmt.Fprintf(w, "   %s\n", strings.Join(row, " "))
		}
		fmt.Fprintln(w)
		if _, err := u.line(fmt.Sprintf("Press Enter once share %d is written down (the screen is then cleared). ", s.Number)); err != nil {
			fmt.Fprint(w, clearScreen)
			return err
		}
	}
	fmt.Fprint(w, clearScreen)
	return nil
}

func cmdRecoveryCheck(u *ui, c *cli.Context) error {
	if c.Args().Len() > 1 {
		return usageError("check takes at most one argument: a share file (else the share is read from a prompt or stdin)")
	}
	var lines []string
	if c.Args().Len() == 1 {
		data, err := readShareFile(c.Args().First())
		if err != nil {
			return err
		}
		lines = recovery.ShareLines(string(data))
	} else if u.stdinIsTTY() {
		typed, err := u.secret("Share (20 or 33 words): ")
		if err != nil {
			return err
		}
		lines = recovery.ShareLines(typed)
	} else {
		data, err := io.ReadAll(io.LimitReader(u.in, 1<<16))
		if err != nil {
			return err
		}
		lines = recovery.ShareLines(string(data))
	}
	if len(lines) != 1 {
		return usageError("give exactly one share (found %d lines that are not blank or # comments)", len(lines))
	}
	info, err := recovery.Check(lines[0])
	if err != nil {
		return err
	}
	where := fmt.Sprintf("share %d; any %d shares of the set recover the organisation", info.Member, info.MemberThreshold)
	if info.GroupCount > 1 || info.GroupsNeeded > 1 {
		where = fmt.Sprintf("group %d of %d, share %d; %d shares of the group and %d of the %d groups are needed", info.Group, info.GroupCount, info.Member, info.MemberThreshold, info.GroupsNeeded, info.GroupCount)
	}
	u.done("the share is well-formed (%d words, checksum correct): set %s, %s", info.Words, info.SetID, where)
	u.say("Whether it fits the other shares of its set shows only when they are combined.")
	return u.data(info, nil)
}

// readShareFile reads a share file a holder names (bounded; it need not
// be private: a holder may keep it anywhere).
func readShareFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, 1<<16))
}

// readShares collects shares for `capy recover --shares`, after the
// passphrase (--passphrase; on stdin its first line): on a terminal one
// hidden prompt per share, a refused share asked again; without one,
// stdin lines (blank and # lines skipped), a refused share ending the
// command, and any share after the set is complete refused. After each
// share it says what is still needed.
func readShares(u *ui, askPassphrase bool) (*recovery.Collector, []byte, error) {
	var pass []byte
	if askPassphrase {
		p, err := readPassphrase(u, false)
		if err != nil {
			return nil, nil, err
		}
		pass = p
	}
	var col recovery.Collector
	accepted := func() {
		u.done("share %d accepted (set %s): %s", col.Next()-1, col.SetID(), col.Progress())
	}
	if u.stdinIsTTY() {
		for !col.Complete() {
			typed, err := u.secret(fmt.Sprintf("Share %d: ", col.Next()))
			if err != nil {
				return nil, nil, err
			}
			if strings.TrimSpace(typed) == "" {
				continue
			}
			if err := col.Add(typed); err != nil {
				u.warn("%v; type it again (or another share)", err)
				continue
			}
			accepted()
		}
		return &col, pass, nil
	}
	for {
		line, rerr := u.in.ReadString('\n')
		if text := strings.TrimSpace(line); text != "" && !strings.HasPrefix(text, "#") {
			if col.Complete() {
				if !recovery.IsShareLine(text) {
					return nil, nil, usageError("unexpected input after the shares")
				}
				return nil, nil, &recovery.ShareError{Number: col.Next(), Err: fmt.Errorf("%w: the shares before it already recover the phrase; give only those needed", recovery.ErrNotNeeded)}
			}
			if err := col.Add(text); err != nil {
				return nil, nil, err
			}
			accepted()
		}
		if rerr != nil {
			break
		}
	}
	if !col.Complete() {
		return nil, nil, &recovery.IncompleteError{Progress: col.Progress()}
	}
	return &col, pass, nil
}

// cmdRecoverShares is `capy recover --shares`, signed in as a.
func cmdRecoverShares(u *ui, c *cli.Context, a *member.Account, orgID string) error {
	col, pass, err := readShares(u, c.Bool("passphrase"))
	if err != nil {
		return err
	}
	if err := u.wait("combining the shares and recovering", func() error {
		return recovery.Recover(c.Context, a, orgID, col, pass)
	}); err != nil {
		if errors.Is(err, recovery.ErrWrongPassphrase) && len(pass) == 0 {
			return withHint(err, "wrong-passphrase", "if the shares were made with a passphrase, run again with --passphrase")
		}
		return err
	}
	u.done("this machine holds the key of %s again (from shares of set %s; recorded in the audit log)", orgID, col.SetID())
	return nil
}

// confirmShares asks for three random words of random shares, as init
// asks for words of the phrase.
func confirmShares(u *ui, kit *recovery.Kit) error {
	for range 3 {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(kit.Total())))
		share := kit.Shares[n.Int64()]
		words := strings.Fields(share.Words)
		k, _ := rand.Int(rand.Reader, big.NewInt(int64(len(words))))
		got, err := u.line(fmt.Sprintf("Word %d of share %d: ", k.Int64()+1, share.Number))
		if err != nil {
			return err
		}
		if strings.ToLower(strings.TrimSpace(got)) != words[k.Int64()] {
			return withHint(errors.New("that is not the word written down; nothing was created"), "phrase-mismatch", "run `capy init --split` again and copy the new shares carefully")
		}
	}
	return nil
}
