package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/capy-oss/capy/internal/checkout"
	"github.com/capy-oss/capy/internal/member"
	"github.com/capy-oss/capy/internal/workspace"
	"github.com/urfave/cli/v2"
)

type check struct {
	Name string `json:"name"`
	OK   bool   `json:"ok"`
	Info string `json:"info"`
	Fix  string `json:"fix,omitempty"`
}

func cmdDoctor(u *ui, c *cli.Context) error {
	var checks []check
	add := func(name string, ok bool, info, fix string) { checks = append(checks, check{name, ok, info, fix}) }
	home, err := workspace.OpenHome()
	if err != nil {
		add("home", false, err.Error(), "fix the permissions of the capy home directory (chmod 700)")
	} else {
		add("home", true, home.Dir, "")
		if _, err := home.Device(); err != nil {
			add("device key", false, err.Error(), "chmod 600 the device key; if it was readable by others, treat this machine's keys as exposed")
		} else {
			add("device key", true, "private", "")
		}
	}
	wd, _ := os.Getwd()
	repo, err := workspace.FindRepo(wd)
	if err != nil {
		add("project", false, err.Error(), "run `capy init` or `capy link`")
	} else {
		add("project", true, fmt.Sprintf("%s in %s", repo.Project.Project, repo.Root), "")
		for _, n := range repo.EnvNames() {
			pin := repo.Project.Environments[n]
			if _, err := pin.PublicKey(); err != nil {
				add("pin "+n, false, err.Error(), "restore .capy/project.json from git")
			}
		}
		if _, err := os.Lstat(repo.KeyFilePath()); err == nil && home != nil {
			// Only a key file this machine's `capy ci` wrote is used; for
			// any other, no advice ever loosens a check (a branch may
			// have brought it).
			switch _, err := repo.CheckKeyFile(home); {
			case errors.Is(err, workspace.ErrUntrustedKeyFile):
				add("key file", false, "ignored: "+err.Error(), "delete .capy/decrypt; in CI, run `capy ci` to write it")
			case err != nil:
				add("key file", false, err.Error(), "")
			default:
				if fi, _ := os.Lstat(repo.KeyFilePath()); fi.Mode().Perm()&0o077 != 0 {
					add("key file", false, ".capy/decrypt is readable by others", "treat the key as exposed: rotate the environment, then `capy ci` again")
				} else {
					add("key file", true, ".capy/decrypt written by capy ci on this machine, private", "")
				}
			}
		}
		if home != nil {
			cl, err := newClient(u, repo.Project.Service)
			if err != nil {
				add("service", false, err.Error(), "fix the service URL in .capy/project.json")
			} else {
				ctx, cancel := context.WithTimeout(c.Context, 5*time.Second)
				defer cancel()
				a, err := member.SignedIn(home, cl)
				switch {
				case err != nil:
					add("session", false, err.Error(), "run `capy login`")
				default:
					if me, err := a.Client.Me(ctx); err != nil {
						add("service", false, classify(err).msg, classify(err).hint)
					} else {
						add("session", true, me.User.Email+" on "+cl.BaseURL(), "")
						if a.HasKey(repo.Project.Org) {
							if wrong, err := checkout.CheckPins(ctx, a, &repo.Project); err != nil {
								ce := classify(err)
								add("member key", false, ce.msg, ce.hint)
							} else {
								add("member key", true, "unlocks", "")
								for _, n := range wrong {
									add("pin "+n, false, "the signing key pinned in .capy/project.json is not this environment's key (CI runners trust it)",
										"run `capy` (it repairs the pin), then commit .capy/project.json")
								}
							}
						} else {
							add("member key", false, "no key.enc for this organisation", "`capy redeem CODE` or `capy recover`")
						}
					}
				}
			}
		}
	}
	bad := 0
	for _, ch := range checks {
		if !ch.OK {
			bad++
		}
	}
	err = u.data(checks, func(w io.Writer) {
		for _, ch := range checks {
			mark := u.paint("32", "ok  ")
			if !ch.OK {
				mark = u.paint("31", "FAIL")
			}
			fmt.Fprintf(w, "%s %-12s %s\n", mark, ch.Name, ch.Info)
			if ch.Fix != "" {
				fmt.Fprintf(w, "     fix: %s\n", ch.Fix)
			}
		}
	})
	if err == nil && bad > 0 {
		return exitCode(exitError)
	}
	return err
}
