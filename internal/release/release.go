package release

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// Options are what Archives builds.
type Options struct {
	Builder
	Stamp   Stamp
	Targets []Target
	Out     string // directory for the archives and SHA256SUMS
}

// Docs are the module root's files every archive carries; a missing
// optional one is left out with a note.
var Docs = []struct {
	Name     string
	Required bool
}{{"README.md", true}, {"CHANGELOG.md", true}, {"LICENSE", true}}

// ArchiveName is the file name of t's archive: capy_<version without
// "v">_<os>_<arch>.tar.gz, or .zip for Windows.
func ArchiveName(s Stamp, t Target) string {
	ext := ".tar.gz"
	if t.OS == "windows" {
		ext = ".zip"
	}
	return archiveStem(s, t) + ext
}

func archiveStem(s Stamp, t Target) string {
	return fmt.Sprintf("capy_%s_%s_%s", strings.TrimPrefix(s.Version, "v"), t.OS, t.Arch)
}

// Archives builds capy and capyd for every target, writes one archive per
// target into o.Out (the binaries, the docs and the shell completions,
// under a top directory named like the archive) and SHA256SUMS for them.
// It returns the archive names.
func Archives(ctx context.Context, o Options) ([]string, error) {
	if err := o.Stamp.Check(); err != nil {
		return nil, err
	}
	if len(o.Targets) == 0 {
		return nil, errors.New("no targets")
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, err
	}
	docs, err := o.docs()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "capy-release-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	// The host's build first: its capy prints the completions every
	// archive carries.
	targets := slices.Clone(o.Targets)
	host := Host()
	slices.SortStableFunc(targets, func(a, b Target) int {
		switch {
		case a == host && b != host:
			return -1
		case b == host && a != host:
			return 1
		}
		return 0
	})
	bins := map[Target][]string{}
	for _, t := range targets {
		if bins[t], err = o.Build(ctx, t, o.Stamp, filepath.Join(tmp, t.OS+"_"+t.Arch)); err != nil {
			return nil, err
		}
	}
	hostCapy := ""
	if b, ok := bins[host]; ok {
		hostCapy = b[0]
	} else {
		b, err := o.Build(ctx, host, o.Stamp, filepath.Join(tmp, "host"))
		if err != nil {
			return nil, err
		}
		hostCapy = b[0]
	}
	completions, note := Completions(ctx, hostCapy)
	if note != "" {
		o.logf("release: note: %s", note)
	}

	var names []string
	for _, t := range o.Targets {
		files := slices.Clone(docs)
		files = append(files, completions...)
		for _, p := range bins[t] {
			data, err := os.ReadFile(p)
			if err != nil {
				return nil, err
			}
			files = append(files, File{Name: filepath.Base(p), Mode: 0o755, Data: data})
		}
		name := ArchiveName(o.Stamp, t)
		if err := writeArchive(filepath.Join(o.Out, name), archiveStem(o.Stamp, t), t, files, o.Stamp); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		o.logf("release: wrote %s", filepath.Join(o.Out, name))
		names = append(names, name)
	}
	if err := WriteChecksums(o.Out, names); err != nil {
		return nil, err
	}
	o.logf("release: wrote %s", filepath.Join(o.Out, ChecksumsName))
	return names, nil
}

// writeArchive writes one archive (tar.gz, or zip for Windows), through a
// temporary file renamed into place.
func writeArchive(path, top string, t Target, files []File, s Stamp) error {
	var buf bytes.Buffer
	var err error
	if t.OS == "windows" {
		err = WriteZip(&buf, top, files, s.Time())
	} else {
		err = WriteTarGz(&buf, top, files, s.Time())
	}
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// docs reads Docs from the module root.
func (o Options) docs() ([]File, error) {
	var out []File
	for _, d := range Docs {
		data, err := os.ReadFile(filepath.Join(o.Root, d.Name))
		switch {
		case errors.Is(err, fs.ErrNotExist) && !d.Required:
			o.logf("release: note: no %s at the module root; the archives ship without one", d.Name)
			continue
		case err != nil:
			return nil, err
		}
		out = append(out, File{Name: d.Name, Mode: 0o644, Data: data})
	}
	return out, nil
}

// Completions asks capy (a binary for this machine) for its shell
// completion scripts: `capy completion bash|zsh|fish`. A capy without
// that command gives none, and a note saying so.
func Completions(ctx context.Context, capy string) ([]File, string) {
	shells := []struct{ shell, name string }{
		{"bash", "completions/capy.bash"}, {"zsh", "completions/_capy"}, {"fish", "completions/capy.fish"},
	}
	var out []File
	for _, s := range shells {
		cmd := exec.CommandContext(ctx, capy, "completion", s.shell)
		cmd.Env = append(os.Environ(), "NO_COLOR=1")
		data, err := cmd.Output()
		if err != nil || len(data) == 0 {
			return nil, "capy has no working `completion " + s.shell + "` command; the archives ship without shell completions"
		}
		out = append(out, File{Name: s.name, Mode: 0o644, Data: data})
	}
	return out, ""
}
