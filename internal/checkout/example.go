package checkout

import (
	"errors"
	"fmt"
	"io/fs"
	"path"

	"github.com/capy-oss/capy/internal/envguard"
	"github.com/capy-oss/capy/internal/workspace"
)

// ExampleOptions says which .env.example to make or check.
type ExampleOptions struct {
	Env          string            // the environment (default: the current one)
	File         string            // the example, relative to the repository root (default: the environment's file + ".example")
	Placeholders map[string]string // a public value per name, instead of the empty one
}

// ExampleResult is what Example wrote or CheckExample found.
type ExampleResult struct {
	Environment string   `json:"environment"`
	From        string   `json:"from"` // the environment's file
	File        string   `json:"file"` // the example
	Names       int      `json:"names"`
	Changed     bool     `json:"changed,omitempty"` // Example: the file was (re)written
	Missing     []string `json:"missing,omitempty"` // CheckExample: names the example lacks
	Stale       []string `json:"stale,omitempty"`   // CheckExample: names only the example has
}

// exampleFiles opens the checkout as a contributor does (project.json and
// state.json: names are in the clear in the file, so no key is needed) and
// reads the environment's file.
func exampleFiles(opt ExampleOptions) (*Contributor, *ExampleResult, []byte, error) {
	c, err := OpenContributor()
	if err != nil {
		return nil, nil, nil, err
	}
	name, pin, err := c.p.Env(opt.Env)
	if err != nil {
		return nil, nil, nil, err
	}
	file := opt.File
	if file == "" {
		file = pin.File + ".example"
	}
	if err := workspace.CheckEnvFilePath(path.Clean(file)); err != nil || path.Clean(file) != file {
		return nil, nil, nil, refuse(fmt.Errorf("%s is not a clean path inside the repository", file), "usage", "name the example relative to the repository root (like .env.example)")
	}
	// Never over a file capy manages: an example written over another
	// environment's file would replace its snippets.
	for other, e := range c.p.Repo.Project.Environments {
		if file == e.File || file == e.LocalFile() {
			return nil, nil, nil, refuse(fmt.Errorf("%s is a file of environment %s", file, other), "usage", "name another file for the example")
		}
	}
	env, err := c.p.Repo.EnvFile(pin).ReadFile()
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil, refuse(fmt.Errorf("%s (environment %s) does not exist on this machine", pin.File, name), "no-env-file",
			"run `capy` (or `capy ci` on a runner) first to write it")
	}
	if err != nil {
		return nil, nil, nil, err
	}
	return c, &ExampleResult{Environment: name, From: pin.File, File: file}, env, nil
}

// Example writes the environment's example file (envguard.Example):
// atomically, mode 0644 for a new file (it is meant to be committed),
// not at all when it would not change.
func Example(opt ExampleOptions) (*ExampleResult, error) {
	c, res, env, err := exampleFiles(opt)
	if err != nil {
		return nil, err
	}
	existing, err := c.p.Repo.ReadFile(res.File, workspace.MaxEnvFile)
	if errors.Is(err, fs.ErrNotExist) {
		existing, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	out, err := envguard.Example(env, existing, opt.Placeholders)
	if err != nil {
		return nil, refuse(fmt.Errorf("%s: %w", res.From, err), "usage", "fix the file or the placeholder, then run this again")
	}
	res.Names = len(mustNames(env))
	if existing != nil && string(existing) == string(out) {
		return res, nil
	}
	if err := c.p.Repo.WriteSharedFile(res.File, out); err != nil {
		return nil, err
	}
	res.Changed = true
	return res, nil
}

// CheckExample compares the example with the environment's names
// (envguard.Missing); it writes nothing. A missing example lacks every
// name.
func CheckExample(opt ExampleOptions) (*ExampleResult, error) {
	c, res, env, err := exampleFiles(opt)
	if err != nil {
		return nil, err
	}
	example, err := c.p.Repo.ReadFile(res.File, workspace.MaxEnvFile)
	if errors.Is(err, fs.ErrNotExist) {
		example, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	res.Missing, res.Stale, err = envguard.Missing(env, example)
	if err != nil {
		return nil, refuse(err, "usage", "fix the file named, or write the example anew with `capy example`")
	}
	res.Names = len(mustNames(env))
	return res, nil
}

// mustNames is the names of a file already parsed once.
func mustNames(env []byte) []string {
	missing, _, _ := envguard.Missing(env, nil)
	return missing
}
