// Package arch holds tests of the import graph: the layering rules of
// DESIGN §6 that keep the service from deriving client keys and keep the
// pure packages free of I/O.
package arch

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/capy-oss/capy/"

// deps returns the transitive imports of a package. A package that does
// not exist fails the test: a renamed package must not switch a rule off.
func deps(t *testing.T, pkg string) map[string]bool {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", module+pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps %s (renamed? update internal/arch): %v\n%s", pkg, err, out)
	}
	m := map[string]bool{}
	for _, l := range strings.Fields(string(out)) {
		m[l] = true
	}
	return m
}

func TestLayering(t *testing.T) {
	rules := []struct {
		pkg       string
		forbidden []string
		mustExist bool
	}{
		// The service side must never be able to derive a client key.
		{"internal/server", []string{"internal/keys", "internal/envsync", "internal/envfile"}, false},
		{"internal/store", []string{"internal/keys", "internal/envsync", "internal/envfile"}, false},
		{"cmd/capyd", []string{"internal/keys", "internal/envsync", "internal/envfile"}, true},
		// Formats know nothing of the hierarchy.
		{"internal/wrap", []string{"internal/keys", "internal/envfile", "internal/envsync", "internal/client"}, true},
		{"internal/ident", []string{"internal/wrap", "internal/keys"}, true},
	}
	for _, r := range rules {
		d := deps(t, r.pkg)
		if d == nil {
			if r.mustExist {
				t.Errorf("%s: package missing", r.pkg)
			}
			continue
		}
		for _, f := range r.forbidden {
			if d[module+f] {
				t.Errorf("%s imports %s (directly or not): forbidden by DESIGN §6", r.pkg, f)
			}
		}
	}
}

// TestPureNoNetwork checks that the pure packages cannot do network I/O or
// start processes.
func TestPureNoNetwork(t *testing.T) {
	for _, pkg := range []string{"internal/ident", "internal/wrap", "internal/keys", "internal/envfile", "internal/envguard", "internal/slip39", "internal/buildinfo", "internal/share", "internal/importfmt"} {
		d := deps(t, pkg)
		if d == nil {
			if pkg != "internal/envfile" {
				t.Errorf("%s: package missing", pkg)
			}
			continue
		}
		for _, f := range []string{"net/http", "crypto/tls", "os/exec", "net/smtp"} {
			if d[f] {
				t.Errorf("%s imports %s: pure packages do no network I/O", pkg, f)
			}
		}
	}
}

// TestCapyDoesNotLinkTestOracles: a library's package init, and the
// size of what it links, is paid by every capy command. go-bip39's init
// (every language's word list split and checksummed) was about 1.5 ms;
// yaml.v3's 0.24 ms and 0.4 MB, for `capy import --format yaml` alone.
// capy does both itself and the libraries are the tests' oracles
// (docs/decisions.md, decisions 35 and 101).
func TestCapyDoesNotLinkTestOracles(t *testing.T) {
	d := deps(t, "cmd/capy")
	if d == nil {
		t.Fatal("cmd/capy: package missing")
	}
	for _, p := range []string{"github.com/tyler-smith/go-bip39", "github.com/tyler-smith/go-bip39/wordlists", "go.yaml.in/yaml/v3", "gopkg.in/yaml.v3"} {
		if d[p] {
			t.Errorf("cmd/capy links %s: its init and size cost every command (decisions 35, 101)", p)
		}
	}
}

// TestPrivfileStandardLibraryOnly: internal/privfile (key files, atomic
// writes, locks) is used by the client and by the service, so it may
// import nothing but the standard library: no capy package, no module.
func TestPrivfileStandardLibraryOnly(t *testing.T) {
	d := deps(t, "internal/privfile")
	if d == nil {
		t.Fatal("internal/privfile: package missing")
	}
	for p := range d {
		if p == module+"internal/privfile" {
			continue
		}
		if first, _, _ := strings.Cut(p, "/"); strings.Contains(first, ".") {
			t.Errorf("internal/privfile imports %s: only the standard library is allowed", p)
		}
	}
}

// TestBinariesDoNotLinkReleaseTooling: internal/release (and with it
// go-containerregistry) builds releases and images; neither binary may
// link it, or both would carry an image library and its init cost.
func TestBinariesDoNotLinkReleaseTooling(t *testing.T) {
	for _, pkg := range []string{"cmd/capy", "cmd/capyd"} {
		d := deps(t, pkg)
		if d == nil {
			t.Fatalf("%s: package missing", pkg)
		}
		for p := range d {
			if p == module+"internal/release" || strings.HasPrefix(p, "github.com/google/go-containerregistry") {
				t.Errorf("%s links %s", pkg, p)
			}
		}
	}
}
