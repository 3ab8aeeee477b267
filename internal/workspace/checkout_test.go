package workspace

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/capy-oss/capy/internal/keys"
)

// checkout is a linked repository (project.json saved) next to a directory
// outside it that holds another project's plaintext .env.
type checkout struct {
	t       *testing.T
	repo    *Repo
	outside string
}

const outsideSecret = "OTHER_PROJECT_SECRET=hunter2\n"

func newCheckout(t *testing.T) *checkout {
	t.Helper()
	root := filepath.Join(t.TempDir(), "repo")
	outside := filepath.Join(t.TempDir(), "other-project")
	for _, d := range []string{root, outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(outside, ".env"), []byte(outsideSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &Repo{Root: root, Project: testProject()}
	if err := r.SaveProject(); err != nil {
		t.Fatal(err)
	}
	return &checkout{t: t, repo: r, outside: outside}
}

func (c *checkout) path(rel string) string {
	return filepath.Join(c.repo.Root, filepath.FromSlash(rel))
}

func (c *checkout) symlink(target, rel string) {
	c.t.Helper()
	if err := os.MkdirAll(filepath.Dir(c.path(rel)), 0o755); err != nil {
		c.t.Fatal(err)
	}
	if err := os.Symlink(target, c.path(rel)); err != nil {
		c.t.Fatal(err)
	}
}

// listing is every file below dir with its content (links as "-> target").
func listing(t *testing.T, dir string) string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out = append(out, rel+" -> "+target)
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out = append(out, rel+": "+string(b))
		default:
			out = append(out, rel+"/")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// TestCheckoutRefusesLinks: a symbolic link anywhere between the root and
// the file, a FIFO, device or directory where the file should be, and a
// path that leaves the repository are refused by ReadFile and WriteFile
// before anything is read or written, inside the repository or outside.
func TestCheckoutRefusesLinks(t *testing.T) {
	cases := []struct {
		name  string
		setup func(c *checkout)
		rel   string
		want  string // in the message
	}{
		{"env file linked outside", func(c *checkout) { c.symlink(filepath.Join(c.outside, ".env"), ".env") }, ".env", ".env is a symbolic link"},
		{"env file linked inside", func(c *checkout) {
			os.WriteFile(c.path(".env.shared"), []byte("A=1\n"), 0o600)
			c.symlink(".env.shared", ".env")
		}, ".env", "replace the link with the file itself"},
		{"dangling link", func(c *checkout) { c.symlink(filepath.Join(c.outside, "new.env"), ".env") }, ".env", "is a symbolic link"},
		{"link to /dev/zero", func(c *checkout) { c.symlink("/dev/zero", ".env") }, ".env", "is a symbolic link"},
		{"directory linked outside", func(c *checkout) { c.symlink(c.outside, "cfg") }, "cfg/.env", "cfg is a symbolic link"},
		{"deeper directory linked", func(c *checkout) { c.symlink(c.outside, "a/b") }, "a/b/c/.env", "replace the link with the directory itself"},
		{"directory where the file is", func(c *checkout) { os.Mkdir(c.path(".env"), 0o755) }, ".env", ".env is a directory"},
		{"file where a directory is", func(c *checkout) { os.WriteFile(c.path("cfg"), nil, 0o600) }, "cfg/.env", "not a directory"},
		{"dot-dot", func(c *checkout) {}, "../other-project/.env", "leaves the repository"},
		{"absolute", func(c *checkout) {}, filepath.Join(os.TempDir(), "x.env"), "leaves the repository"},
		{"unclean", func(c *checkout) {}, "cfg/../.env", "not a clean relative path"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCheckout(t)
			tc.setup(c)
			before, outside := listing(t, c.repo.Root), listing(t, c.outside)
			check := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, ErrUnsafePath) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("%s: %v, want ErrUnsafePath saying %q", what, err, tc.want)
				}
				if !strings.Contains(err.Error(), "capy reads and writes only regular files inside the repository") {
					t.Fatalf("%s: %v does not say what capy accepts", what, err)
				}
			}
			data, err := c.repo.ReadFile(tc.rel, MaxEnvFile)
			check("ReadFile", err)
			if len(data) > 0 {
				t.Fatalf("ReadFile returned %q", data)
			}
			_, err = c.repo.Path(tc.rel)
			check("Path", err)
			check("WriteFile", c.repo.WriteFile(tc.rel, []byte("A=capy:written\n"), nil))
			check("EnsureIgnored", c.repo.EnsureIgnored(tc.rel, []string{".env"}))
			if tc.rel == ".env" || tc.rel == "cfg/.env" {
				f := c.repo.EnvFile(EnvPin{File: tc.rel})
				_, err := f.ReadFile()
				check("File.ReadFile", err)
				check("File.WriteFileIf", f.WriteFileIf([]byte("A=1\n"), func() error { return nil }))
			}
			if got := listing(t, c.repo.Root); got != before {
				t.Fatalf("the checkout changed:\n%s\nwas\n%s", got, before)
			}
			if got := listing(t, c.outside); got != outside {
				t.Fatalf("a file outside the repository changed:\n%s\nwas\n%s", got, outside)
			}
		})
	}
}

func TestCheckoutReadAndWrite(t *testing.T) {
	c := newCheckout(t)
	// Missing files and directories read as fs.ErrNotExist.
	for _, rel := range []string{".env", "cfg/sub/.env"} {
		if _, err := c.repo.ReadFile(rel, MaxEnvFile); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("missing %s: %v", rel, err)
		}
	}
	// A write creates the missing directories; a new file is 0600.
	if err := c.repo.WriteFile("cfg/sub/.env", []byte("A=1\n"), nil); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, c.path("cfg/sub/.env")); m != 0o600 {
		t.Fatalf("new env file mode %04o", m)
	}
	if fi, err := os.Lstat(c.path("cfg/sub")); err != nil || !fi.IsDir() {
		t.Fatalf("directory not created: %v", err)
	}
	got, err := c.repo.EnvFile(EnvPin{File: "cfg/sub/.env"}).ReadFile()
	if err != nil || string(got) != "A=1\n" {
		t.Fatalf("read back %q %v", got, err)
	}
	// project.json and a new ignore file are 0644 (committed).
	if m := mode(t, c.path(".capy/project.json")); m != 0o644 {
		t.Fatalf("project.json mode %04o", m)
	}
	if err := c.repo.EnsureIgnored(".dockerignore", []string{".capy/"}); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, c.path(".dockerignore")); m != 0o644 {
		t.Fatalf(".dockerignore mode %04o", m)
	}
	// The check of WriteFile runs and can refuse.
	stop := errors.New("changed")
	if err := c.repo.WriteFile("cfg/sub/.env", []byte("A=2\n"), func() error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("check: %v", err)
	}
	if f := c.repo.EnvFile(EnvPin{File: "cfg/sub/.env"}); f.String() != c.path("cfg/sub/.env") || f.Rel() != "cfg/sub/.env" {
		t.Fatalf("names: %s %s", f, f.Rel())
	}
}

// TestCheckoutReadLimit: a file over the limit is refused, naming the file
// and the limit, before it is read (a sparse file of 8 MiB + 1 costs
// nothing to make); one of exactly the limit is read.
func TestCheckoutReadLimit(t *testing.T) {
	c := newCheckout(t)
	if err := os.WriteFile(c.path(".env"), []byte(strings.Repeat("x", 1024)), 0o600); err != nil {
		t.Fatal(err)
	}
	if data, err := c.repo.ReadFile(".env", 1024); err != nil || len(data) != 1024 {
		t.Fatalf("file of the limit: %d %v", len(data), err)
	}
	_, err := c.repo.ReadFile(".env", 1023)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), c.path(".env")+" is larger than 1023 bytes") {
		t.Fatalf("over the limit: %v", err)
	}
	if err := os.Truncate(c.path(".env"), MaxEnvFile+1); err != nil {
		t.Fatal(err)
	}
	_, err = c.repo.EnvFile(EnvPin{File: ".env"}).ReadFile()
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "larger than 8 MiB") {
		t.Fatalf("9 MiB .env: %v", err)
	}
	if err := os.Truncate(c.path(projectRel), MaxProjectFile+1); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.path(stateRel), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(c.path(stateRel), MaxStateFile+1); err != nil {
		t.Fatal(err)
	}
	if _, err := FindRepo(c.repo.Root); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "larger than 1 MiB") {
		t.Fatalf("large project.json: %v", err)
	}
	if _, err := c.repo.LoadState(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("large state.json: %v", err)
	}
}

// TestFindRepoRefusesLinkedCapy: FindRepo refuses a .capy that is a link
// (to another checkout's) rather than skip it for a parent repository,
// refuses a project.json that is a link or too large, and walks past a
// .capy that is not a directory.
func TestFindRepoRefusesLinkedCapy(t *testing.T) {
	parent := newCheckout(t)
	other := newCheckout(t)
	sub := parent.path("sub")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	// A .capy that is a file is not a repository root: the parent is.
	os.WriteFile(filepath.Join(sub, Dir), []byte("not a directory"), 0o644)
	if r, err := FindRepo(sub); err != nil || r.Root != parent.repo.Root {
		t.Fatalf("FindRepo past a .capy file: %+v %v", r, err)
	}
	os.Remove(filepath.Join(sub, Dir))
	// A .capy linked to another checkout's is refused, not followed and
	// not skipped.
	if err := os.Symlink(other.path(Dir), filepath.Join(sub, Dir)); err != nil {
		t.Fatal(err)
	}
	r, err := FindRepo(sub)
	if !errors.Is(err, ErrUnsafePath) || !strings.Contains(err.Error(), filepath.Join(sub, Dir)+" is a symbolic link") {
		t.Fatalf("linked .capy: %+v %v", r, err)
	}
	// Even a dangling one, or one without project.json behind it.
	os.Remove(filepath.Join(sub, Dir))
	os.Symlink(filepath.Join(other.outside, "nothing"), filepath.Join(sub, Dir))
	if _, err := FindRepo(sub); !errors.Is(err, ErrUnsafePath) {
		t.Fatalf("dangling .capy link: %v", err)
	}

	// project.json linked elsewhere, or to /dev/zero.
	for _, target := range []string{other.path(projectRel), "/dev/zero"} {
		c := newCheckout(t)
		os.Remove(c.path(projectRel))
		c.symlink(target, projectRel)
		if _, err := FindRepo(c.repo.Root); !errors.Is(err, ErrUnsafePath) || !strings.Contains(err.Error(), "project.json is a symbolic link") {
			t.Fatalf("project.json -> %s: %v", target, err)
		}
	}
}

// TestStateAndProjectInLinkedCapy: with .capy a link (a Repo made by hand,
// as init does), state.json and project.json are neither read nor written
// through it; state.json linked to /dev/zero is refused unread.
func TestStateAndProjectInLinkedCapy(t *testing.T) {
	c := newCheckout(t)
	other := newCheckout(t)
	if err := other.repo.SaveState(&State{Current: "development", Environments: map[string]EnvState{}}); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(c.path(Dir))
	c.symlink(other.path(Dir), Dir)
	before := listing(t, other.repo.Root)
	if _, err := c.repo.LoadState(); !errors.Is(err, ErrUnsafePath) {
		t.Fatalf("LoadState through a linked .capy: %v", err)
	}
	if err := c.repo.SaveState(&State{Environments: map[string]EnvState{}}); !errors.Is(err, ErrUnsafePath) {
		t.Fatalf("SaveState through a linked .capy: %v", err)
	}
	if err := c.repo.SaveProject(); !errors.Is(err, ErrUnsafePath) {
		t.Fatalf("SaveProject through a linked .capy: %v", err)
	}
	if _, err := c.repo.ReadKeyFile(c.repo.KeyFilePath()); !errors.Is(err, ErrUnsafePath) {
		t.Fatalf("ReadKeyFile through a linked .capy: %v", err)
	}
	if err := c.repo.WriteKeyFile(c.repo.KeyFilePath(), "capy-ek 1 x"); !errors.Is(err, ErrUnsafePath) {
		t.Fatalf("WriteKeyFile through a linked .capy: %v", err)
	}
	if got := listing(t, other.repo.Root); got != before {
		t.Fatalf("the other checkout changed:\n%s\nwas\n%s", got, before)
	}

	d := newCheckout(t)
	d.symlink("/dev/zero", stateRel)
	if _, err := d.repo.LoadState(); !errors.Is(err, ErrUnsafePath) {
		t.Fatalf("state.json -> /dev/zero: %v", err)
	}
	if err := d.repo.SaveState(&State{Environments: map[string]EnvState{}}); !errors.Is(err, ErrUnsafePath) {
		t.Fatalf("SaveState over a link: %v", err)
	}
}

// TestKeyFile: the default key file round-trips 0600; a link at the file
// itself keeps its insecure-file error (privfile.ReadPrivate).
func TestKeyFile(t *testing.T) {
	c := newCheckout(t)
	if _, err := c.repo.ReadKeyFile(c.repo.KeyFilePath()); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing key file: %v", err)
	}
	if err := c.repo.WriteKeyFile(c.repo.KeyFilePath(), "line\n"); err != nil {
		t.Fatal(err)
	}
	if got, err := c.repo.ReadKeyFile(c.repo.KeyFilePath()); err != nil || string(got) != "line\n" {
		t.Fatalf("read back %q %v", got, err)
	}
	if m := mode(t, c.repo.KeyFilePath()); m != 0o600 {
		t.Fatalf("key file mode %04o", m)
	}
	os.Rename(c.repo.KeyFilePath(), c.path("elsewhere"))
	c.symlink(c.path("elsewhere"), keyFileRel)
	if _, err := c.repo.ReadKeyFile(c.repo.KeyFilePath()); !errors.Is(err, keys.ErrInsecureFile) {
		t.Fatalf("linked key file: %v", err)
	}
}

// TestReadLimited: a file the user names may be anything, but is read
// only up to the limit.
func TestReadLimited(t *testing.T) {
	if _, err := ReadLimited("/dev/zero", 1<<20); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "/dev/zero is larger than 1 MiB") {
		t.Fatalf("/dev/zero: %v", err)
	}
	p := filepath.Join(t.TempDir(), "plain.env")
	os.WriteFile(p, []byte("A=1\n"), 0o600)
	if got, err := ReadLimited(p, 4); err != nil || string(got) != "A=1\n" {
		t.Fatalf("read %q %v", got, err)
	}
	if _, err := ReadLimited(filepath.Join(t.TempDir(), "missing"), 4); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing: %v", err)
	}
}
