package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/workspace"
)

// Issue 16's performance rows (encrypt-only contributors): each measured
// in turns with the command it is judged against, so that both meet the
// same machine.

// sealedVars is how many sealed values the adoption and CAPY_KEY rows use.
const sealedVars = 100

// recipientOf is the age recipient pinned for the repository's default
// environment (written by `capy init`).
func recipientOf(dir string) (string, error) {
	repo, err := workspace.FindRepo(dir)
	if err != nil {
		return "", err
	}
	pin := repo.Project.Environments[repo.Project.DefaultEnvironment]
	if pin.Recipient == "" {
		return "", fmt.Errorf("%s pins no age recipient", filepath.Join(dir, ".capy", "project.json"))
	}
	return pin.Recipient, nil
}

// GenSealedEnv is GenEnv's names, each value (GenEnv's text for gen)
// sealed to recipient as `capy encrypt` would: a fresh age encryption per
// value.
func GenSealedEnv(n int, gen, recipient string) ([]byte, error) {
	var b strings.Builder
	b.WriteString("# sealed by capybench\n")
	for i := range n {
		s, err := keys.SealTo(recipient, fmt.Sprintf("contributed-%s-%05d", gen, i))
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "APP_VAR_%05d=%s\n", i, s)
	}
	return []byte(b.String()), nil
}

// setupSealedCI makes a second CI checkout of rp whose .env holds n
// sealed values (no snippets): what a runner reads when contributors
// wrote values no member has adopted yet.
func setupSealedCI(work string, rp *Repo, n int) (string, error) {
	dir := filepath.Join(work, fmt.Sprintf("ci-sealed-%d", n))
	if err := os.MkdirAll(filepath.Join(dir, ".capy"), 0o700); err != nil {
		return "", err
	}
	pj, err := os.ReadFile(filepath.Join(rp.CIDir, ".capy", "project.json"))
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, ".capy", "project.json"), pj, 0o600); err != nil {
		return "", err
	}
	rcp, err := recipientOf(dir)
	if err != nil {
		return "", err
	}
	env, err := GenSealedEnv(n, "ci", rcp)
	if err != nil {
		return "", err
	}
	return dir, os.WriteFile(filepath.Join(dir, ".env"), env, 0o600)
}

// measureContributor times `capy encrypt` of one value against `capy
// --version`, in turns, as someone with no account and no network: an
// empty CAPY_HOME and the service URL on a closed port.
func measureContributor(cfg Config, r *Results, c cli, rp *Repo) {
	home := filepath.Join(cfg.Work, "home-contributor")
	if err := os.MkdirAll(home, 0o700); err != nil {
		r.CmdErr[key("-", "encrypt", 1)] = err.Error()
		return
	}
	dana := cli{bin: c.bin, home: home, service: "http://127.0.0.1:9"}
	g := []groupItem{
		{key("-", "encrypt", 1), Cmd{Path: c.bin, Args: []string{"encrypt", "-"}, Dir: rp.CIDir, Env: dana.env(), Stdin: "sk_live_contributed_value\n"}, nil},
		{key("-", "version", 1), Cmd{Path: c.bin, Args: []string{"--version"}, Dir: rp.CIDir, Env: dana.env()}, nil},
	}
	cfg.logf("capy encrypt (one value) and capy --version, interleaved…")
	r.recordGroup(cfg, g)
}

// measureAdopt times a sync that adopts sealedVars sealed values (fresh
// ones each run, all replacing existing values) against the same sync
// with sealedVars plaintext changes, in turns on the same checkout.
func measureAdopt(cfg Config, r *Results, c cli, p *pacer, backend string, rp *Repo) {
	file := filepath.Join(rp.Dir, ".env")
	rcp, err := recipientOf(rp.Dir)
	if err != nil {
		r.CmdErr[key(backend, "sync-adopt", sealedVars)] = err.Error()
		return
	}
	sync := c.cmd(rp.Dir, []string{"sync", "--yes"})
	g := []groupItem{
		{key(backend, "sync-changed", sealedVars), sync, func(i int) error {
			p.take(1)
			return os.WriteFile(file, GenEnv(sealedVars, fmt.Sprintf("p%d", i)), 0o600)
		}},
		{key(backend, "sync-adopt", sealedVars), sync, func(i int) error {
			p.take(1)
			env, err := GenSealedEnv(sealedVars, fmt.Sprintf("s%d", i), rcp)
			if err != nil {
				return err
			}
			return os.WriteFile(file, env, 0o600)
		}},
	}
	cfg.logf("%s: sync adopting %d sealed values and sync with %d plaintext changes, interleaved…", backend, sealedVars, sealedVars)
	r.recordGroup(cfg, g)
}
