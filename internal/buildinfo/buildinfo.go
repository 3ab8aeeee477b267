// Package buildinfo says which build of capy or capyd is running: the
// version, the commit, the build date and the Go toolchain. Both binaries
// print it in one format (`capy version`, `capyd version`, `--version`,
// with `--json`), capyd logs it at start and exposes it on its operations
// listener.
//
// The Makefile stamps it at link time from git (see Stamp); a build
// without the stamp (`go install …@v0.1.0`, a plain `go build`) falls
// back to what the Go toolchain recorded in the binary. Nothing is
// computed before Read is called: `capy --version` is the baseline of
// BENCHMARKS.md, and the package costs no start-up time (pure, no init).
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// Set at link time by the Makefile and the release program:
//
//	-X github.com/capy-oss/capy/internal/buildinfo.version=v0.1.0
//	-X github.com/capy-oss/capy/internal/buildinfo.commit=<40 hex>
//	-X github.com/capy-oss/capy/internal/buildinfo.date=<unix seconds>
//
// date is the commit's time (SOURCE_DATE_EPOCH), not the wall clock, so
// that two builds of one commit are byte for byte the same.
var version, commit, date string

// Package is the import path the -X flags name.
const Package = "github.com/capy-oss/capy/internal/buildinfo"

// NoGit is the version the Makefile stamps when the source tree is not a
// git checkout (a downloaded source archive, say).
const NoGit = "unknown (built without git)"

// Unknown stands for a field no build step recorded.
const Unknown = "unknown"

// Info describes one build. Its JSON form is what `--json` prints.
type Info struct {
	Program   string `json:"program"`
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"build_date"` // RFC 3339, UTC; or Unknown
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"` // GOOS/GOARCH
	Modified  bool   `json:"modified"` // built from a tree with uncommitted changes
}

// Read returns the build information of the running binary, for program
// ("capy" or "capyd").
func Read(program string) Info {
	bi, _ := debug.ReadBuildInfo()
	return from(program, version, commit, date, bi)
}

// from is Read with its inputs spelled out (tests).
func from(program, stampVersion, stampCommit, stampDate string, bi *debug.BuildInfo) Info {
	in := Info{
		Program:   program,
		Version:   stampVersion,
		Commit:    stampCommit,
		Date:      formatDate(stampDate),
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
	// What the toolchain recorded: the module version (`go install
	// …@v0.1.0` stamps it; since Go 1.24 `go build` in a git checkout
	// stamps a pseudo-version), and with VCS stamping the revision, its
	// time and whether the tree was modified.
	var mod, rev, revTime string
	var dirty bool
	if bi != nil {
		if bi.GoVersion != "" {
			in.GoVersion = bi.GoVersion
		}
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			mod = v
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				revTime = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if in.Version == "" {
		in.Version = mod
		if in.Version == "" {
			in.Version = "devel"
		}
	}
	if in.Commit == "" {
		in.Commit = rev
	}
	if in.Commit == "" {
		in.Commit = pseudoCommit(mod)
	}
	if in.Date == "" {
		in.Date = formatDate(revTime)
	}
	if in.Date == "" {
		in.Date = pseudoDate(mod)
	}
	in.Modified = dirty || strings.HasSuffix(in.Version, "-dirty") || strings.HasSuffix(in.Version, "+dirty")
	if in.Commit == "" {
		in.Commit = Unknown
	}
	if in.Date == "" {
		in.Date = Unknown
	}
	return in
}

// String is the one-line form both binaries print:
//
//	capy v0.1.0 (commit 6668bae0a1b2, built 2026-12-07T16:28:06Z, go1.26.8 linux/amd64)
func (in Info) String() string {
	c := in.Commit
	if len(c) > 12 && isHex(c) {
		c = c[:12]
	}
	return fmt.Sprintf("%s %s (commit %s, built %s, %s %s)", in.Program, in.Version, c, in.Date, in.GoVersion, in.Platform)
}

// formatDate turns a stamped date (unix seconds, or already RFC 3339) into
// RFC 3339 UTC; "" stays "".
func formatDate(s string) string {
	if s == "" {
		return ""
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0).UTC().Format(time.RFC3339)
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC().Format(time.RFC3339)
	}
	return s
}

// pseudoCommit is the commit of a Go pseudo-version
// (v0.0.0-20261207162806-6668bae0a1b2, possibly +dirty): its last 12 hex
// digits, or "".
func pseudoCommit(v string) string {
	ts, rev, ok := pseudo(v)
	if !ok || ts == "" {
		return ""
	}
	return rev
}

// pseudoDate is the commit time of a Go pseudo-version, or "".
func pseudoDate(v string) string {
	ts, _, ok := pseudo(v)
	if !ok {
		return ""
	}
	t, err := time.Parse("20060102150405", ts)
	if err != nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// pseudo splits a pseudo-version into its timestamp and revision.
func pseudo(v string) (ts, rev string, ok bool) {
	v, _, _ = strings.Cut(v, "+")
	i := strings.LastIndexByte(v, '-')
	if i < 0 || len(v)-i-1 != 12 || !isHex(v[i+1:]) {
		return "", "", false
	}
	rev, v = v[i+1:], v[:i]
	j := strings.LastIndexAny(v, "-.")
	if j < 0 || len(v)-j-1 != 14 {
		return "", "", false
	}
	ts = v[j+1:]
	if _, err := strconv.ParseUint(ts, 10, 64); err != nil {
		return "", "", false
	}
	return ts, rev, true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return s != ""
}
