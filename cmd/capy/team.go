package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/urfave/cli/v2"
)

func cmdInvite(u *ui, c *cli.Context, kind string) error {
	p, a, err := openAccount(u)
	if err != nil {
		return err
	}
	email, role := a.Cred.Email, api.Role("")
	if kind == api.InviteMember {
		if c.Args().Len() != 1 {
			return usageError("invite takes one argument: the e-mail address")
		}
		if email, err = ident.CanonicalEmail(c.Args().First()); err != nil {
			return err
		}
		role = api.Role(c.String("role"))
		if !role.Valid() {
			return usageError("--role takes member, admin or owner")
		}
	}
	// Open invites for the same address, found before the new one exists.
	var earlier []api.Invite
	if kind == api.InviteMember {
		open, err := collect(func(cursor string) (*api.List[api.Invite], error) {
			return a.Client.Invites(c.Context, p.Repo.Project.Org, "open", cursor, 200)
		})
		if err != nil {
			return err
		}
		for _, i := range open {
			if i.Kind == api.InviteMember && i.Email == email {
				earlier = append(earlier, i)
			}
		}
	}
	code, inv, err := p.Invite(c.Context, a, kind, email, role, c.Duration("ttl"))
	if err != nil {
		return err
	}
	// One open code per address (decision 67): the new code replaces
	// the earlier ones, which were most likely lost or sent to the wrong
	// place, so no forgotten code stays valid.
	var revoked []string
	for _, i := range earlier {
		if _, err := a.Client.RevokeInvite(c.Context, p.Repo.Project.Org, i.ID); err != nil {
			u.warn("%s already had an open invite (%s) and it could not be revoked: %v; revoke it with `capy invites revoke %s`", email, i.ID, err, i.ID)
			continue
		}
		revoked = append(revoked, i.ID)
	}
	if kind == api.InviteDevice {
		u.done("code for your next machine (valid until %s); there run: capy redeem CODE", inv.ExpiresAt.Format("2006-01-02 15:04 MST"))
	} else {
		if len(revoked) > 0 {
			u.say("%s already had an open invite; it is revoked, and only this new code works (%s)", email, strings.Join(revoked, ", "))
		}
		u.done("invited %s as %s (valid until %s). Send them this code over a channel you trust; it is shown once:",
			email, role, inv.ExpiresAt.Format("2006-01-02"))
		u.say("%s runs `capy redeem - --email %s` and pastes the code (it signs them in),\nthen `capy` in a clone of this repository.", email, email)
	}
	return u.data(map[string]any{"code": code, "invite": inv, "revoked_invites": nonNil(revoked)}, func(w io.Writer) { fmt.Fprintln(w, code) })
}

func cmdInvites(u *ui, c *cli.Context) error {
	p, a, err := openAccount(u)
	if err != nil {
		return err
	}
	status := "open"
	if c.Bool("all") {
		status = "all"
	}
	items, err := collect(func(cursor string) (*api.List[api.Invite], error) {
		return a.Client.Invites(c.Context, p.Repo.Project.Org, status, cursor, 200)
	})
	if err != nil {
		return err
	}
	return u.data(items, func(w io.Writer) {
		if len(items) > 0 {
			fmt.Fprintf(w, "%-30s  %-6s %-30s %-6s %-8s %s\n", "ID", "KIND", "EMAIL", "ROLE", "STATUS", "EXPIRES")
		}
		for _, i := range items {
			role := "-"
			if i.Role != nil {
				role = string(*i.Role)
			}
			fmt.Fprintf(w, "%-30s  %-6s %-30s %-6s %-8s %s\n", inert(i.ID), inert(i.Kind), inert(i.Email), inert(role), inert(i.Status), i.ExpiresAt.Format("2006-01-02"))
		}
	})
}

func cmdInviteRevoke(u *ui, c *cli.Context) error {
	if c.Args().Len() != 1 || ident.CheckID(ident.Invite, c.Args().First()) != nil {
		return usageError("invites revoke takes one invite id (inv_…; see `capy invites`)")
	}
	p, a, err := openAccount(u)
	if err != nil {
		return err
	}
	inv, err := a.Client.RevokeInvite(c.Context, p.Repo.Project.Org, c.Args().First())
	if err != nil {
		return err
	}
	u.done("invite %s is %s", inv.ID, inv.Status)
	return nil
}

func cmdMembers(u *ui, c *cli.Context) error {
	p, a, err := openAccount(u)
	if err != nil {
		return err
	}
	status := "active"
	if c.Bool("all") {
		status = "all"
	}
	items, err := collect(func(cursor string) (*api.List[api.Member], error) {
		return a.Client.Members(c.Context, p.Repo.Project.Org, status, "", cursor, 200)
	})
	if err != nil {
		return err
	}
	return u.data(items, func(w io.Writer) {
		if len(items) > 0 {
			fmt.Fprintf(w, "%-32s %-7s %-8s %s\n", "EMAIL", "ROLE", "STATUS", "ID")
		}
		for _, m := range items {
			fmt.Fprintf(w, "%-32s %-7s %-8s %s\n", inert(m.Email), inert(string(m.Role)), inert(m.Status), inert(m.ID))
		}
	})
}

func cmdKick(u *ui, c *cli.Context) error {
	if c.Args().Len() != 1 {
		return usageError("kick takes one argument: the member's e-mail")
	}
	p, a, err := openAccount(u)
	if err != nil {
		return err
	}
	mb, err := a.FindMember(c.Context, p.Repo.Project.Org, c.Args().First())
	if err != nil {
		return err
	}
	deps, err := a.Client.Deploys(c.Context, p.Repo.Project.Org, "", mb.ID, "active", "", 200)
	if err != nil {
		return err
	}
	if len(deps.Items) > 0 {
		verb := "will be revoked"
		if c.Bool("keep-deploys") {
			verb = "stay valid (--keep-deploys)"
		}
		u.say("%s minted %d deploy code(s) that %s:", mb.Email, len(deps.Items), verb)
		for _, d := range deps.Items {
			u.say("  %s %s (environment %s)", d.ID, d.Name, envName(p, d.Env))
		}
	}
	if !c.Bool("yes") {
		if !u.stdinIsTTY() {
			return usageError("pass --yes to kick %s without a prompt", mb.Email)
		}
		if !u.confirm(fmt.Sprintf("Revoke %s's membership now?", mb.Email)) {
			return withHint(errors.New("nothing was changed"), "declined", "")
		}
	}
	res, err := a.Client.Kick(c.Context, p.Repo.Project.Org, mb.ID, c.Bool("keep-deploys"))
	if err != nil {
		return err
	}
	u.done("%s is revoked: %d invite(s) and %d deploy code(s) revoked with them", mb.Email, len(res.RevokedInvites), len(res.RevokedDeploys))
	u.say("Values they saw before are outside capy's reach: rotate those credentials where they matter.")
	return u.data(res, nil)
}

func cmdRole(u *ui, c *cli.Context) error {
	if c.Args().Len() != 2 {
		return usageError("role takes two arguments: EMAIL ROLE")
	}
	role := api.Role(c.Args().Get(1))
	if !role.Valid() {
		return usageError("ROLE is member, admin or owner")
	}
	p, a, err := openAccount(u)
	if err != nil {
		return err
	}
	mb, err := a.FindMember(c.Context, p.Repo.Project.Org, c.Args().First())
	if err != nil {
		return err
	}
	res, err := a.Client.SetRole(c.Context, p.Repo.Project.Org, mb.ID, role)
	if err != nil {
		return err
	}
	u.done("%s is now %s", res.Email, res.Role)
	return nil
}
