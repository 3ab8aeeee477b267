package buildinfo

import (
	"encoding/json"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestFrom(t *testing.T) {
	goV := runtime.Version()
	plat := runtime.GOOS + "/" + runtime.GOARCH
	vcs := func(rev, tm, mod string) *debug.BuildInfo {
		return &debug.BuildInfo{GoVersion: goV, Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: rev}, {Key: "vcs.time", Value: tm}, {Key: "vcs.modified", Value: mod}}}
	}
	cases := []struct {
		name                  string
		version, commit, date string
		bi                    *debug.BuildInfo
		want                  Info
	}{
		{"stamped by the Makefile", "v0.1.0", "6668bae0a1b2c3d4e5f60718293a4b5c6d7e8f90", "1796658486", vcs("ffff", "2020-01-01T00:00:00Z", "false"),
			Info{"capy", "v0.1.0", "6668bae0a1b2c3d4e5f60718293a4b5c6d7e8f90", "2026-12-07T15:48:06Z", goV, plat, false}},
		{"stamped, dirty tree", "v0.1.0-3-g6668bae-dirty", "6668bae0a1b2c3d4e5f60718293a4b5c6d7e8f90", "1796658486", nil,
			Info{"capyd", "v0.1.0-3-g6668bae-dirty", "6668bae0a1b2c3d4e5f60718293a4b5c6d7e8f90", "2026-12-07T15:48:06Z", goV, plat, true}},
		{"a tree without git", NoGit, "", "", nil,
			Info{"capy", NoGit, Unknown, Unknown, goV, plat, false}},
		{"go install @v0.1.0", "", "", "", &debug.BuildInfo{GoVersion: goV, Main: debug.Module{Version: "v0.1.0"}},
			Info{"capy", "v0.1.0", Unknown, Unknown, goV, plat, false}},
		{"go install @commit (pseudo-version)", "", "", "", &debug.BuildInfo{GoVersion: goV, Main: debug.Module{Version: "v0.1.1-0.20261207154806-6668bae0a1b2"}},
			Info{"capy", "v0.1.1-0.20261207154806-6668bae0a1b2", "6668bae0a1b2", "2026-12-07T15:48:06Z", goV, plat, false}},
		{"go build in a checkout (Go 1.24+)", "", "", "", &debug.BuildInfo{GoVersion: goV, Main: debug.Module{Version: "v0.0.0-20261207154806-6668bae0a1b2+dirty"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "6668bae0a1b2c3d4e5f60718293a4b5c6d7e8f90"}, {Key: "vcs.time", Value: "2026-12-07T15:48:06Z"}, {Key: "vcs.modified", Value: "true"}}},
			Info{"capy", "v0.0.0-20261207154806-6668bae0a1b2+dirty", "6668bae0a1b2c3d4e5f60718293a4b5c6d7e8f90", "2026-12-07T15:48:06Z", goV, plat, true}},
		{"go build without VCS stamping", "", "", "", &debug.BuildInfo{GoVersion: goV, Main: debug.Module{Version: "(devel)"}},
			Info{"capy", "devel", Unknown, Unknown, goV, plat, false}},
		{"go run with VCS", "", "", "", vcs("6668bae0a1b2c3d4e5f60718293a4b5c6d7e8f90", "2026-12-07T16:48:06+01:00", "false"),
			Info{"capy", "devel", "6668bae0a1b2c3d4e5f60718293a4b5c6d7e8f90", "2026-12-07T15:48:06Z", goV, plat, false}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := from(c.want.Program, c.version, c.commit, c.date, c.bi)
			if got != c.want {
				t.Errorf("\n got %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestString(t *testing.T) {
	in := Info{"capy", "v0.1.0", "6668bae0a1b2c3d4e5f60718293a4b5c6d7e8f90", "2026-12-07T15:48:06Z", "go1.26.8", "linux/amd64", false}
	want := "capy v0.1.0 (commit 6668bae0a1b2, built 2026-12-07T15:48:06Z, go1.26.8 linux/amd64)"
	if got := in.String(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	in.Commit = Unknown
	if got := in.String(); !strings.Contains(got, "(commit unknown,") {
		t.Errorf("got %q", got)
	}
}

// TestJSONNames: the --json keys are part of the CLI's contract
// (docs/cli.md, docs/server.md).
func TestJSONNames(t *testing.T) {
	b, err := json.Marshal(Info{Program: "capyd"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"program":"capyd","version":"","commit":"","build_date":"","go_version":"","platform":"","modified":false}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}

func TestPseudo(t *testing.T) {
	for _, c := range []struct{ v, rev, date string }{
		{"v0.0.0-20261207154806-6668bae0a1b2", "6668bae0a1b2", "2026-12-07T15:48:06Z"},
		{"v1.2.4-0.20261207154806-6668bae0a1b2", "6668bae0a1b2", "2026-12-07T15:48:06Z"},
		{"v1.3.0-rc.1.0.20261207154806-6668bae0a1b2+dirty", "6668bae0a1b2", "2026-12-07T15:48:06Z"},
		{"v0.1.0", "", ""},
		{"v0.1.0-rc.1", "", ""},
		{"v0.0.0-2026120715480-6668bae0a1b2", "", ""},
		{"v0.0.0-20261207154806-6668bae0a1bz", "", ""},
		{"", "", ""},
	} {
		if got := pseudoCommit(c.v); got != c.rev {
			t.Errorf("pseudoCommit(%q) = %q, want %q", c.v, got, c.rev)
		}
		if got := pseudoDate(c.v); got != c.date {
			t.Errorf("pseudoDate(%q) = %q, want %q", c.v, got, c.date)
		}
	}
}

// TestReadInATest: a test binary is not stamped; Read still answers.
func TestReadInATest(t *testing.T) {
	in := Read("capy")
	if in.Program != "capy" || in.Version == "" || in.Commit == "" || in.Date == "" || in.GoVersion != runtime.Version() {
		t.Errorf("%+v", in)
	}
}
