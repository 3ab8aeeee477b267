package checkout

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/capy-oss/capy/internal/privfile"
	"github.com/capy-oss/capy/internal/workspace"
)

// hookMarker is the line that makes a pre-commit hook capy's: install
// replaces and uninstall removes only a hook that has it.
const hookMarker = "# capy-hook: pre-commit v1"

// hookScript is the pre-commit hook: it scans what the commit would hold.
// It fails closed when capy is not on PATH (a guard that passes silently
// guards nothing); `git commit --no-verify` is the documented way round.
const hookScript = `#!/bin/sh
` + hookMarker + `
# Refuses a commit that would add a plaintext value to a .env file.
# Installed by ` + "`capy hook install`; `capy hook uninstall`" + ` removes it.
if ! command -v capy >/dev/null 2>&1; then
	echo "capy pre-commit hook: capy is not on PATH; install it (or skip the scan once: git commit --no-verify)" >&2
	exit 1
fi
exec capy scan --staged
`

// hookBackupSuffix names where install --force keeps a foreign hook, and
// where uninstall puts it back from.
const hookBackupSuffix = ".before-capy"

// HookResult says what install or uninstall did.
type HookResult struct {
	Path     string `json:"path"`               // the pre-commit hook
	Action   string `json:"action"`             // installed, updated, removed, absent
	Backup   string `json:"backup,omitempty"`   // where a foreign hook was kept (install --force)
	Restored string `json:"restored,omitempty"` // the foreign hook put back (uninstall)
}

// hookPath is git's pre-commit hook of the repository around dir (it
// follows core.hooksPath and worktrees).
func hookPath(ctx context.Context, dir string) (string, error) {
	out, err := git(ctx, dir, "rev-parse", "--git-path", "hooks")
	if err != nil {
		return "", err
	}
	hooks := strings.TrimSpace(string(out))
	if !filepath.IsAbs(hooks) {
		hooks = filepath.Join(dir, hooks)
	}
	return filepath.Join(hooks, "pre-commit"), nil
}

// isOurHook reports whether the hook at path is capy's.
func isOurHook(data []byte) bool {
	return strings.Contains(string(data), "\n"+hookMarker+"\n")
}

// workingHookPath is the pre-commit hook's path in the git repository of
// the working directory.
func workingHookPath(ctx context.Context) (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return hookPath(ctx, wd)
}

// InstallHook installs capy's pre-commit hook in the git repository of the
// working directory. A hook that is not capy's is refused (foreign-hook),
// unless force: then it is kept as pre-commit.before-capy (uninstall puts
// it back) and replaced.
func InstallHook(ctx context.Context, force bool) (*HookResult, error) {
	path, err := workingHookPath(ctx)
	if err != nil {
		return nil, err
	}
	res := &HookResult{Path: path, Action: "installed"}
	old, err := workspace.ReadLimited(path, 1<<20)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("read the pre-commit hook: %w", err)
	case isOurHook(old):
		res.Action = "updated"
	case !force:
		return nil, refuse(fmt.Errorf("%s is another tool's pre-commit hook; nothing was changed", path), "foreign-hook",
			"add `capy scan --staged` to that hook yourself, or run `capy hook install --force` (it keeps the old hook as pre-commit"+hookBackupSuffix+")")
	default:
		backup := path + hookBackupSuffix
		if _, err := os.Lstat(backup); err == nil {
			return nil, refuse(fmt.Errorf("%s already exists; nothing was changed", backup), "foreign-hook",
				"move it away first: capy keeps the current hook there")
		}
		if err := os.Rename(path, backup); err != nil {
			return nil, fmt.Errorf("keep the old pre-commit hook: %w", err)
		}
		res.Backup = backup
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create the hooks directory: %w", err)
	}
	if err := privfile.WriteAtomicWith(path, []byte(hookScript), privfile.Options{Mode: 0o755}); err != nil {
		return nil, fmt.Errorf("write the pre-commit hook: %w", err)
	}
	// An existing file keeps its mode on an atomic write: make sure it runs.
	if err := os.Chmod(path, 0o755); err != nil {
		return nil, fmt.Errorf("make the pre-commit hook executable: %w", err)
	}
	return res, nil
}

// UninstallHook removes capy's pre-commit hook (and puts back the hook
// install --force kept); a hook that is not capy's is left alone and
// refused (foreign-hook).
func UninstallHook(ctx context.Context) (*HookResult, error) {
	path, err := workingHookPath(ctx)
	if err != nil {
		return nil, err
	}
	res := &HookResult{Path: path, Action: "removed"}
	data, err := workspace.ReadLimited(path, 1<<20)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		res.Action = "absent"
		return res, nil
	case err != nil:
		return nil, fmt.Errorf("read the pre-commit hook: %w", err)
	case !isOurHook(data):
		return nil, refuse(fmt.Errorf("%s is not capy's pre-commit hook; it was left as it is", path), "foreign-hook",
			"remove capy's line from it yourself if you added one")
	}
	backup := path + hookBackupSuffix
	if _, err := os.Lstat(backup); err == nil {
		if err := os.Rename(backup, path); err != nil {
			return nil, fmt.Errorf("put back the earlier pre-commit hook: %w", err)
		}
		res.Restored = path
		return res, nil
	}
	if err := os.Remove(path); err != nil {
		return nil, fmt.Errorf("remove the pre-commit hook: %w", err)
	}
	return res, nil
}
