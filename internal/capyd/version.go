package capyd

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/capy-oss/capy/internal/buildinfo"
)

// versionFlags are the root's --version (capyd's own, so that it prints
// what `capyd version` prints) and the --json that may go with it.
func versionFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "version", Aliases: []string{"v"}, Usage: "print the version, as the version command does"},
		&cli.BoolFlag{Name: "json", Usage: "with --version: print the fields as JSON"},
	}
}

// versionCommand is `capyd version [--json]`.
func versionCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:        "version",
		Usage:       "print the version, commit, build date and Go version",
		Description: "One line, in the format `capy version` uses; --json prints the fields.",
		Flags:       []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print the fields as JSON"}},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageError{fmt.Errorf("version takes no arguments")}
			}
			return printVersion(e.stdout, c.Bool("json"))
		},
	}
}

// printVersion writes the build information as one line or as JSON.
func printVersion(w io.Writer, asJSON bool) error {
	in := buildinfo.Read("capyd")
	if !asJSON {
		_, err := fmt.Fprintln(w, in)
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(in)
}
