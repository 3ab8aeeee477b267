package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/envsync"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/member"
	"github.com/capy-oss/capy/internal/workspace"
	"github.com/capy-oss/capy/internal/wrap"
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
	if err := checkCheckout(wd, file); err != nil {
		return err
	}
	if !c.Bool("yes") && !u.stdinIsTTY() {
		return usageError("init shows a recovery phrase and asks you to confirm it; without a terminal pass --yes")
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
	// Ask before a phrase is shown and written down for nothing.
	if may, err := a.MayCreateOrgs(ctx); err != nil {
		return err
	} else if !may {
		return &cliError{code: string(api.POrgCreationNotAllowed), exit: exitForbidden, msg: orgCreationRefused, hint: orgCreationHint}
	}
	phrase, err := keys.NewPhrase()
	if err != nil {
		return err
	}
	u.showPhrase(phrase)
	if !c.Bool("yes") {
		if err := confirmPhrase(u, phrase); err != nil {
			return err
		}
	}
	orgName := c.String("org")
	if orgName == "" {
		orgName = filepath.Base(wd)
	}
	projName := c.String("project")
	if projName == "" {
		projName = slug(filepath.Base(wd))
	}
	var (
		org *api.Org
		m   keys.MasterKey
		p   *workspace.Project
	)
	err = u.wait("creating the organisation", func() error {
		var err error
		if org, m, err = a.NewOrg(ctx, orgName, phrase); err != nil {
			return err
		}
		p, err = a.NewProject(ctx, &m, org.ID, projName, "development", file)
		return err
	})
	if err != nil {
		return err
	}
	repo := &workspace.Repo{Root: wd, Project: *p}
	if err := repo.SaveProject(); err != nil {
		return err
	}
	if err := ignoreFiles(repo); err != nil {
		return err
	}
	u.done("created organisation %q (%s) and project %q with environment development", org.Name, org.ID, projName)
	pr := &project{u: u, home: home, repo: repo, state: &workspace.State{Version: 1, Current: "development", Environments: map[string]workspace.EnvState{}}, cl: a.Client}
	pin := p.Environments["development"]
	kr := &envsync.MemberKeys{PK: m.ProjectKey(org.ID, p.Project), ProjectID: p.Project, EnvID: pin.ID}
	if err := runSync(u, c, pr, nil, a, kr, "development", pin, envsync.Options{}); err != nil {
		return err
	}
	u.say("Commit .capy/project.json. Teammates join with `capy invite EMAIL`.")
	return nil
}

// checkCheckout refuses, before anything is created on the service, a
// checkout whose files capy would refuse to write later: a .capy, an
// environment file or an ignore file that is a symbolic link (or under
// one), or not a regular file (workspace.ErrUnsafePath).
//
// An environment file that git tracks is refused too: its values are in
// the repository's history in plaintext (rotate them), and a later sync
// would refuse it anyway (tracked-file), after the org was created.
func checkCheckout(root string, envFiles ...string) error {
	r := &workspace.Repo{Root: root}
	for _, rel := range append([]string{workspace.Dir + "/project.json", ".gitignore", ".dockerignore"}, envFiles...) {
		if _, err := r.Path(rel); err != nil {
			return err
		}
	}
	tracked, err := r.GitTracked(envFiles...)
	if err != nil {
		return err
	}
	if len(tracked) > 0 {
		return &cliError{code: "tracked-file", exit: exitForbidden,
			msg: fmt.Sprintf("git tracks %s: its values are in the repository's history (treat them as exposed) and capy will not sync from a tracked file; nothing was created",
				strings.Join(tracked, " and ")),
			hint: fmt.Sprintf("`git rm --cached %s`, commit, rotate those secrets, then run this again", strings.Join(tracked, " "))}
	}
	return nil
}

// ignoreFiles keeps env files and local state out of git and images.
func ignoreFiles(repo *workspace.Repo) error {
	lines := []string{".capy/state.json", ".capy/decrypt"}
	for _, n := range repo.EnvNames() {
		lines = append(lines, "/"+repo.Project.Environments[n].File)
	}
	if err := repo.EnsureIgnored(".gitignore", lines); err != nil {
		return err
	}
	return repo.EnsureIgnored(".dockerignore", []string{".capy/"})
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
	typed, err := u.secret("Recovery phrase (24 words): ")
	if err != nil {
		return err
	}
	phrase, err := keys.ParsePhrase(typed)
	if err != nil {
		return err
	}
	if err := u.wait("recovering", func() error { return a.Recover(c.Context, orgID, phrase) }); err != nil {
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
	if err := checkCheckout(wd); err != nil {
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
	orgID := c.String("org")
	if orgID == "" {
		orgs, err := a.Client.Orgs(ctx, "", 200)
		if err != nil {
			return err
		}
		if len(orgs.Items) != 1 {
			return usageError("you belong to %d organisations; pass --org ID (see `capy whoami`)", len(orgs.Items))
		}
		orgID = orgs.Items[0].ID
	}
	m, err := a.Unlock(ctx, orgID)
	if err != nil {
		return err
	}
	prjID := c.Args().First()
	if ident.CheckID(ident.Project, prjID) != nil {
		page, err := a.Client.Projects(ctx, orgID, "", 200)
		if err != nil {
			return err
		}
		prjID = ""
		for _, pr := range page.Items {
			if pr.Name == c.Args().First() {
				prjID = pr.ID
			}
		}
		if prjID == "" {
			return usageError("no project %q in %s", c.Args().First(), orgID)
		}
	}
	p, err := a.Link(ctx, &m, orgID, prjID, nil)
	if err != nil {
		return err
	}
	repo := &workspace.Repo{Root: wd, Project: *p}
	if err := repo.SaveProject(); err != nil {
		return err
	}
	if err := ignoreFiles(repo); err != nil {
		return err
	}
	u.done("linked to project %s", prjID)
	pr := &project{u: u, home: home, repo: repo, state: &workspace.State{Version: 1, Environments: map[string]workspace.EnvState{}}, cl: a.Client}
	name, pin, _ := pr.env("")
	kr := &envsync.MemberKeys{PK: m.ProjectKey(orgID, prjID), ProjectID: prjID, EnvID: pin.ID}
	return runSync(u, c, pr, nil, a, kr, name, pin, envsync.Options{})
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
	code, err := wrap.ParseRedeemCode(text)
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
	return u.data(map[string]string{"org": res.Org.ID, "role": string(res.Org.Role), "kind": res.Invite.Kind}, nil)
}
