package main

import (
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/capy-oss/capy/internal/checkout"
)

func cmdShare(u *ui, c *cli.Context) error {
	opts := checkout.ShareOptions{
		Env: envFlagValue(c), Names: c.Args().Slice(), To: c.String("to"), Link: c.Bool("link"),
		Views: c.Int("views"), Expires: c.Duration("expires"),
	}
	if err := opts.Check(); err != nil {
		return err
	}
	p, err := openProject(u)
	if err != nil {
		return err
	}
	res, err := p.Share(c.Context, opts)
	if err != nil {
		return err
	}
	return u.data(res, func(w io.Writer) {
		until := res.ExpiresAt.Local().Format(time.DateTime)
		if res.URL != "" {
			fmt.Fprintln(w, res.URL)
			u.say("shared %d value(s) by link: opens %d time(s), until %s; anyone with the link can open it, so send it privately", len(res.Names), res.Views, until)
			return
		}
		fmt.Fprintf(w, "shared %d value(s) with request %s; their page shows them once (until %s)\n", len(res.Names), res.ID, until)
	})
}
