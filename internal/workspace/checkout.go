package workspace

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/capy-oss/capy/internal/privfile"
	"github.com/capy-oss/capy/internal/wrap"
)

// Every file capy reads or writes in a checkout goes through this file:
// project.json, state.json, the CI key file, the environments' .env files
// and the ignore files. A repository, a branch or a hand-made file decides
// what sits at those paths, so a symbolic link there could make capy read
// another project's plaintext and push it as this environment's values, or
// write a pulled environment outside the repository, or sync against
// another checkout's .capy. capy therefore accepts only regular files
// reached through real directories below the repository root: a symbolic
// link at any component (the file, .capy, a directory of `config/.env`),
// a path that leaves the repository, and a FIFO, device or directory are
// refused before a byte is read or written. Every read is bounded, so a
// huge file cannot exhaust memory.
//
// The checks look at the paths as they are on disk when capy runs (what a
// checkout of a repository puts there); the directory components are not
// re-checked atomically with the open or the rename. The file itself is
// opened with O_NOFOLLOW and checked again once open.

// Limits on what capy reads from a checkout.
const (
	// MaxEnvFile bounds a .env file: a file larger than the largest blob
	// the service stores could not be pushed anyway.
	MaxEnvFile = wrap.MaxBlobSize
	// MaxProjectFile bounds project.json (the service allows 100
	// environments per project, a few hundred bytes each).
	MaxProjectFile = 1 << 20
	// MaxStateFile bounds state.json (a few hundred bytes per environment).
	MaxStateFile = 1 << 20
	// MaxIgnoreFile bounds .gitignore and .dockerignore, which capy reads
	// to append its lines.
	MaxIgnoreFile = 4 << 20
	// MaxKeyFile bounds the CI key file (one capy-ek line).
	MaxKeyFile = 4096
)

// ErrUnsafePath means a checkout file is not a regular file reached
// through real directories inside the repository: a symbolic link at the
// file or at a directory between the repository root and it, a path that
// leaves the repository, or a FIFO, device or directory where a file
// should be.
var ErrUnsafePath = errors.New("not a regular file inside the repository")

// ErrTooLarge means a file is larger than capy reads from it (a key file
// too: privfile.ErrTooLarge).
var ErrTooLarge = privfile.ErrTooLarge

// pathError is an ErrUnsafePath or ErrTooLarge whose message says what to
// do; errors.Is matches the sentinel.
type pathError struct {
	msg  string
	kind error
}

func (e *pathError) Error() string { return e.msg }
func (e *pathError) Unwrap() error { return e.kind }

const onlyRegular = "capy reads and writes only regular files inside the repository"

func unsafeLink(path string, dir bool) error {
	what := "the file"
	if dir {
		what = "the directory"
	}
	return &pathError{kind: ErrUnsafePath,
		msg: fmt.Sprintf("%s is a symbolic link; %s: replace the link with %s itself", path, onlyRegular, what)}
}

func unsafeKind(path string, fi fs.FileInfo) error {
	return &pathError{kind: ErrUnsafePath,
		msg: fmt.Sprintf("%s is %s; %s: replace it with a regular file", path, describe(fi), onlyRegular)}
}

func tooLarge(path string, limit int64) error {
	return &pathError{kind: ErrTooLarge,
		msg: fmt.Sprintf("%s is larger than %s, the most capy reads from it", path, formatSize(limit))}
}

// describe names a file type for a message.
func describe(fi fs.FileInfo) string {
	switch t := fi.Mode().Type(); {
	case t == 0:
		return "a regular file"
	case t&fs.ModeSymlink != 0:
		return "a symbolic link"
	case t&fs.ModeDir != 0:
		return "a directory"
	case t&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case t&fs.ModeSocket != 0:
		return "a socket"
	case t&fs.ModeDevice != 0:
		return "a device"
	default:
		return "not a regular file"
	}
}

func formatSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}

// checkDirs checks rel (slash-separated, relative to the repository root)
// and every directory between the root and its file, and returns the
// file's absolute path. Each existing directory must be a real directory,
// not a symbolic link; with mkdir, missing ones are created (0755),
// otherwise the walk stops at the first missing one (nothing below it
// exists, and opening the file then fails with fs.ErrNotExist). The last
// component is left to the caller. The root itself is not checked: it is
// where the user runs capy.
func (r *Repo) checkDirs(rel string, mkdir bool) (string, error) {
	native := filepath.FromSlash(rel)
	if !filepath.IsLocal(native) || filepath.Clean(native) != native {
		return "", &pathError{kind: ErrUnsafePath,
			msg: fmt.Sprintf("%q leaves the repository or is not a clean relative path; %s", rel, onlyRegular)}
	}
	parts := strings.Split(native, string(filepath.Separator))
	p := r.Root
	for _, part := range parts[:len(parts)-1] {
		p = filepath.Join(p, part)
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			if !mkdir {
				return filepath.Join(r.Root, native), nil
			}
			// Mkdir never follows a link: if one appeared meanwhile it
			// fails with ErrExist, and the Lstat below refuses the link.
			if err := os.Mkdir(p, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return "", fmt.Errorf("create directory %s: %w", p, err)
			}
			fi, err = os.Lstat(p)
		}
		if err != nil {
			return "", fmt.Errorf("check %s: %w", p, err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return "", unsafeLink(p, true)
		}
		if !fi.IsDir() {
			return "", &pathError{kind: ErrUnsafePath,
				msg: fmt.Sprintf("%s is %s, not a directory; %s", p, describe(fi), onlyRegular)}
		}
	}
	return filepath.Join(r.Root, native), nil
}

// checkFile refuses anything but a regular file at path; a missing file
// passes (it is about to be created, or its read fails).
func checkFile(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("check %s: %w", path, err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return unsafeLink(path, false)
	case !fi.Mode().IsRegular():
		return unsafeKind(path, fi)
	}
	return nil
}

// Path returns the absolute path of a checkout file after the checks of
// ReadFile (a missing file passes), for a caller that hands the path on.
func (r *Repo) Path(rel string) (string, error) {
	p, err := r.checkDirs(rel, false)
	if err != nil {
		return "", err
	}
	return p, checkFile(p)
}

// ReadFile reads the checkout file rel (slash-separated, relative to the
// repository root), refusing a symbolic link at the file or at any
// directory between the root and it, a path that leaves the repository,
// anything but a regular file, and a file of more than limit bytes
// (ErrTooLarge, naming the file and the limit), all before reading. A
// missing file gives an error matching fs.ErrNotExist.
func (r *Repo) ReadFile(rel string, limit int64) ([]byte, error) {
	p, err := r.Path(rel)
	if err != nil {
		return nil, err
	}
	return readRegular(p, limit)
}

// readRegular reads a file that checkFile accepted. It opens it without
// following a link and without blocking on a FIFO (either may have been
// put there since the check), checks the open file again, and reads at
// most limit bytes.
func readRegular(path string, limit int64) ([]byte, error) {
	f, err := privfile.OpenNoFollow(path)
	if err != nil {
		// A link that appeared since the check fails here (ELOOP), with
		// an error naming the path.
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, unsafeKind(path, fi)
	}
	if fi.Size() > limit {
		return nil, tooLarge(path, limit)
	}
	// Sized from the Stat, as os.ReadFile does: io.ReadAll starts at 512
	// bytes and regrows, which costs a 1,000-snippet .env (~200 KB) some
	// 0.3 ms of copies and page faults on every command.
	data, err := readAllSized(io.LimitReader(f, limit+1), fi.Size())
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > limit { // it grew since the Stat
		return nil, tooLarge(path, limit)
	}
	return data, nil
}

// readAllSized is io.ReadAll into a buffer that starts at size+1 bytes
// (the extra byte sees a file that grew without a second read).
func readAllSized(r io.Reader, size int64) ([]byte, error) {
	b := make([]byte, 0, size+1)
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				return b, nil
			}
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // grow: the file is larger than its Stat said
		}
	}
}

// ReadLimited reads a file the user named (`capy import FILE`), which may
// be anywhere and of any kind (a process substitution is a pipe), but
// never more than limit bytes: a larger one is refused with ErrTooLarge.
func ReadLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, tooLarge(path, limit)
	}
	return data, nil
}

// WriteFile atomically replaces the checkout file rel
// (privfile.WriteAtomicWith, with check run just before the rename) after
// the checks of ReadFile, creating missing directories (0755) on the way.
// A new file gets mode 0600; an existing one keeps its mode.
func (r *Repo) WriteFile(rel string, data []byte, check func() error) error {
	return r.writeFile(rel, data, check, 0)
}

// writeFile is WriteFile; a non-zero newMode is the mode of a file that
// does not exist yet (otherwise 0600).
func (r *Repo) writeFile(rel string, data []byte, check func() error, newMode fs.FileMode) error {
	p, err := r.checkDirs(rel, true)
	if err != nil {
		return err
	}
	if err := checkFile(p); err != nil {
		return err
	}
	return privfile.WriteAtomicWith(p, data, privfile.Options{Mode: newMode, Check: check})
}

// File is one file of the checkout: an environment's .env file. It is what
// internal/envsync reads and rewrites (sync.File), with the checks of
// Repo.ReadFile and Repo.WriteFile.
type File struct {
	repo  *Repo
	rel   string
	limit int64
}

// EnvFile returns an environment's .env file (read at most MaxEnvFile).
func (r *Repo) EnvFile(e EnvPin) *File { return &File{repo: r, rel: e.File, limit: MaxEnvFile} }

// LocalFile returns an environment's personal layer (EnvPin.LocalFile).
func (r *Repo) LocalFile(e EnvPin) *File {
	return &File{repo: r, rel: e.LocalFile(), limit: MaxEnvFile}
}

// Rel returns the path relative to the repository root, as project.json
// names it.
func (f *File) Rel() string { return f.rel }

// String returns the absolute path, for messages.
func (f *File) String() string { return filepath.Join(f.repo.Root, filepath.FromSlash(f.rel)) }

// ReadFile reads the file (Repo.ReadFile).
func (f *File) ReadFile() ([]byte, error) { return f.repo.ReadFile(f.rel, f.limit) }

// WriteFile replaces the file atomically (Repo.WriteFile).
func (f *File) WriteFile(data []byte) error { return f.repo.WriteFile(f.rel, data, nil) }

// WriteFileIf is WriteFile with a last-moment check (privfile.Options.Check).
func (f *File) WriteFileIf(data []byte, check func() error) error {
	return f.repo.WriteFile(f.rel, data, check)
}

// keyFileRel is the default CI key file.
const keyFileRel = Dir + "/decrypt"

// KeyFilePath is the default CI key file, .capy/decrypt.
func (r *Repo) KeyFilePath() string { return r.path("decrypt") }

// ReadKeyFile reads a CI key file: path is either KeyFilePath, whose
// directories are checked like those of every checkout file (a .capy that
// is a symbolic link would hand over another checkout's key), or a file
// the user named (--key-file), which may be anywhere. Either must be a
// private regular file, not a link, of at most MaxKeyFile bytes
// (privfile.ReadPrivate, whose insecure-file errors say how to fix it).
func (r *Repo) ReadKeyFile(path string) ([]byte, error) {
	if r.isDefaultKeyFile(path) {
		p, err := r.checkDirs(keyFileRel, false)
		if err != nil {
			return nil, err
		}
		path = p
	}
	return privfile.ReadPrivate(path, MaxKeyFile)
}

// isDefaultKeyFile reports whether path (relative to the working directory
// or absolute) names KeyFilePath, so that `--key-file .capy/decrypt` gets
// the same directory checks as the default.
func (r *Repo) isDefaultKeyFile(path string) bool {
	abs, err := filepath.Abs(path)
	return err == nil && filepath.Clean(abs) == filepath.Clean(r.KeyFilePath())
}

// WriteKeyFile writes a CI key file atomically with mode 0600, to
// KeyFilePath (directories checked and created as for every checkout file)
// or to a file the user named (its directories created 0700).
func (r *Repo) WriteKeyFile(path, line string) error {
	if r.isDefaultKeyFile(path) {
		p, err := r.checkDirs(keyFileRel, true)
		if err != nil {
			return err
		}
		path = p
	} else if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create the key file's directory: %w", err)
	}
	return writePrivate(path, []byte(line))
}

// WriteSharedFile is WriteFile for a file meant to be committed (such as
// .env.example): a new one gets mode 0644 (less the umask).
func (r *Repo) WriteSharedFile(rel string, data []byte) error {
	return r.writeFile(rel, data, nil, 0o644)
}
