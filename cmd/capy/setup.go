package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/checkout"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/member"
	"github.com/capy-oss/capy/internal/recovery"
	"github.com/capy-oss/capy/internal/workspace"
	"github.com/urfave/cli/v2"
)

// accountFor returns the signed-in account for a service, signing in
// interactively when possible.
func accountFor(c *cli.Context, u *ui, home *workspace.Home, service, email string) (*member.Account, error) {
	cl, err := newClient(u, service)
	if err != nil {
		return nil, err
	}
	a, err := member.SignedIn(home, cl)
	if errors.Is(err, member.ErrNotSignedIn) && (u.stdinIsTTY() || email != "") {
		return login(c.Context, u, home, service, email)
	}
	return a, err
}

func slug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0:
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-_")
	if len(out) > 63 {
		out = out[:63]
	}
	if out == "" {
		out = "app"
	}
	return out
}

// confirmPhrase asks for three random words of the phrase.
func confirmPhrase(u *ui, phrase string) error {
	words := strings.Fields(phrase)
	for i := 0; i < 3; i++ {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(words))))
		k := int(n.Int64())
		got, err := u.line(fmt.Sprintf("Word %d of the phrase: ", k+1))
		if err != nil {
			return err
		}
		if strings.ToLower(strings.TrimSpace(got)) != words[k] {
			return withHint(errors.New("that is not the word written down; nothing was created"), "phrase-mismatch", "run `capy init` again and copy the new phrase carefully")
		}
	}
	return nil
}

func cmdInit(u *ui, c *cli.Context) error {
	ctx := c.Context
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(wd, workspace.Dir, "project.json")); err == nil {
		return withHint(errors.New("this repository is already linked to a capy project"), "already-initialised", "run `capy` to sync")
	}
	file := c.String("file")
	if err := workspace.CheckEnvFilePath(file); err != nil {
		return usageError("%v", err)
	}
	orgArg, newOrg := c.String("org"), c.String("new-org")
	if orgArg != "" && newOrg != "" {
		return usageError("pass --org (an organisation you belong to) or --new-org (a new one), not both")
	}
	if c.String("split") != "" && newOrg == "" {
		return usageError("--split shows a new organisation's recovery phrase as shares: it goes with --new-org")
	}
	if err := checkout.CheckNew(wd, file); err != nil {
		return err
	}
	projName := c.String("project")
	if projName == "" {
		projName = slug(filepath.Base(wd))
	}
	service, err := serviceURL(c)
	if err != nil {
		return err
	}
	home, err := workspace.OpenHome()
	if err != nil {
		return err
	}
	if newOrg != "" {
		return initNewOrg(u, c, home, service, wd, newOrg, projName, file)
	}
	if !c.Bool("yes") && !u.stdinIsTTY() {
		// The first sync asks before it pushes the file's names: refused
		// here, before the project is created, rather than after.
		if fi, err := os.Stat(filepath.Join(wd, file)); err == nil && fi.Size() > 0 {
			return usageError("init pushes the names in %s to the new project and asks first; without a terminal pass --yes", file)
		}
	}
	a, err := accountFor(c, u, home, service, "")
	if err != nil {
		return err
	}
	org, err := chooseOrg(u, c, a, orgArg)
	if err != nil {
		return err
	}
	l, err := checkout.InitInOrg(ctx, checkoutConfig(u), a, home, wd, org, projName, file)
	if err != nil {
		return err
	}
	u.done("created project %q in organisation %q (%s) with environment development", projName, inert(org.Name), org.ID)
	res, err := l.Sync(ctx, c.Bool("yes"))
	if err := reportSync(u, res, err); err != nil {
		return err
	}
	u.say("Commit .capy/project.json. Members of %s reach this project with `capy link %s` in a clone (no new invite).", inert(org.Name), projName)
	return nil
}

// chooseOrg finds the organisation `capy init` adds a project to: the one
// --org names, or, on a terminal, the one the person picks from theirs.
// It never creates one: that takes --new-org, so that a second repository
// cannot split a team into two organisations by accident.
func chooseOrg(u *ui, c *cli.Context, a *member.Account, orgArg string) (*api.Org, error) {
	orgs, err := a.Orgs(c.Context)
	if err != nil {
		return nil, err
	}
	if orgArg != "" {
		org, err := member.FindOrg(orgs, orgArg)
		switch {
		case errors.Is(err, member.ErrNoSuchOrg):
			return nil, &cliError{code: "no-such-org", exit: exitUsage, err: err,
				msg:  err.Error() + " (`capy init --org` adds a project to an organisation you belong to; nothing was created)",
				hint: fmt.Sprintf("`capy orgs` lists yours; `capy init --new-org %s` creates a new organisation, with its own recovery phrase", orgArg)}
		case errors.Is(err, member.ErrAmbiguousOrg):
			return nil, usageError("%v; pass --org ID", err)
		}
		return org, err
	}
	if len(orgs) == 0 {
		return nil, &cliError{code: "no-org", exit: exitUsage,
			msg:  "you belong to no organisation yet; nothing was created",
			hint: "`capy init --new-org NAME` creates one (it shows its recovery phrase); to join a team's, `capy redeem CODE` first"}
	}
	if !u.stdinIsTTY() {
		return nil, usageError("which organisation? pass --org NAME|ID (`capy orgs` lists your %d), or --new-org NAME for a new one", len(orgs))
	}
	u.say("Create the project in which organisation?")
	for i, o := range orgs {
		u.say("  %2d  %-24s %s (%s)", i+1, inert(o.Name), o.ID, inert(string(o.Role)))
	}
	got, err := u.line("Number: ")
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(got))
	if err != nil || n < 1 || n > len(orgs) {
		return nil, withHint(fmt.Errorf("%q is not one of the numbers shown; nothing was created", got), "declined",
			"run `capy init` again, or pass --org NAME|ID (--new-org NAME for a new organisation)")
	}
	return &orgs[n-1], nil
}

// initNewOrg is `capy init --new-org NAME`: a new organisation, with its
// recovery phrase shown once, and the project in it.
func initNewOrg(u *ui, c *cli.Context, home *workspace.Home, service, wd, orgName, projName, file string) error {
	ctx := c.Context
	if !c.Bool("yes") && !u.stdinIsTTY() {
		return usageError("init --new-org shows a recovery phrase and asks you to confirm it; without a terminal pass --yes")
	}
	var scheme *recovery.Scheme
	if s := c.String("split"); s != "" {
		g, err := recovery.ParseScheme(s)
		if err != nil {
			return usageError("--split: %v", err)
		}
		scheme = &recovery.Scheme{GroupThreshold: 1, Groups: []recovery.Group{g}}
		if err := scheme.Check(); err != nil {
			return usageError("--split: %v", err)
		}
	}
	a, err := accountFor(c, u, home, service, "")
	if err != nil {
		return err
	}
	// Ask before a phrase is shown and written down for nothing.
	if may, err := a.MayCreateOrgs(ctx); err != nil {
		return err
	} else if !may {
		return &cliError{code: string(api.POrgCreationNotAllowed), exit: exitForbidden, msg: orgCreationRefused, hint: orgCreationHint}
	}
	// The warning is a courtesy: a listing that fails does not stop the
	// creation the person asked for.
	orgs, _ := a.Orgs(ctx)
	if same, err := member.FindOrg(orgs, orgName); err == nil || errors.Is(err, member.ErrAmbiguousOrg) {
		what := "an organisation"
		if same != nil {
			what = fmt.Sprintf("%s (%s)", inert(same.Name), same.ID)
		}
		u.warn("you already belong to %s named %q: this creates another, with its own recovery phrase and members; `capy init --org %s` adds the project to the existing one",
			what, inert(orgName), inert(orgName))
	}
	phrase, err := checkout.NewPhrase()
	if err != nil {
		return err
	}
	var kit *recovery.Kit
	if scheme != nil {
		// The phrase is never shown: its shares are, one at a time on a
		// terminal (on stderr, where init shows the phrase).
		if kit, err = recovery.NewKit(rand.Reader, phrase, *scheme, nil); err != nil {
			return err
		}
		u.say("Your organisation's recovery shares (%s, set %s): give each to its holder.", kit.Scheme, kit.SetID)
		if err := showKit(u, kit, u.stderr, "", false); err != nil {
			return err
		}
	} else {
		u.showPhrase(phrase)
	}
	if !c.Bool("yes") {
		confirm := func() error { return confirmPhrase(u, phrase) }
		if kit != nil {
			confirm = func() error { return confirmShares(u, kit) }
		}
		if err := confirm(); err != nil {
			return err
		}
	}
	l, err := checkout.Init(ctx, checkoutConfig(u), a, home, wd, phrase, orgName, projName, file)
	if err != nil {
		return err
	}
	u.done("created organisation %q (%s) and project %q with environment development", inert(l.Org.Name), l.Org.ID, projName)
	if kit != nil {
		kit.OrgID, kit.OrgName = l.Org.ID, l.Org.Name
		if err := recovery.RecordSplit(ctx, a, l.Org.ID, kit); err != nil {
			u.warn("the split into shares (set %s) could not be recorded in the audit log: %v", kit.SetID, err)
		}
		u.say("Recover this organisation with `capy recover --shares --org %s`.", l.Org.ID)
	}
	res, err := l.Sync(ctx, c.Bool("yes"))
	if err := reportSync(u, res, err); err != nil {
		return err
	}
	u.say("Commit .capy/project.json. Teammates join with `capy invite EMAIL`; a second repository joins this organisation with `capy init --org %s`.", inert(l.Org.Name))
	return nil
}

func cmdRecover(u *ui, c *cli.Context) error {
	if c.Args().Len() > 0 {
		return usageError("the phrase is never taken as an argument (shell history); type it at the prompt or pipe it in")
	}
	service, err := serviceURL(c)
	if err != nil {
		return err
	}
	orgID := c.String("org")
	if orgID == "" {
		wd, _ := os.Getwd()
		r, err := workspace.FindRepo(wd)
		if err != nil {
			return usageError("pass --org ID, or run this in a linked repository")
		}
		orgID = r.Project.Org
	}
	if err := ident.CheckID(ident.Org, orgID); err != nil {
		return usageError("%v", err)
	}
	home, err := workspace.OpenHome()
	if err != nil {
		return err
	}
	a, err := accountFor(c, u, home, service, "")
	if err != nil {
		return err
	}
	if c.Bool("shares") {
		return cmdRecoverShares(u, c, a, orgID)
	}
	if c.Bool("passphrase") {
		return usageError("--passphrase goes with --shares (a recovery phrase has no passphrase)")
	}
	typed, err := u.secret("Recovery phrase (24 words): ")
	if err != nil {
		return err
	}
	if err := u.wait("recovering", func() error { return a.Recover(c.Context, orgID, typed) }); err != nil {
		return err
	}
	u.done("this machine holds the key of %s again", orgID)
	return nil
}

func cmdLink(u *ui, c *cli.Context) error {
	ctx := c.Context
	if c.Args().Len() != 1 {
		return usageError("link takes one argument: the project name or id")
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(wd, workspace.Dir, "project.json")); err == nil {
		return withHint(errors.New("this repository is already linked"), "already-initialised", "run `capy` to sync")
	}
	if err := checkout.CheckNew(wd); err != nil {
		return err
	}
	service, err := serviceURL(c)
	if err != nil {
		return err
	}
	home, err := workspace.OpenHome()
	if err != nil {
		return err
	}
	a, err := accountFor(c, u, home, service, "")
	if err != nil {
		return err
	}
	orgs, err := a.Orgs(ctx)
	if err != nil {
		return err
	}
	var org *api.Org
	switch arg := c.String("org"); {
	case arg != "":
		if org, err = member.FindOrg(orgs, arg); err != nil {
			return usageError("%v (`capy orgs` lists yours)", err)
		}
	case len(orgs) == 0:
		return &cliError{code: "no-org", exit: exitUsage, msg: "you belong to no organisation on this service",
			hint: "join one with `capy redeem CODE` (ask an admin for `capy invite`), or create one with `capy init --new-org NAME`"}
	case len(orgs) > 1:
		return usageError("you belong to %d organisations; pass --org NAME|ID (`capy orgs` lists them)", len(orgs))
	default:
		org = &orgs[0]
	}
	l, err := checkout.Link(ctx, checkoutConfig(u), a, home, wd, org.ID, c.Args().First())
	if err != nil {
		return err
	}
	u.done("linked to project %s (%s)", inert(c.Args().First()), l.Project.Repo.Project.Project)
	res, err := l.Sync(ctx, c.Bool("yes"))
	return reportSync(u, res, err)
}

func cmdRedeem(u *ui, c *cli.Context) error {
	if c.Args().Len() != 1 {
		return usageError("redeem takes one argument: the code")
	}
	text := c.Args().First()
	if text == "-" { // read the code from stdin (keeps it out of shell history)
		line, err := u.line("Code: ")
		if err != nil {
			return err
		}
		text = line
	}
	if strings.HasPrefix(strings.TrimSpace(text), "capy-deploy-") {
		return &cliError{code: "bad-code", exit: exitUsage, msg: "wrong kind of code: this is a deploy code, not a redeem code",
			hint: "a deploy code is for CI and servers: set CAPY_DEPLOY_CODE to it and run `capy ci` (then `capy run -- CMD`)"}
	}
	code, err := member.ParseRedeemCode(text)
	if err != nil {
		return err
	}
	host := code.URL
	if !c.Bool("yes") {
		if !u.stdinIsTTY() {
			return usageError("this code is for the service at %s; pass --yes to accept it without a prompt", host)
		}
		u.say("This code is for the capy service at %s (organisation %s).", host, code.OrgID)
		if !u.confirm("Contact it?") {
			return withHint(errors.New("nothing was sent"), "declined", "")
		}
	}
	home, err := workspace.OpenHome()
	if err != nil {
		return err
	}
	a, err := accountFor(c, u, home, code.URL, c.String("email"))
	if err != nil {
		return err
	}
	var res *api.RedeemResponse
	if err := u.wait("redeeming", func() error {
		var err error
		res, err = a.Redeem(c.Context, code)
		return err
	}); err != nil {
		return err
	}
	if res.Invite.Kind == api.InviteDevice {
		u.done("this machine now holds your key for %q", res.Org.Name)
	} else {
		u.done("joined %q as %s", res.Org.Name, res.Org.Role)
	}
	wd, _ := os.Getwd()
	if r, err := workspace.FindRepo(wd); err == nil && r.Project.Org == code.OrgID {
		u.say("Run `capy` to sync this repository.")
	} else {
		u.say("In a clone of the project's repository, run `capy`; or `capy link PROJECT` in a new one.")
	}
	return u.data(map[string]string{"org": res.Org.ID, "org_name": res.Org.Name, "role": string(res.Org.Role), "kind": res.Invite.Kind}, nil)
}
