// Command release builds a capy release (`make release`) or capyd's
// container image (`make image`); the Makefile passes the stamp it takes
// from git. The work is internal/release.
//
//	go run ./scripts/release archives -version V -commit C -source-date-epoch N [-targets all] [-out bin/release]
//	go run ./scripts/release image    -version V -commit C -source-date-epoch N [-arches amd64,arm64] [-ca-bundle FILE] [-out bin/image]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"

	"github.com/capy-oss/capy/internal/release"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "release: error: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 || (args[0] != "archives" && args[0] != "image") {
		return errors.New("usage: release archives|image [flags] (see scripts/release/main.go)")
	}
	mode := args[0]
	fs := flag.NewFlagSet("release "+mode, flag.ContinueOnError)
	var s release.Stamp
	fs.StringVar(&s.Version, "version", "", "version (git describe --tags --always --dirty)")
	fs.StringVar(&s.Commit, "commit", "", "commit (git rev-parse HEAD)")
	epoch := fs.String("source-date-epoch", "", "the commit's time in Unix seconds (git log -1 --format=%ct)")
	out := fs.String("out", "", "output directory (default bin/release or bin/image)")
	targets := fs.String("targets", "all", "archives: comma-separated GOOS/GOARCH pairs, or all")
	arches := fs.String("arches", "amd64,arm64", "image: comma-separated linux architectures; the first also becomes the docker tarball")
	ca := fs.String("ca-bundle", "/etc/ssl/certs/ca-certificates.crt", "image: PEM CA bundle to ship in the image (\"\": none)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *epoch != "" {
		n, err := strconv.ParseInt(*epoch, 10, 64)
		if err != nil {
			return fmt.Errorf("-source-date-epoch %q is not a number of seconds", *epoch)
		}
		s.Epoch = n
	}
	if err := s.Check(); err != nil {
		return err
	}
	if strings.HasSuffix(s.Version, "-dirty") {
		fmt.Fprintf(os.Stderr, "release: warning: version %s: the tree has uncommitted changes; the build is not the commit's\n", s.Version)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	b := release.Builder{Go: goCommand(), Root: ".", Log: os.Stderr}
	if mode == "archives" {
		ts, err := release.ParseTargets(*targets)
		if err != nil {
			return err
		}
		if *out == "" {
			*out = "bin/release"
		}
		_, err = release.Archives(ctx, release.Options{Builder: b, Stamp: s, Targets: ts, Out: *out})
		return err
	}
	if *out == "" {
		*out = "bin/image"
	}
	if *ca != "" {
		if _, err := os.Stat(*ca); err != nil {
			return fmt.Errorf("-ca-bundle: %w (give another PEM bundle, or -ca-bundle '' to ship none)", err)
		}
	}
	var as []string
	for _, a := range strings.Split(*arches, ",") {
		if _, err := release.ParseTargets("linux/" + a); err != nil {
			return fmt.Errorf("-arches: %w", err)
		}
		as = append(as, a)
	}
	_, err := release.Images(ctx, release.ImageOptions{Builder: b, Stamp: s, Arches: as, CABundle: *ca, Out: *out})
	return err
}

// goCommand is the go command to build with: $GO (the Makefile passes
// its own), else go from PATH.
func goCommand() string {
	if p := os.Getenv("GO"); p != "" {
		return p
	}
	return "go"
}
