package e2etest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/capy-oss/capy/internal/store/pgtest"
)

// BuildTags are the build tags of `make build` (the Makefile's GOTAGS; a
// test holds the two equal): the binaries under test are the ones shipped.
const BuildTags = "urfave_cli_no_docs"

// The binaries, built on first use into one temporary directory that Run
// removes when the tests are done.
var (
	binMu     sync.Mutex
	binDir    string
	built     = map[string]buildResult{}
	runCalled bool
)

type buildResult struct {
	path string
	err  error
}

// Main runs the package's tests and removes the binaries built for them.
// Call it from TestMain.
func Main(m *testing.M) { os.Exit(Run(m)) }

// MainPostgres is Main with pgtest's PostgreSQL server up for the run, for
// packages whose tests call pgtest.NewDatabase.
func MainPostgres(m *testing.M) { os.Exit(Run(postgresRunner{m})) }

type postgresRunner struct{ m *testing.M }

func (p postgresRunner) Run() int { return pgtest.Run(p.m) }

// Run is Main without the exit, for a TestMain that composes it with
// another wrapper: it calls m.Run(), removes the binaries and returns
// m.Run's result.
func Run(m interface{ Run() int }) int {
	binMu.Lock()
	runCalled = true
	binMu.Unlock()
	code := m.Run()
	binMu.Lock()
	defer binMu.Unlock()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	return code
}

// CapyBin returns the path of the capy binary, building it on first use.
func CapyBin(t testing.TB) string {
	t.Helper()
	return binary(t, "capy")
}

// builds counts the go build runs (for this package's test of the cache).
var builds int

func binary(t testing.TB, name string) string {
	t.Helper()
	path, err := binaryErr(name)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// binaryErr is binary for any goroutine: the error instead of t.Fatal.
func binaryErr(name string) (string, error) {
	binMu.Lock()
	defer binMu.Unlock()
	if !runCalled {
		return "", errors.New("e2etest: call e2etest.Main(m) (or Run) from TestMain")
	}
	r, ok := built[name]
	if !ok {
		r.path, r.err = build(name)
		built[name] = r
	}
	return r.path, r.err
}

// build compiles cmd/<name> as `make build` does: CGO_ENABLED=0 and the
// Makefile's tags, without -race (the binaries are the system under test,
// not the test). Called with binMu held.
func build(name string) (string, error) {
	if binDir == "" {
		dir, err := os.MkdirTemp("", "capy-e2e-bin-")
		if err != nil {
			return "", fmt.Errorf("e2etest: %w", err)
		}
		binDir = dir
	}
	out := filepath.Join(binDir, name)
	builds++
	// go test puts the go command that runs the tests first on PATH.
	cmd := exec.Command("go", "build", "-tags", BuildTags, "-o", out, "github.com/capy-oss/capy/cmd/"+name)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("e2etest: go build %s: %w\n%s", name, err, msg)
	}
	if _, err := os.Stat(out); err != nil {
		return "", errors.Join(fmt.Errorf("e2etest: go build %s wrote no binary", name), err)
	}
	return out, nil
}
