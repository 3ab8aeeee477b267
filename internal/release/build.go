// Package release builds what a capy release ships: capy and capyd
// cross-compiled for every target, reproducible archives of them with
// SHA256SUMS (`make release`), and capyd's container image as an OCI
// layout and a `docker load` tarball (`make image`), with no Docker
// engine. scripts/release is its command line; its tests prove that two
// builds in different directories are byte-identical, that
// scripts/install.sh installs from a served release, and that the image
// runs.
//
// Reproducible means: the same commit, Go toolchain and stamp give the
// same bytes anywhere. Binaries are built with CGO_ENABLED=0, -trimpath,
// -buildvcs=false and the stamp in -ldflags; archives carry the commit's
// time as every mtime, sorted entries, fixed owners and modes, and no
// gzip timestamp.
package release

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/capy-oss/capy/internal/buildinfo"
)

// Target is one GOOS/GOARCH pair a release is built for.
type Target struct{ OS, Arch string }

// Targets are the release's platforms: linux, darwin and windows, each on
// amd64 and arm64.
var Targets = []Target{
	{"linux", "amd64"}, {"linux", "arm64"},
	{"darwin", "amd64"}, {"darwin", "arm64"},
	{"windows", "amd64"}, {"windows", "arm64"},
}

// Host is the target of this machine.
func Host() Target { return Target{runtime.GOOS, runtime.GOARCH} }

func (t Target) String() string { return t.OS + "/" + t.Arch }

// Exe is the file name of program on this target.
func (t Target) Exe(program string) string {
	if t.OS == "windows" {
		return program + ".exe"
	}
	return program
}

// ParseTargets reads "linux/amd64,darwin/arm64"; "" or "all" is Targets.
func ParseTargets(s string) ([]Target, error) {
	if s == "" || s == "all" {
		return Targets, nil
	}
	var out []Target
	for _, f := range strings.Split(s, ",") {
		os, arch, ok := strings.Cut(strings.TrimSpace(f), "/")
		t := Target{os, arch}
		known := false
		for _, k := range Targets {
			known = known || k == t
		}
		if !ok || !known {
			return nil, fmt.Errorf("target %q is not one of the release's (%s)", f, targetList())
		}
		out = append(out, t)
	}
	return out, nil
}

func targetList() string {
	var s []string
	for _, t := range Targets {
		s = append(s, t.String())
	}
	return strings.Join(s, ", ")
}

// Stamp is what the binaries are stamped with (internal/buildinfo).
type Stamp struct {
	Version string // git describe --tags --always --dirty
	Commit  string // the full commit hash
	Epoch   int64  // the commit's time (SOURCE_DATE_EPOCH)
}

// Time is the stamp's time, in UTC: every mtime in an archive and the
// image's creation time.
func (s Stamp) Time() time.Time { return time.Unix(s.Epoch, 0).UTC() }

// Check refuses a stamp a release cannot be named by.
func (s Stamp) Check() error {
	switch {
	case s.Version == "" || s.Version == buildinfo.NoGit:
		return errors.New("no version: build a release from a git checkout, or give one (make release VERSION=v1.2.3 COMMIT=<hash> SOURCE_DATE_EPOCH=<seconds>)")
	case strings.ContainsAny(s.Version, " /\\:\t\n\"'"):
		return fmt.Errorf("version %q cannot name a file", s.Version)
	case s.Commit == "":
		return errors.New("no commit: give -commit (git rev-parse HEAD)")
	case s.Epoch <= 0:
		return errors.New("no source date: give -source-date-epoch (git log -1 --format=%ct)")
	}
	return nil
}

// LDFlags are the linker flags of a release build: stripped (-s -w) and
// stamped.
func (s Stamp) LDFlags() string {
	return fmt.Sprintf("-s -w -X '%[1]s.version=%[2]s' -X '%[1]s.commit=%[3]s' -X '%[1]s.date=%[4]d'",
		buildinfo.Package, s.Version, s.Commit, s.Epoch)
}

// BuildTags are the build tags of every capy build (the Makefile's
// GOTAGS): urfave/cli without its man-page generator.
const BuildTags = "urfave_cli_no_docs"

// Builder runs the Go toolchain on the module at Root.
type Builder struct {
	Go   string    // the go command; "" is "go"
	Root string    // the module's root directory
	Log  io.Writer // progress lines; nil: none
}

// Build compiles programs (default: capy and capyd) for t into dir and
// returns their paths, in that order.
func (b Builder) Build(ctx context.Context, t Target, s Stamp, dir string, programs ...string) ([]string, error) {
	if len(programs) == 0 {
		programs = []string{"capy", "capyd"}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	goCmd := b.Go
	if goCmd == "" {
		goCmd = "go"
	}
	b.logf("release: building %s %s for %s", strings.Join(programs, " and "), s.Version, t)
	args := []string{"build", "-trimpath", "-buildvcs=false", "-tags", BuildTags,
		"-ldflags", s.LDFlags(), "-o", dir + string(filepath.Separator)}
	var paths []string
	for _, p := range programs {
		args = append(args, "./cmd/"+p)
		paths = append(paths, filepath.Join(dir, t.Exe(p)))
	}
	cmd := exec.CommandContext(ctx, goCmd, args...)
	cmd.Dir = b.Root
	cmd.Env = buildEnv(t)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go build for %s: %w\n%s", t, err, out.Bytes())
	}
	return paths, nil
}

// buildEnv is this process's environment with every variable that could
// change the output fixed: the target, no cgo, the baseline instruction
// sets, no experiments and no GOFLAGS from the caller.
func buildEnv(t Target) []string {
	drop := map[string]bool{"GOOS": true, "GOARCH": true, "CGO_ENABLED": true, "GOFLAGS": true,
		"GOAMD64": true, "GOARM64": true, "GOEXPERIMENT": true, "GO386": true, "GOARM": true}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			env = append(env, kv)
		}
	}
	return append(env, "GOOS="+t.OS, "GOARCH="+t.Arch, "CGO_ENABLED=0", "GOFLAGS=-mod=readonly",
		"GOAMD64=v1", "GOARM64=v8.0")
}

func (b Builder) logf(format string, a ...any) {
	if b.Log != nil {
		fmt.Fprintf(b.Log, format+"\n", a...)
	}
}
