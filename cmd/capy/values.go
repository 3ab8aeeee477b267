package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/capy-oss/capy/internal/envfile"
	"github.com/capy-oss/capy/internal/envsync"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/member"
	"github.com/capy-oss/capy/internal/workspace"
	"github.com/urfave/cli/v2"
)

// readKeys picks the key source for reading values (DESIGN §3 Run):
// CAPY_KEY, the key file, CAPY_DEPLOY_CODE (in memory), the member unlock.
// With a deploy code it also returns the head the service handed over;
// with head set, a member's remote already has the head request under
// way.
func (p *project) readKeys(ctx context.Context, pin workspace.EnvPin, keyFile string, head bool) (envsync.EnvKeys, *member.Account, *member.Remote, error) {
	if v := os.Getenv("CAPY_KEY"); v != "" {
		kf, err := keys.ParseEnvKeyFile(v)
		if err != nil {
			return nil, nil, nil, withHint(fmt.Errorf("CAPY_KEY: %w", err), "bad-key", "")
		}
		kr, err := member.CIKeyring(kf, pin)
		if err != nil {
			return nil, nil, nil, withHint(fmt.Errorf("CAPY_KEY is for environment %s, not %s", kf.EnvID, pin.ID), "wrong-env-key", "use the key of this environment, or --env")
		}
		return kr, nil, nil, nil
	}
	explicit := keyFile != ""
	var data []byte
	var err error
	if explicit {
		data, err = p.repo.ReadKeyFile(keyFile)
	} else {
		keyFile = p.repo.KeyFilePath()
		// The default key file is used only if this machine's `capy ci`
		// wrote it: one that came with a branch would otherwise give a
		// member's `capy run` the attacker's environment, with no unlock
		// and no audit row.
		data, err = p.repo.CheckKeyFile(p.home)
		if errors.Is(err, workspace.ErrUntrustedKeyFile) {
			if _, aerr := p.account(); aerr != nil && os.Getenv("CAPY_DEPLOY_CODE") == "" {
				return nil, nil, nil, withHint(fmt.Errorf("refusing .capy/decrypt: %w", err), "untrusted-key-file",
					"run `capy ci` to write it again, delete it, or pass --key-file .capy/decrypt to use it on purpose")
			}
			p.u.warn("ignoring .capy/decrypt: %v", err)
			err = fs.ErrNotExist // fall through to the deploy code or the member key
		}
	}
	switch {
	case err == nil:
		kf, err := keys.ParseEnvKeyFile(string(data))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%s: %w", keyFile, err)
		}
		if kf.EnvID == pin.ID || explicit {
			kr, err := member.CIKeyring(kf, pin)
			if err != nil {
				return nil, nil, nil, withHint(fmt.Errorf("%s holds the key of environment %s, not %s", keyFile, kf.EnvID, pin.ID), "wrong-env-key", "")
			}
			return kr, nil, nil, nil
		}
	case explicit || !errors.Is(err, fs.ErrNotExist):
		return nil, nil, nil, err
	}
	if g, r, err := p.deployCode(ctx, pin); err != nil {
		return nil, nil, nil, err
	} else if g != nil {
		kr, err := member.CIKeyring(g.KeyFile, pin)
		if err != nil {
			return nil, nil, nil, err
		}
		return kr, nil, r, nil
	}
	if head {
		kr, a, r, err := p.memberKeysAndHead(ctx, pin)
		if err != nil {
			return nil, nil, nil, err
		}
		return kr, a, r, nil
	}
	kr, a, err := p.memberKeys(ctx, pin)
	if err != nil {
		return nil, nil, nil, err
	}
	return kr, a, p.remote(a, pin), nil
}

// variable is one decrypted value in file order.
type variable struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	Literal bool   `json:"literal"`
}

// loadValues decrypts an environment from the local file or, with pull,
// from the service's verified head. Plaintext values in the file are used
// as they are, with a warning.
func (p *project) loadValues(ctx context.Context, envName string, pull bool, keyFile string) ([]variable, workspace.EnvPin, error) {
	name, pin, err := p.env(envName)
	if err != nil {
		return nil, pin, err
	}
	kr, _, remote, err := p.readKeys(ctx, pin, keyFile, pull)
	if err != nil {
		return nil, pin, err
	}
	if pull {
		if remote == nil {
			if a, err := p.account(); err == nil {
				remote = p.remote(a, pin) // a session can fetch what the key file decrypts
			} else if _, remote, err = p.deployCode(ctx, pin); err != nil {
				return nil, pin, err // a runner that kept its key file
			}
		}
		if remote == nil {
			return nil, pin, withHint(errors.New("--pull needs a session or CAPY_DEPLOY_CODE"), "no-session", "run `capy login`, or drop --pull to use .env")
		}
		head, err := remote.Head(ctx)
		if err != nil {
			return nil, pin, err
		}
		env, err := p.checkedEnv(name, pin)
		if err != nil {
			return nil, pin, err
		}
		b, side, err := envsync.VerifyHead(head, kr, env)
		if err != nil {
			return nil, pin, err
		}
		if b == nil {
			p.u.warn("environment %s has no versions yet: no values", name)
		} else if err := p.recordSeen(pin, b); err != nil {
			return nil, pin, err
		}
		return sideVars(side), pin, nil
	}
	epoch := p.state.Environments[pin.ID].Epoch
	if epoch == 0 {
		epoch = pin.Epoch
	}
	if ck, ok := kr.(*envsync.CIKeys); ok {
		epoch = ck.Epoch
	}
	cipher, err := kr.Cipher(epoch)
	if err != nil {
		return nil, pin, err
	}
	lf, err := envsync.ReadLocal(p.repo.EnvFile(pin), cipher)
	if err != nil {
		return nil, pin, err
	}
	if !lf.Exists {
		return nil, pin, withHint(fmt.Errorf("%s does not exist", pin.File), "no-env-file", "run `capy` to pull environment "+name)
	}
	if len(lf.Plaintext) > 0 {
		p.u.warn("%s not encrypted yet (run `capy` to sync): %s", pin.File, strings.Join(lf.Plaintext, ", "))
	}
	var out []variable
	for _, e := range lf.Doc.Entries() {
		v := lf.Side.Values[e.Name]
		out = append(out, variable{Name: e.Name, Value: v.Text, Literal: v.Literal})
	}
	return out, pin, nil
}

func sideVars(s envsync.Side) []variable {
	names := make([]string, 0, len(s.Values))
	for n := range s.Values {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]variable, len(names))
	for i, n := range names {
		out[i] = variable{Name: n, Value: s.Values[n].Text, Literal: s.Values[n].Literal}
	}
	return out
}

// expanded resolves ${VAR} references the way godotenv does (never in
// literal values); lookup fills names the file does not define.
func expanded(vars []variable, lookup func(string) (string, bool)) map[string]string {
	entries := make([]envfile.Entry, len(vars))
	for i, v := range vars {
		entries[i] = envfile.Entry{Name: v.Name, Value: v.Value, Literal: v.Literal}
	}
	return envfile.Expand(entries, lookup)
}

func cmdGet(u *ui, c *cli.Context) error {
	if c.Args().Len() != 1 {
		return usageError("get takes one argument: the variable name")
	}
	name := c.Args().First()
	if err := ident.CheckName(name); err != nil {
		return usageError("%v", err)
	}
	p, err := openProject(u)
	if err != nil {
		return err
	}
	vars, _, err := p.loadValues(c.Context, envFlagValue(c), c.Bool("pull"), c.String("key-file"))
	if err != nil {
		return err
	}
	for _, v := range vars {
		if v.Name == name {
			return u.data(v, func(w io.Writer) { fmt.Fprintln(w, v.Value) })
		}
	}
	return withHint(fmt.Errorf("%s is not set in this environment", name), "not-set", "see `capy ls`")
}

func cmdLs(u *ui, c *cli.Context) error {
	p, err := openProject(u)
	if err != nil {
		return err
	}
	_, pin, err := p.env(envFlagValue(c))
	if err != nil {
		return err
	}
	raw, err := p.repo.EnvFile(pin).ReadFile()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	doc, err := envfile.Parse(raw)
	if err != nil {
		return err
	}
	names := nonNil(doc.Names())
	return u.data(names, func(w io.Writer) {
		for _, n := range names {
			fmt.Fprintln(w, n)
		}
	})
}

// readValue gets a value for set: NAME=VALUE (warned), stdin, or a prompt.
func readValue(u *ui, arg string) (string, string, error) {
	if name, value, ok := strings.Cut(arg, "="); ok {
		u.warn("the value is now in your shell history; prefer `capy set %s` and type it at the prompt", name)
		return name, value, nil
	}
	if u.stdinIsTTY() {
		v, err := u.secret(fmt.Sprintf("Value for %s: ", arg))
		return arg, v, err
	}
	data, err := io.ReadAll(io.LimitReader(u.stdin, 64<<10+1))
	if err != nil {
		return "", "", err
	}
	if len(data) > 64<<10 {
		return "", "", usageError("value is larger than 64 KiB")
	}
	return arg, strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r"), nil
}

// editLocal changes the local file (encrypting new values), then syncs
// unless --no-envsync.
func editLocal(u *ui, c *cli.Context, edit func(doc *envfile.Document, cipher *keys.EnvCipher) error) error {
	p, err := openProject(u)
	if err != nil {
		return err
	}
	// Held through the sync below: the file is read, edited and synced
	// without another capy in between.
	release, err := p.lockCheckout()
	if err != nil {
		return err
	}
	defer release()
	name, pin, err := p.env(envFlagValue(c))
	if err != nil {
		return err
	}
	// Before the unlock (which may repair a pin in project.json): a
	// refused edit writes nothing.
	g, err := p.guardCheckout(pin, false)
	if err != nil {
		return err
	}
	kr, a, err := p.memberKeys(c.Context, pin)
	if err != nil {
		return err
	}
	epoch := p.state.Environments[pin.ID].Epoch
	if epoch == 0 {
		epoch = pin.Epoch
	}
	cipher, err := kr.Cipher(epoch)
	if err != nil {
		return err
	}
	file := p.repo.EnvFile(pin)
	raw, err := file.ReadFile()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	doc, err := envfile.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", pin.File, err)
	}
	before := map[string]string{}
	for _, e := range doc.Entries() {
		before[e.Name] = e.Value
	}
	if err := edit(doc, cipher); err != nil {
		return err
	}
	// The names this command set or removed: the sync below must not
	// take them for what a file changed outside capy did.
	own := map[string]bool{}
	for _, e := range doc.Entries() {
		if v, ok := before[e.Name]; !ok || v != e.Value {
			own[e.Name] = true
		}
		delete(before, e.Name)
	}
	for n := range before {
		own[n] = true
	}
	out := doc.Bytes()
	if err := file.WriteFile(out); err != nil {
		return err
	}
	if !g.changed {
		// capy's own edit of a file capy wrote: the sync below need not
		// ask about it. (An edit on top of a file changed outside capy
		// leaves the record alone, so the sync still checks that file.)
		if err := g.wrote(out); err != nil {
			return err
		}
	}
	if c.Bool("no-sync") {
		return nil
	}
	return runSync(u, c, p, g, a, kr, name, pin, envsync.Options{OwnEdits: own})
}

func cmdSet(u *ui, c *cli.Context) error {
	if c.Args().Len() != 1 {
		return usageError("set takes one argument: NAME (the value comes from stdin or a prompt)")
	}
	name, value, err := readValue(u, c.Args().First())
	if err != nil {
		return err
	}
	if err := ident.CheckName(name); err != nil {
		return usageError("%v", err)
	}
	return editLocal(u, c, func(doc *envfile.Document, cipher *keys.EnvCipher) error {
		s, err := cipher.Seal(name, value, c.Bool("literal"))
		if err != nil {
			return err
		}
		return doc.Set(name, s, false)
	})
}

func cmdUnset(u *ui, c *cli.Context) error {
	if c.Args().Len() != 1 {
		return usageError("unset takes one argument: the variable name")
	}
	name := c.Args().First()
	return editLocal(u, c, func(doc *envfile.Document, _ *keys.EnvCipher) error {
		if !doc.Delete(name) {
			return withHint(fmt.Errorf("%s is not set in this environment", name), "not-set", "see `capy ls`")
		}
		return nil
	})
}

func cmdImport(u *ui, c *cli.Context) error {
	if c.Args().Len() != 1 {
		return usageError("import takes one argument: the plaintext file")
	}
	raw, err := workspace.ReadLimited(c.Args().First(), workspace.MaxEnvFile)
	if err != nil {
		return err
	}
	src, err := envfile.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", c.Args().First(), err)
	}
	n := 0
	err = editLocal(u, c, func(doc *envfile.Document, cipher *keys.EnvCipher) error {
		for _, e := range src.Entries() {
			s, err := cipher.Seal(e.Name, e.Value, e.Literal)
			if err != nil {
				return err
			}
			if err := doc.Set(e.Name, s, false); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err == nil {
		u.done("imported %d value(s); delete the plaintext file", n)
	}
	return err
}

func cmdExport(u *ui, c *cli.Context) error {
	p, err := openProject(u)
	if err != nil {
		return err
	}
	vars, _, err := p.loadValues(c.Context, envFlagValue(c), c.Bool("pull"), c.String("key-file"))
	if err != nil {
		return err
	}
	vals := expanded(vars, nil)
	w := u.stdout
	switch c.String("format") {
	case "json":
		m := map[string]string{}
		for _, v := range vars {
			m[v.Name] = vals[v.Name]
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(m)
	case "dotenv":
		for _, v := range vars {
			if err := writeDotenv(w, v.Name, vals[v.Name]); err != nil {
				return err
			}
		}
	case "shell":
		for _, v := range vars {
			fmt.Fprintf(w, "export %s=%s\n", v.Name, shellQuote(vals[v.Name]))
		}
	case "yaml":
		for _, v := range vars {
			q, _ := json.Marshal(vals[v.Name]) // a JSON string is a valid YAML double-quoted scalar
			fmt.Fprintf(w, "%s: %s\n", v.Name, q)
		}
	default:
		return usageError("--format takes dotenv, json, yaml or shell")
	}
	return nil
}

// writeDotenv writes NAME=VALUE so that both godotenv and `docker
// --env-file` (which takes the rest of the line verbatim) read VALUE; a
// value docker cannot carry (a newline) is refused rather than mangled.
func writeDotenv(w io.Writer, name, value string) error {
	if strings.ContainsAny(value, "\n\r") {
		return withHint(fmt.Errorf("%s has a line break, which dotenv files for docker cannot hold", name), "unexportable", "use --format json or shell")
	}
	doc, _ := envfile.Parse(nil)
	// Literal only where it matters: a literal value is single-quoted, and
	// docker --env-file would keep the quotes.
	if err := doc.Set(name, value, strings.Contains(value, "$")); err != nil {
		return err
	}
	_, err := w.Write(doc.Bytes())
	return err
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
