package release

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// installScript runs scripts/install.sh with bash against base, installing
// into prefix, and returns its output and error.
func installScript(t *testing.T, base, prefix string) (string, error) {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash on this machine")
	}
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "install.sh"), "--prefix", prefix, base)
	cmd.Env = append(os.Environ(), "CAPY_RELEASE_URL=", "CAPY_PREFIX=")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// serveRelease serves dir over HTTP on loopback; edit may change a file
// on its way out.
func serveRelease(t *testing.T, dir string, edit func(name string, data []byte) []byte) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/capy/v0.1.0-test/")
		if name == r.URL.Path || strings.Contains(name, "/") {
			http.NotFound(w, r)
			return
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		if edit != nil {
			data = edit(name, data)
		}
		w.Write(data)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/capy/v0.1.0-test"
}

// TestInstallScript: scripts/install.sh picks this machine's archive from
// a release served over HTTP, checks it against SHA256SUMS, installs capy
// and capyd into the prefix, and the installed capy prints the stamped
// version.
func TestInstallScript(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a release")
	}
	rel, err := hostRelease()
	if err != nil {
		t.Fatal(err)
	}
	if Host().OS != "linux" && Host().OS != "darwin" {
		t.Skip("install.sh is for Linux and macOS")
	}
	prefix := filepath.Join(t.TempDir(), "bin")
	out, err := installScript(t, serveRelease(t, rel, nil)+"/", prefix)
	if err != nil {
		t.Fatalf("install.sh: %v\n%s", err, out)
	}
	if !strings.Contains(out, "install: checksum ok: "+ArchiveName(testStamp, Host())) {
		t.Errorf("install.sh did not say it checked the archive:\n%s", out)
	}
	for _, b := range []string{"capy", "capyd"} {
		v, err := exec.Command(filepath.Join(prefix, b), "version").Output()
		if err != nil {
			t.Fatalf("installed %s version: %v", b, err)
		}
		want := b + " v0.1.0-test (commit 0123456789ab, built 2026-12-07T15:48:06Z, go"
		if !strings.HasPrefix(string(v), want) {
			t.Errorf("installed %s version: %q, want %q…", b, v, want)
		}
		fi, err := os.Stat(filepath.Join(prefix, b))
		if err != nil || fi.Mode().Perm() != 0o755 {
			t.Errorf("%s: %v %v", b, fi.Mode(), err)
		}
	}
	entries, _ := os.ReadDir(prefix)
	if len(entries) != 2 {
		t.Errorf("the prefix holds %d files (a temporary file left?)", len(entries))
	}
}

// TestInstallScriptRefuses: a checksum that does not match the archive,
// an archive SHA256SUMS does not name, and plain http to a non-loopback
// host each install nothing.
func TestInstallScriptRefuses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a release")
	}
	rel, err := hostRelease()
	if err != nil {
		t.Fatal(err)
	}
	archive := ArchiveName(testStamp, Host())
	cases := []struct {
		name, want string
		base       func() string
	}{
		{"a changed archive", "checksum mismatch for " + archive, func() string {
			return serveRelease(t, rel, func(name string, data []byte) []byte {
				if name == archive {
					data = append([]byte{}, data...)
					data[len(data)/2] ^= 1
				}
				return data
			})
		}},
		{"a changed SHA256SUMS", "checksum mismatch for " + archive, func() string {
			return serveRelease(t, rel, func(name string, data []byte) []byte {
				if name == ChecksumsName {
					s := string(data)
					data = []byte(strings.Repeat("0", 64) + s[64:])
				}
				return data
			})
		}},
		{"no archive for this machine", "SHA256SUMS names no archive for " + Host().String(), func() string {
			return serveRelease(t, rel, func(name string, data []byte) []byte {
				if name == ChecksumsName {
					data = []byte(strings.ReplaceAll(string(data), Host().OS+"_"+Host().Arch, "plan9_386"))
				}
				return data
			})
		}},
		{"no release there", "could not download", func() string { return serveRelease(t, t.TempDir(), nil) }},
		{"plain http", "refusing plain http", func() string { return "http://capy.example.com/v0.1.0" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			prefix := filepath.Join(t.TempDir(), "bin")
			out, err := installScript(t, c.base(), prefix)
			if err == nil {
				t.Fatalf("install.sh succeeded:\n%s", out)
			}
			if !strings.Contains(out, c.want) {
				t.Errorf("output lacks %q:\n%s", c.want, out)
			}
			if _, err := os.Stat(prefix); !os.IsNotExist(err) {
				entries, _ := os.ReadDir(prefix)
				t.Errorf("the prefix exists (%d entries): nothing should be installed", len(entries))
			}
		})
	}
}
