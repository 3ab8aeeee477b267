package release

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// testStamp is what the tests' releases are stamped with.
var testStamp = Stamp{Version: "v0.1.0-test", Commit: "0123456789abcdef0123456789abcdef01234567", Epoch: 1796658486}

// moduleRoot is the directory holding go.mod.
func moduleRoot() (string, error) {
	dir, err := filepath.Abs(".")
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// copyTree copies the source tree at root into dst, without .git, bin/,
// capyd-data/ and build leftovers: what a fresh clone has.
func copyTree(root, dst string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			switch rel {
			case ".git", "bin", "capyd-data":
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() || rel == ".git" || strings.HasSuffix(p, ".test") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, info.Mode().Perm())
	})
}

// hostRelease is the release of this package's tests: the linux/amd64
// (or this machine's) archive and SHA256SUMS, built once from a copy of
// the tree and shared.
var hostRelease = sync.OnceValues(func() (string, error) {
	return buildCopy(Host())
})

// releaseDirs are the temporary directories to remove after the tests.
var (
	releaseDirsMu sync.Mutex
	releaseDirs   []string
)

func TestMain(m *testing.M) {
	code := m.Run()
	releaseDirsMu.Lock()
	for _, d := range releaseDirs {
		os.RemoveAll(d)
	}
	releaseDirsMu.Unlock()
	os.Exit(code)
}

// buildCopy copies the tree into a new directory and builds the release
// of t there; it returns the release's output directory.
func buildCopy(t Target) (string, error) {
	dir, err := os.MkdirTemp("", "capy-release-test-")
	if err != nil {
		return "", err
	}
	releaseDirsMu.Lock()
	releaseDirs = append(releaseDirs, dir)
	releaseDirsMu.Unlock()
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	src := filepath.Join(dir, "src")
	if err := copyTree(root, src); err != nil {
		return "", err
	}
	out := filepath.Join(dir, "out")
	return out, runReleaseProgram(src, "archives", "-targets", t.String(), "-out", out)
}

// runReleaseProgram runs scripts/release (what `make release` and `make
// image` run) in the module at root, stamped with testStamp. It runs as
// its own process, so that the compression is not slowed down by the race
// detector that `make test` builds this test with.
func runReleaseProgram(root, mode string, args ...string) error {
	args = append([]string{"run", "./scripts/release", mode, "-version", testStamp.Version, "-commit", testStamp.Commit,
		"-source-date-epoch", strconv.FormatInt(testStamp.Epoch, 10)}, args...)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go run ./scripts/release %s: %v\n%s", mode, err, out)
	}
	return nil
}

// TestReproducible builds the linux/amd64 release twice, from two copies
// of the tree in different directories, and wants the same bytes: the
// archive and SHA256SUMS. (Without -trimpath the binaries carry their
// directory and differ; with a wall-clock mtime the archives would.)
func TestReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("builds capy and capyd twice")
	}
	target := Target{"linux", "amd64"}
	var a string
	var err error
	if Host() == target {
		a, err = hostRelease()
	} else {
		a, err = buildCopy(target)
	}
	if err != nil {
		t.Fatal(err)
	}
	b, err := buildCopy(target)
	if err != nil {
		t.Fatal(err)
	}
	name := ArchiveName(testStamp, target)
	for _, f := range []string{name, ChecksumsName} {
		da, err := os.ReadFile(filepath.Join(a, f))
		if err != nil {
			t.Fatal(err)
		}
		db, err := os.ReadFile(filepath.Join(b, f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(da, db) {
			t.Errorf("%s differs between two builds in %s and %s", f, a, b)
		}
	}
	// What the archive holds, and how.
	files := readTarGz(t, filepath.Join(a, name))
	top := "capy_0.1.0-test_linux_amd64/"
	want := []string{top, top + "CHANGELOG.md", top + "LICENSE", top + "README.md", top + "capy", top + "capyd"}
	var got []string
	for _, h := range files {
		if strings.HasPrefix(h.Name, top+"completions/") {
			continue // from the host's capy; checked by the release's own notes
		}
		got = append(got, h.Name)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("archive entries %v, want %v", got, want)
	}
	for _, h := range files {
		if !h.ModTime.Equal(testStamp.Time()) || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: mtime %v uid %d gid %d %q %q", h.Name, h.ModTime, h.Uid, h.Gid, h.Uname, h.Gname)
		}
		exec := h.Name == top+"capy" || h.Name == top+"capyd" || h.Typeflag == tar.TypeDir
		if (h.Mode == 0o755) != exec || (!exec && h.Mode != 0o644) {
			t.Errorf("%s: mode %o", h.Name, h.Mode)
		}
	}
	sums, _ := os.ReadFile(filepath.Join(a, ChecksumsName))
	if !strings.HasSuffix(string(sums), "  "+name+"\n") || len(strings.Split(strings.TrimSpace(string(sums)), "\n")) != 1 {
		t.Errorf("SHA256SUMS:\n%s", sums)
	}
}

func readTarGz(t testing.TB, path string) []*tar.Header {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if !gz.ModTime.IsZero() || gz.Name != "" {
		t.Errorf("gzip header carries a time or name: %v %q", gz.ModTime, gz.Name)
	}
	tr := tar.NewReader(gz)
	var out []*tar.Header
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h)
	}
}

// TestArchiveWriters: the writers' bytes depend only on their input (not
// on the order files come in or on when they run), and both formats hold
// the same entries with the same modes and times.
func TestArchiveWriters(t *testing.T) {
	mtime := time.Unix(1796658486, 0)
	files := []File{
		{Name: "capy", Mode: 0o755, Data: []byte("binary")},
		{Name: "README.md", Mode: 0o644, Data: []byte("# capy\n")},
		{Name: "completions/capy.bash", Mode: 0o644, Data: []byte("complete\n")},
	}
	reversed := []File{files[2], files[1], files[0]}
	for _, w := range []struct {
		name  string
		write func(io.Writer, string, []File, time.Time) error
	}{{"tar.gz", WriteTarGz}, {"zip", WriteZip}} {
		var a, b bytes.Buffer
		if err := w.write(&a, "top", files, mtime); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1100 * time.Millisecond) // a wall-clock time would now differ
		if err := w.write(&b, "top", reversed, mtime.In(time.FixedZone("X", 3600))); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("%s: two writes of the same files differ", w.name)
		}
	}
	var tgz, zb bytes.Buffer
	if err := WriteTarGz(&tgz, "top", files, mtime); err != nil {
		t.Fatal(err)
	}
	if err := WriteZip(&zb, "top", files, mtime); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.tar.gz"), tgz.Bytes(), 0o644)
	var tarList []string
	for _, h := range readTarGz(t, filepath.Join(dir, "a.tar.gz")) {
		tarList = append(tarList, h.Name+" "+fs.FileMode(h.Mode).String())
	}
	zr, err := zip.NewReader(bytes.NewReader(zb.Bytes()), int64(zb.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var zipList []string
	for _, f := range zr.File {
		m := f.Mode()
		if m.IsDir() {
			m = m.Perm() // tar's dir bit is in the type flag
		}
		zipList = append(zipList, f.Name+" "+m.String())
		if !f.Modified.Equal(mtime) {
			t.Errorf("zip %s: modified %v", f.Name, f.Modified)
		}
	}
	want := "top/ -rwxr-xr-x|top/completions/ -rwxr-xr-x|top/README.md -rw-r--r--|top/capy -rwxr-xr-x|top/completions/capy.bash -rw-r--r--"
	if strings.Join(tarList, "|") != want || strings.Join(zipList, "|") != want {
		t.Errorf("entries\n tar %v\n zip %v\nwant %s", tarList, zipList, want)
	}
}

func TestStampCheck(t *testing.T) {
	for _, s := range []Stamp{
		{Version: "", Commit: "c", Epoch: 1},
		{Version: "unknown (built without git)", Commit: "c", Epoch: 1},
		{Version: "v1/2", Commit: "c", Epoch: 1},
		{Version: "v1", Commit: "", Epoch: 1},
		{Version: "v1", Commit: "c", Epoch: 0},
	} {
		if s.Check() == nil {
			t.Errorf("%+v accepted", s)
		}
	}
	if err := testStamp.Check(); err != nil {
		t.Error(err)
	}
	if got := ArchiveName(testStamp, Target{"windows", "arm64"}); got != "capy_0.1.0-test_windows_arm64.zip" {
		t.Error(got)
	}
}
