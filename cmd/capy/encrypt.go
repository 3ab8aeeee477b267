package main

import (
	"fmt"
	"io"

	"github.com/capy-oss/capy/internal/checkout"
	"github.com/urfave/cli/v2"
)

// The contributor's commands (docs/cli.md "Contributors"): encrypt to an
// environment's pinned age recipient with no account, no key and no
// network; only members and CI runners can read what they write.

func encryptCommand(u *ui, envFlag, jsonFlag cli.Flag) *cli.Command {
	return &cli.Command{
		Name: "encrypt", Usage: "encrypt a value to an environment, offline, for anyone (prints a sealed capy:age: value)",
		ArgsUsage: "[VALUE | -]",
		Description: "Example: printf %s \"$KEY\" | capy encrypt --env production -\n" +
			"Needs only .capy/project.json: no account, no login, no network. Only the environment's\n" +
			"members and CI runners can decrypt the result; a member's next `capy` adopts it.\n" +
			"Without VALUE (or with -) the value is read from stdin or a hidden prompt.",
		Flags: []cli.Flag{envFlag, jsonFlag,
			&cli.StringFlag{Name: "recipient", Usage: "encrypt to this age post-quantum `RECIPIENT` (age1pq1…) instead of the pinned one"}},
		Action: func(c *cli.Context) error { return cmdEncrypt(u, c) },
	}
}

func cmdEncrypt(u *ui, c *cli.Context) error {
	if c.Args().Len() > 1 {
		return usageError("encrypt takes at most one argument: the value, or - for stdin")
	}
	var value string
	if arg := c.Args().First(); arg != "" && arg != "-" {
		u.warn("the value is now in your shell history; prefer `capy encrypt -` and type or pipe it")
		value = arg
	} else if u.stdinIsTTY() {
		v, err := u.secret("Value to encrypt: ")
		if err != nil {
			return err
		}
		value = v
	} else {
		// stdin, as `capy set` reads it (one final line break removed)
		_, v, err := readValue(u, "VALUE")
		if err != nil {
			return err
		}
		value = v
	}
	var sealed, env string
	var err error
	if r := c.String("recipient"); r != "" {
		sealed, err = checkout.SealTo(r, value)
	} else {
		var ct *checkout.Contributor
		if ct, err = checkout.OpenContributor(); err != nil {
			return err
		}
		sealed, env, err = ct.Encrypt(envFlagValue(c), "", value)
	}
	if err != nil {
		return err
	}
	return u.data(map[string]string{"environment": env, "sealed": sealed}, func(w io.Writer) {
		fmt.Fprintln(w, sealed)
	})
}

// cmdSetPublic is `capy set --public NAME`: a contributor's set.
func cmdSetPublic(u *ui, c *cli.Context, name, value string) error {
	ct, err := checkout.OpenContributor()
	if err != nil {
		return err
	}
	env, err := ct.SetPublic(envFlagValue(c), name, value)
	if err != nil {
		return err
	}
	u.done("sealed %s for %s into its file; commit it: a member's next `capy` adopts it", name, env)
	return nil
}
