//go:build capyd_pprof

// This file is compiled only with the capyd_pprof build tag. The benchmark
// harness (internal/bench, `capybench -profile-dir`) sets it to build
// capyd-pprof: this capyd, unchanged, plus net/http/pprof on the loopback
// address named by CAPYBENCH_PPROF, for CPU profiles under load. `make
// build` never sets the tag; never deploy a capyd built with it.

package main

import (
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof/ on http.DefaultServeMux
	"os"
)

func init() {
	addr := os.Getenv("CAPYBENCH_PPROF")
	if addr == "" {
		return
	}
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		fmt.Fprintln(os.Stderr, "capyd: error: CAPYBENCH_PPROF must be a loopback host:port")
		os.Exit(2)
	}
	go func() { fmt.Fprintln(os.Stderr, "capyd: pprof:", http.ListenAndServe(addr, nil)) }()
}
