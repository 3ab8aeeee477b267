// Command capyd-nolimits is capyd with every rate limit turned off
// (server.Config.DisableRateLimits), for the throughput part of the
// benchmark (internal/bench) only: the shipped capyd allows 60
// co-decrypts a minute per user, so a load test on one member measures
// the limiter, not the service. Everything else (flags, store, KEK,
// durability, audit) is the shipped capyd's code. Never deploy it.
//
// With CAPYBENCH_PPROF=127.0.0.1:PORT it also serves net/http/pprof on
// that loopback address, for the harness's -profile-dir.
package main

import (
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof" // only on CAPYBENCH_PPROF, loopback
	"os"
	"time"

	"github.com/capy-oss/capy/internal/capyd"
	"github.com/capy-oss/capy/internal/server"
)

func main() {
	if addr := os.Getenv("CAPYBENCH_PPROF"); addr != "" {
		host, _, err := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			fmt.Fprintln(os.Stderr, "capyd-nolimits: CAPYBENCH_PPROF must be a loopback host:port")
			os.Exit(2)
		}
		go func() { fmt.Fprintln(os.Stderr, "capyd-nolimits: pprof:", http.ListenAndServe(addr, nil)) }()
	}
	os.Exit(capyd.Main(os.Args, os.Stdout, os.Stderr, func(p capyd.ServerParams) (capyd.Server, error) {
		return server.New(server.Config{
			PublicURL:         p.PublicURL,
			TrustedProxies:    p.TrustedProxies,
			LoginCodeTTL:      p.LoginCodeTTL,
			Logger:            p.Logger,
			Now:               time.Now,
			Registry:          p.Registry,
			DisableRateLimits: true,
		}, p.Store, p.Keyring, p.Mailer)
	}))
}
