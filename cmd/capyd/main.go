// Command capyd is the capy service: it stores ciphertext, adds and strips
// the outer wrap, and checks membership on every path to a decryption.
// Configuration, subcommands and the serve loop live in internal/capyd;
// this file only connects them to internal/server. See docs/server.md.
package main

import (
	"os"
	"time"

	"github.com/capy-oss/capy/internal/capyd"
	"github.com/capy-oss/capy/internal/server"
)

func main() {
	os.Exit(capyd.Main(os.Args, os.Stdout, os.Stderr, newServer))
}

// newServer builds internal/server from what capyd prepared.
func newServer(p capyd.ServerParams) (capyd.Server, error) {
	return server.New(server.Config{
		PublicURL:         p.PublicURL,
		TrustedProxies:    p.TrustedProxies,
		LoginCodeTTL:      p.LoginCodeTTL,
		Logger:            p.Logger,
		Now:               time.Now,
		Registry:          p.Registry,
		DisableRateLimits: p.DisableRateLimits,
		Access: server.Access{
			AllowEmailDomains: p.Access.AllowEmailDomains, AllowEmails: p.Access.AllowEmails,
			OrgCreation: server.OrgCreation(p.Access.OrgCreation), OrgCreators: p.Access.OrgCreators,
		},
	}, p.Store, p.Keyring, p.Mailer)
}
