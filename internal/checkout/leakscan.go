package checkout

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/capy-oss/capy/internal/envfile"
	"github.com/capy-oss/capy/internal/envguard"
	"github.com/capy-oss/capy/internal/workspace"
)

// The leak guard (docs/cli.md `capy scan`, `capy hook`): it reads files
// the way git would commit them and reports values that are not capy
// snippets or sealed values. It needs no home, key or network.

// ReasonUnreadable is a ScanFinding's reason for a file that is not a .env
// file the parser accepts: the scan cannot vouch for it, so it fails.
const ReasonUnreadable = "unreadable"

// ScanFinding is one refused value (or unreadable file): file and line,
// never the value.
type ScanFinding struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Name   string `json:"name,omitempty"`
	Reason string `json:"reason"`           // envguard.Reason…, or ReasonUnreadable
	Detail string `json:"detail,omitempty"` // the parser's message, for unreadable (it holds no value)
}

// ScanResult is what a scan read and what it refused.
type ScanResult struct {
	Scanned  []string      `json:"scanned"`
	Findings []ScanFinding `json:"findings"`
}

// ScanOptions says what to scan: Paths (files; with Staged, a filter on
// the staged paths), else the files capy manages; Staged reads the staged
// content of the staged files (git's index), as a pre-commit hook must.
type ScanOptions struct {
	Paths  []string
	Staged bool
}

// IsEnvFileName reports whether a file name is one the scan reads when it
// is given or staged without capy managing it: `.env`, `.env.*` and
// `*.env` (not `.envrc`, a shell script).
func IsEnvFileName(name string) bool {
	base := filepath.Base(name)
	return base == ".env" || strings.HasPrefix(base, ".env.") || (strings.HasSuffix(base, ".env") && len(base) > len(".env"))
}

// Scan runs the leak scan.
func Scan(ctx context.Context, opt ScanOptions) (*ScanResult, error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	managed, err := managedFiles(wd)
	if err != nil {
		return nil, err
	}
	res := &ScanResult{Scanned: []string{}, Findings: []ScanFinding{}}
	if opt.Staged {
		return res, scanStaged(ctx, wd, managed, opt.Paths, res)
	}
	if len(opt.Paths) == 0 {
		if managed == nil {
			return nil, refuse(errors.New("not in a capy project (no .capy/project.json here or above), and no file named"), "usage",
				"name the files to scan (`capy scan .env .env.production`), or run it in a capy checkout")
		}
		for _, abs := range managed.list {
			data, err := readScanned(abs)
			if errors.Is(err, fs.ErrNotExist) {
				continue // an environment not pulled on this machine
			}
			if err != nil {
				return nil, err
			}
			res.add(displayPath(wd, abs), data)
		}
		return res, nil
	}
	for _, p := range opt.Paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		if !managed.has(abs) && !IsEnvFileName(abs) {
			continue // not a .env file: a hook framework may pass every staged file
		}
		data, err := readScanned(abs)
		if err != nil {
			return nil, refuse(err, "not-found", "name files that exist (`capy scan FILE…`)")
		}
		res.add(p, data)
	}
	return res, nil
}

// add scans one file's content.
func (r *ScanResult) add(name string, data []byte) {
	r.Scanned = append(r.Scanned, name)
	findings, err := envguard.Scan(data)
	if err != nil {
		f := ScanFinding{File: name, Reason: ReasonUnreadable, Detail: "not a .env file capy can read"}
		var se *envfile.SyntaxError
		if errors.As(err, &se) {
			f.Line, f.Detail = se.Line, se.Msg
		}
		r.Findings = append(r.Findings, f)
		return
	}
	for _, f := range findings {
		r.Findings = append(r.Findings, ScanFinding{File: name, Line: f.Line, Name: f.Name, Reason: f.Reason})
	}
}

// managedSet is the files of .capy/project.json's environments and their
// personal layers, as absolute paths (nil outside a capy project).
type managedSet struct {
	list []string
	set  map[string]bool
}

func (m *managedSet) has(abs string) bool { return m != nil && m.set[abs] }

func managedFiles(wd string) (*managedSet, error) {
	repo, err := workspace.FindRepo(wd)
	if errors.Is(err, workspace.ErrNoProject) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	m := &managedSet{set: map[string]bool{}}
	for _, name := range repo.EnvNames() {
		pin := repo.Project.Environments[name]
		for _, rel := range []string{pin.File, pin.LocalFile()} {
			abs := filepath.Join(repo.Root, filepath.FromSlash(rel))
			if !m.set[abs] {
				m.set[abs] = true
				m.list = append(m.list, abs)
			}
		}
	}
	return m, nil
}

// readScanned reads a file of at most workspace.MaxEnvFile bytes.
func readScanned(path string) ([]byte, error) {
	return workspace.ReadLimited(path, workspace.MaxEnvFile)
}

// displayPath names abs relative to the working directory when it is
// below it.
func displayPath(wd, abs string) string {
	if rel, err := filepath.Rel(wd, abs); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.ToSlash(rel)
	}
	return abs
}

// scanStaged scans what the next commit would hold: the index's content of
// every staged (added, copied, modified, renamed) file that capy manages
// or that has a .env name, not the work tree's copy, which may differ
// (`git add -p`, or an edit after `git add`).
func scanStaged(ctx context.Context, wd string, managed *managedSet, only []string, res *ScanResult) error {
	top, err := git(ctx, wd, "rev-parse", "--show-toplevel")
	if err != nil {
		return err
	}
	root := strings.TrimSpace(string(top))
	out, err := git(ctx, root, "diff", "--cached", "--name-only", "-z", "--diff-filter=ACMRT", "--no-renames")
	if err != nil {
		return err
	}
	var filter map[string]bool
	if len(only) > 0 {
		filter = map[string]bool{}
		for _, p := range only {
			abs, err := filepath.Abs(p)
			if err != nil {
				return err
			}
			filter[abs] = true
		}
	}
	for _, rel := range strings.Split(string(out), "\x00") {
		if rel == "" {
			continue
		}
		abs := filepath.Join(root, filepath.FromSlash(rel))
		if filter != nil && !filter[abs] {
			continue
		}
		if !managed.has(abs) && !IsEnvFileName(rel) {
			continue
		}
		// The size first: a huge staged file is not read into memory.
		size, err := git(ctx, root, "cat-file", "-s", ":"+rel)
		if err != nil {
			return err
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(string(size)), 10, 64); err != nil || n > workspace.MaxEnvFile {
			res.Scanned = append(res.Scanned, displayPath(wd, abs))
			res.Findings = append(res.Findings, ScanFinding{File: displayPath(wd, abs), Reason: ReasonUnreadable, Detail: "larger than a .env file capy reads"})
			continue
		}
		data, err := git(ctx, root, "cat-file", "blob", ":"+rel)
		if err != nil {
			return err
		}
		res.add(displayPath(wd, abs), data)
	}
	return nil
}

// git runs git in dir and returns its stdout; its stderr's first line goes
// into the error (git's messages hold paths, not file content).
func git(ctx context.Context, dir string, args ...string) ([]byte, error) {
	bin, err := exec.LookPath("git")
	if err != nil {
		return nil, refuse(errors.New("git is not on PATH"), "git-failed", "install git, or name the files to scan without --staged")
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"-C", dir, "--literal-pathspecs"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg, _, _ := strings.Cut(strings.TrimSpace(stderr.String()), "\n")
		return nil, refuse(fmt.Errorf("git %s in %s: %v (%s)", args[0], dir, err, msg), "git-failed",
			"run it inside a git repository where `git status` works")
	}
	return out, nil
}
