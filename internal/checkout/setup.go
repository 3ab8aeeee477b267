package checkout

import (
	"context"
	"fmt"
	"strings"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/envsync"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/member"
	"github.com/capy-oss/capy/internal/workspace"
)

// NewPhrase returns a new organisation's recovery phrase (24 words from
// crypto/rand): `capy init` shows it once before Init uses it.
func NewPhrase() (string, error) { return keys.NewPhrase() }

// Linked is a repository that Init or Link just linked: its project, and
// the first sync, still to run with the key the setup unlocked.
type Linked struct {
	Project *Project
	Org     *api.Org // the organisation Init created (nil after Link)

	account *member.Account
	kr      *envsync.MemberKeys
	env     string
	pin     workspace.EnvPin
}

// Sync runs the first sync of the linked repository's starting
// environment (yes: as SyncOptions.Yes).
func (l *Linked) Sync(ctx context.Context, yes bool) (*SyncResult, error) {
	p := l.Project
	// The first sync writes .env and state.json like every other: it takes
	// its turn (a `capy set` started in the new checkout meanwhile waits).
	release, err := p.lock()
	if err != nil {
		return nil, err
	}
	defer release()
	g, err := p.guardEnv(l.pin, yes)
	if err != nil {
		return nil, err
	}
	g.askFirstPush = true
	return p.sync(ctx, g, p.remote(l.account, l.pin), l.kr, l.env, l.pin, envsync.Options{})
}

// Init creates an organisation from phrase, a project with a development
// environment kept in envFile, and the repository's project.json and
// ignore entries in root (`capy init --new-org`).
func Init(ctx context.Context, cfg Config, a *member.Account, home *workspace.Home, root, phrase, orgName, projectName, envFile string) (*Linked, error) {
	var (
		org *api.Org
		m   keys.MasterKey
		prj *workspace.Project
	)
	err := cfg.UI.Wait("creating the organisation", func() error {
		var err error
		if org, m, err = a.NewOrg(ctx, orgName, phrase); err != nil {
			return err
		}
		prj, err = a.NewProject(ctx, &m, org.ID, projectName, "development", envFile)
		return err
	})
	if err != nil {
		return nil, err
	}
	return linkNew(cfg, a, home, root, org, &m, prj)
}

// InitInOrg creates a project with a development environment kept in
// envFile in an organisation the account already belongs to (`capy init
// --org`): its keys derive from the organisation's key, unlocked as every
// command does, so there is no new phrase, and every member reaches the
// project with `capy link` (no new invite).
func InitInOrg(ctx context.Context, cfg Config, a *member.Account, home *workspace.Home, root string, org *api.Org, projectName, envFile string) (*Linked, error) {
	m, err := a.Unlock(ctx, org.ID)
	if err != nil {
		return nil, err
	}
	prjs, err := a.Projects(ctx, org.ID)
	if err != nil {
		return nil, err
	}
	if _, taken := member.FindProject(prjs, projectName); taken {
		return nil, refuse(fmt.Errorf("%s already has a project named %q; nothing was created", org.Name, projectName),
			"already-exists", fmt.Sprintf("`capy link %s --org %s` attaches this repository to it; or pass --project NAME", projectName, org.ID))
	}
	var prj *workspace.Project
	err = cfg.UI.Wait("creating the project", func() error {
		var err error
		prj, err = a.NewProject(ctx, &m, org.ID, projectName, "development", envFile)
		return err
	})
	if err != nil {
		return nil, err
	}
	return linkNew(cfg, a, home, root, org, &m, prj)
}

// linkNew writes a new project's project.json and ignore entries in root.
func linkNew(cfg Config, a *member.Account, home *workspace.Home, root string, org *api.Org, m *keys.MasterKey, prj *workspace.Project) (*Linked, error) {
	repo := &workspace.Repo{Root: root, Project: *prj}
	if err := repo.SaveProject(); err != nil {
		return nil, err
	}
	if err := ignoreFiles(repo); err != nil {
		return nil, err
	}
	p := fresh(cfg, home, repo, a.Client, "development")
	pin := prj.Environments["development"]
	return &Linked{Project: p, Org: org, account: a, kr: memberKeysOf(m, prj, pin), env: "development", pin: pin}, nil
}

// Link attaches the repository in root to an existing project of orgID,
// named by id or name (`capy link`): every environment is pinned with the
// key derived from the organisation's key, never the service's word.
func Link(ctx context.Context, cfg Config, a *member.Account, home *workspace.Home, root, orgID, projectArg string) (*Linked, error) {
	m, err := a.Unlock(ctx, orgID)
	if err != nil {
		return nil, err
	}
	prjID := projectArg
	if ident.CheckID(ident.Project, prjID) != nil {
		prjs, err := a.Projects(ctx, orgID)
		if err != nil {
			return nil, err
		}
		pr, ok := member.FindProject(prjs, projectArg)
		if !ok {
			return nil, refuse(fmt.Errorf("no project %q in %s", projectArg, orgID), "usage",
				fmt.Sprintf("`capy projects --org %s` lists its projects", orgID))
		}
		prjID = pr.ID
	}
	prj, err := a.Link(ctx, &m, orgID, prjID, nil)
	if err != nil {
		return nil, err
	}
	repo := &workspace.Repo{Root: root, Project: *prj}
	if err := repo.SaveProject(); err != nil {
		return nil, err
	}
	if err := ignoreFiles(repo); err != nil {
		return nil, err
	}
	p := fresh(cfg, home, repo, a.Client, "")
	name, pin, _ := p.Env("")
	return &Linked{Project: p, account: a, kr: memberKeysOf(&m, prj, pin), env: name, pin: pin}, nil
}

// CheckNew refuses, before anything is created on the service, a
// checkout in root whose files capy would refuse to write later: a .capy,
// an environment file or an ignore file that is a symbolic link (or under
// one), or not a regular file (workspace.ErrUnsafePath).
//
// An environment file that git tracks is refused too: its values are in
// the repository's history in plaintext (rotate them), and a later sync
// would refuse it anyway (tracked-file), after the org was created.
func CheckNew(root string, envFiles ...string) error {
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
		return refuse(fmt.Errorf("git tracks %s: its values are in the repository's history (treat them as exposed) and capy will not sync from a tracked file; nothing was created",
			strings.Join(tracked, " and ")),
			"tracked-file", fmt.Sprintf("`git rm --cached %s`, commit, rotate those secrets, then run this again", strings.Join(tracked, " ")))
	}
	return nil
}

// ignoreFiles keeps env files and local state out of git and images.
func ignoreFiles(repo *workspace.Repo) error {
	lines := []string{".capy/state.json", ".capy/decrypt"}
	for _, n := range repo.EnvNames() {
		pin := repo.Project.Environments[n]
		lines = append(lines, "/"+pin.File, "/"+pin.LocalFile())
	}
	if err := repo.EnsureIgnored(".gitignore", lines); err != nil {
		return err
	}
	return repo.EnsureIgnored(".dockerignore", []string{".capy/"})
}

// CheckPins unlocks the organisation's key and returns the environments
// whose signing key pinned in prj is not the one derived from it (`capy
// doctor`; CI runners trust the pin). Its error is the unlock's.
func CheckPins(ctx context.Context, a *member.Account, prj *workspace.Project) ([]string, error) {
	m, err := a.Unlock(ctx, prj.Org)
	if err != nil {
		return nil, err
	}
	pk := m.ProjectKey(prj.Org, prj.Project)
	return member.WrongPins(prj, &pk), nil
}
