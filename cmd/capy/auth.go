package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/member"
	"github.com/capy-oss/capy/internal/workspace"
	"github.com/urfave/cli/v2"
)

// serviceURL picks the service: --service / CAPY_SERVICE, else the
// repository's project.json.
func serviceURL(c *cli.Context) (string, error) {
	s, _, err := serviceURLFrom(c)
	return s, err
}

// serviceURLFrom is serviceURL, and whether the URL came from the
// repository (project.json) rather than from the person (flag, variable).
func serviceURLFrom(c *cli.Context) (string, bool, error) {
	if s := c.String("service"); s != "" {
		u, err := ident.CheckServiceURL(s)
		return u, false, err
	}
	wd, _ := os.Getwd()
	if r, err := workspace.FindRepo(wd); err == nil {
		return r.Project.Service, true, nil
	}
	return "", false, usageError("which service? pass --service https://… (or set CAPY_SERVICE)")
}

func hostLabel() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "capy cli"
	}
	if len(h) > 64 {
		h = h[:64]
	}
	return h
}

// login signs in interactively (or from stdin) and returns the account.
func login(ctx context.Context, u *ui, home *workspace.Home, service, email string) (*member.Account, error) {
	cl, err := newClient(u, service)
	if err != nil {
		return nil, err
	}
	if email == "" {
		if email, err = u.line("E-mail: "); err != nil {
			return nil, err
		}
	}
	email, err = ident.CanonicalEmail(email)
	if err != nil {
		return nil, err
	}
	if err := u.wait("sending a code", func() error { return member.StartLogin(ctx, cl, email) }); err != nil {
		return nil, err
	}
	u.say("A login code for %s was sent to %s.", cl.BaseURL(), email)
	code, err := u.line("Code: ")
	if err != nil {
		return nil, err
	}
	code = strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(code))
	var a *member.Account
	err = u.wait("signing in", func() error {
		var err error
		a, err = member.FinishLogin(ctx, home, cl, email, code, hostLabel())
		return err
	})
	if err != nil {
		return nil, err
	}
	u.done("signed in to %s as %s", cl.BaseURL(), a.Cred.Email)
	return a, nil
}

func cmdLogin(u *ui, c *cli.Context) error {
	if c.Args().Len() > 1 {
		return usageError("login takes at most one argument, the e-mail address")
	}
	service, fromRepo, err := serviceURLFrom(c)
	if err != nil {
		return err
	}
	home, err := workspace.OpenHome()
	if err != nil {
		return err
	}
	if fromRepo {
		// A repository's project.json names the service; a clone of a
		// stranger's repository would otherwise send this machine's
		// e-mail address (and the code typed next) to any host it likes.
		// Shown and confirmed the first time, as a redeem code's host is.
		if _, known, err := home.Credential(service); err != nil {
			return err
		} else if !known && !c.Bool("yes") {
			if !u.stdinIsTTY() {
				return usageError("this repository's .capy/project.json names the service at %s, which this machine has not used; pass --yes (or --service %s) to sign in there", service, service)
			}
			u.say("This repository's .capy/project.json names the capy service at %s.", service)
			if !u.confirm("Sign in there?") {
				return withHint(errors.New("nothing was sent"), "declined", "")
			}
		}
	}
	a, err := login(c.Context, u, home, service, c.Args().First())
	if err != nil {
		return err
	}
	return u.data(map[string]string{"service": service, "email": a.Cred.Email, "user_id": a.Cred.UserID}, nil)
}

func signedIn(u *ui, c *cli.Context) (*member.Account, error) {
	service, err := serviceURL(c)
	if err != nil {
		return nil, err
	}
	home, err := workspace.OpenHome()
	if err != nil {
		return nil, err
	}
	cl, err := newClient(u, service)
	if err != nil {
		return nil, err
	}
	return member.SignedIn(home, cl)
}

func cmdLogout(u *ui, c *cli.Context) error {
	a, err := signedIn(u, c)
	if errors.Is(err, member.ErrNotSignedIn) {
		u.say("not signed in")
		return nil
	}
	if err != nil {
		return err
	}
	if err := a.Logout(c.Context); err != nil {
		u.warn("the local session was removed, but the service could not revoke it: %v", err)
		return nil
	}
	u.done("signed out of %s", a.Client.BaseURL())
	return nil
}

func cmdWhoami(u *ui, c *cli.Context) error {
	a, err := signedIn(u, c)
	if err != nil {
		return err
	}
	me, err := a.Client.Me(c.Context)
	if err != nil {
		return err
	}
	orgs, err := a.Orgs(c.Context)
	if err != nil {
		return err
	}
	return u.data(map[string]any{"service": a.Client.BaseURL(), "user": me.User, "session": me.Session, "orgs": orgs}, func(w io.Writer) {
		fmt.Fprintf(w, "%s (%s) on %s, session %q\n", inert(me.User.Email), inert(me.User.ID), a.Client.BaseURL(), me.Session.Label)
		for _, o := range orgs {
			fmt.Fprintf(w, "  %s (%s): %s, offline grace %s\n", inert(o.Name), o.ID, o.Role, fmtGrace(member.OfflineGrace(o)))
		}
	})
}

func cmdSessions(u *ui, c *cli.Context) error {
	if c.Args().Len() > 0 {
		return usageError("sessions takes no arguments (--revoke ID, --revoke-others)")
	}
	revoke, others := c.String("revoke"), c.Bool("revoke-others")
	if revoke != "" && others {
		return usageError("pass --revoke ID or --revoke-others, not both")
	}
	if revoke != "" && ident.CheckID(ident.Session, revoke) != nil {
		return usageError("--revoke takes a session id (ses_…; see `capy sessions`)")
	}
	a, err := signedIn(u, c)
	if err != nil {
		return err
	}
	switch {
	case revoke != "":
		own, err := a.RevokeSession(c.Context, revoke)
		if err != nil {
			return err
		}
		if own {
			u.done("session %s revoked: this machine is signed out", revoke)
		} else {
			u.done("session %s revoked", revoke)
		}
		return u.data(map[string]any{"revoked": []string{revoke}, "signed_out": own}, nil)
	case others:
		n, err := a.RevokeOtherSessions(c.Context)
		if err != nil {
			return err
		}
		u.done("%d other session(s) revoked; this machine stays signed in", n)
		return u.data(map[string]any{"revoked_count": n}, nil)
	}
	items, err := a.Sessions(c.Context)
	if err != nil {
		return err
	}
	return u.data(items, func(w io.Writer) {
		fmt.Fprintf(w, "%-30s %-16s %-16s %s\n", "SESSION", "CREATED", "LAST USED", "LABEL")
		for _, s := range items {
			mark := ""
			if s.Current {
				mark = "  (this machine)"
			}
			fmt.Fprintf(w, "%-30s %-16s %-16s %s%s\n", s.ID, s.CreatedAt.Local().Format("2006-01-02 15:04"),
				s.LastUsedAt.Local().Format("2006-01-02 15:04"), inert(s.Label), mark)
		}
	})
}
