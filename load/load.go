// Package load gives a Go program the values `capy run` would give it,
// for programs that cannot be started through `capy run` (a platform
// that starts the binary itself, a test harness, a plugin host).
//
// It reads what `capy run` reads, with no service and no session: the
// environment key from CAPY_KEY (the line of `capy ci`'s key file, for
// platforms that inject secrets as variables) or else .capy/decrypt,
// which `capy ci` wrote on this machine (one that came with a branch, or
// that git tracks, is refused, as `capy run` refuses it); the
// environment's file (.env unless project.json says otherwise) and its
// local layer (.env.local) over it; the checkout's current environment,
// as `capy run` without --env. Every snippet is opened and checked under
// the environment's key and bound to its name (a snippet moved to another
// name, or tampered with, refuses the whole load), sealed values
// (capy:age:) open with the environment's age identity, and ${VAR}
// references expand as in `capy run` (never in literal values; a name the
// file does not define reads the process's environment). Names that can
// make a program run code (PATH, LD_PRELOAD, NODE_OPTIONS, …) are refused
// unless CAPY_ALLOW_NAMES admits them, as `capy run` refuses them without
// --allow-name.
//
// Nothing is written: plaintext still in the files is used as it is
// (the next capy command seals it).
//
// Usage, first thing in main:
//
//	func main() {
//		if err := load.Into(os.Setenv); err != nil {
//			log.Fatalf("capy: %v", err)
//		}
//		db, err := sql.Open("pgx", os.Getenv("DATABASE_URL"))
//		…
//	}
//
// The package links the key and format code of capy and nothing of its
// command line or HTTP client: a program built as capy's releases are
// (-trimpath, -ldflags="-s -w") grows by about 2.4 MiB.
package load

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/capy-oss/capy/internal/envfile"
	"github.com/capy-oss/capy/internal/envsync"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/workspace"
)

// Environ returns the environment's values by name, expanded as `capy
// run` expands them. It does not change the process's environment.
func Environ() (map[string]string, error) {
	vars, err := read()
	if err != nil {
		return nil, err
	}
	entries := make([]envfile.Entry, len(vars))
	for i, v := range vars {
		entries[i] = envfile.Entry{Name: v.Name, Value: v.Value, Literal: v.Literal}
	}
	values := envfile.Expand(entries, func(name string) (string, bool) {
		if strings.HasPrefix(name, "CAPY_") {
			return "", false // capy's own settings are never a value's part
		}
		return os.LookupEnv(name)
	})
	if err := checkExecNames(values, os.Getenv("CAPY_ALLOW_NAMES")); err != nil {
		return nil, err
	}
	return values, nil
}

// Into sets every value of Environ with setenv, in name order: pass
// os.Setenv. A value replaces one the process already has, as in `capy
// run`. When reading fails nothing is set; when setenv fails, the names
// before it are set and the error names the one that failed.
func Into(setenv func(key, value string) error) error {
	values, err := Environ()
	if err != nil {
		return err
	}
	names := make([]string, 0, len(values))
	for n := range values {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := setenv(n, values[n]); err != nil {
			return fmt.Errorf("capy load: set %s: %w", n, err)
		}
	}
	return nil
}

// read finds the checkout around the working directory and reads its
// current environment with the key CAPY_KEY or .capy/decrypt holds.
func read() ([]envsync.Var, error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("capy load: %w", err)
	}
	repo, err := workspace.FindRepo(wd)
	if err != nil {
		return nil, fmt.Errorf("capy load: %w", err)
	}
	st, err := repo.LoadState()
	if err != nil {
		return nil, fmt.Errorf("capy load: %w", err)
	}
	name := repo.CurrentEnv(st)
	pin, ok := repo.Project.Environments[name]
	if !ok {
		return nil, fmt.Errorf("capy load: no environment %q in this project (see `capy env`)", name)
	}
	kf, err := readKey(repo)
	if err != nil {
		return nil, err
	}
	if kf.EnvID != pin.ID {
		return nil, fmt.Errorf("capy load: the key is for environment %s, not %s (%s): use the key of this environment, or `capy env switch`",
			kf.EnvID, name, pin.ID)
	}
	// A key file holds one epoch's key: the environment's file must be
	// sealed under it (after a rotation, `capy ci` again).
	vars, shared, _, err := envsync.ReadEnv(repo.EnvFile(pin), repo.LocalFile(pin), kf.Key.Cipher(kf.EnvID, kf.Epoch))
	if err != nil {
		return nil, fmt.Errorf("capy load: %w", err)
	}
	if !shared.Exists {
		return nil, fmt.Errorf("capy load: %s does not exist (run `capy ci` to write it)", pin.File)
	}
	return vars, nil
}

// readKey is CAPY_KEY, else .capy/decrypt if `capy ci` wrote it on this
// machine (workspace.Repo.CheckKeyFile, as `capy run` checks it).
func readKey(repo *workspace.Repo) (keys.EnvKeyFile, error) {
	if v := os.Getenv("CAPY_KEY"); v != "" {
		kf, err := keys.ParseEnvKeyFile(v)
		if err != nil {
			return kf, fmt.Errorf("capy load: CAPY_KEY: %w", err)
		}
		return kf, nil
	}
	if _, err := os.Lstat(repo.KeyFilePath()); errors.Is(err, fs.ErrNotExist) {
		return keys.EnvKeyFile{}, errors.New("capy load: no key: set CAPY_KEY to the environment's key line, or run `capy ci` here (it writes .capy/decrypt)")
	}
	home, err := workspace.OpenHome()
	if err != nil {
		return keys.EnvKeyFile{}, fmt.Errorf("capy load: %w", err)
	}
	data, err := repo.CheckKeyFile(home)
	if errors.Is(err, workspace.ErrUntrustedKeyFile) {
		return keys.EnvKeyFile{}, fmt.Errorf("capy load: refusing .capy/decrypt: %w; run `capy ci` here to write it again, or set CAPY_KEY", err)
	}
	if err != nil {
		return keys.EnvKeyFile{}, fmt.Errorf("capy load: %w", err)
	}
	kf, err := keys.ParseEnvKeyFile(string(data))
	if err != nil {
		return kf, fmt.Errorf("capy load: %s: %w", repo.KeyFilePath(), err)
	}
	return kf, nil
}

// checkExecNames refuses names that make a program load or run code of
// the setter's choosing unless allow (CAPY_ALLOW_NAMES, comma-separated)
// admits them: the rule of `capy run`.
func checkExecNames(values map[string]string, allow string) error {
	refused := ident.RefusedExecNames(values, strings.Split(allow, ",")...)
	if len(refused) == 0 {
		return nil
	}
	return fmt.Errorf("capy load: the environment sets %s, which can make this program run code chosen by whoever wrote the value; if your team means it, admit each name with CAPY_ALLOW_NAMES=NAME,…",
		strings.Join(refused, ", "))
}
