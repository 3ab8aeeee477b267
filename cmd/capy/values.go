package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/capy-oss/capy/internal/checkout"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/urfave/cli/v2"
)

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
	vars, err := p.Values(c.Context, envFlagValue(c), c.Bool("pull"), c.String("key-file"))
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
	names, err := p.Names(envFlagValue(c))
	if err != nil {
		return err
	}
	names = nonNil(names)
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

func cmdSet(u *ui, c *cli.Context) error {
	if c.Args().Len() != 1 {
		return usageError("set takes one argument: NAME (the value comes from stdin or a prompt)")
	}
	name, value, err := readValue(u, c.Args().First())
	if err != nil {
		return err
	}
	if value == "" && !c.Bool("allow-empty") && !strings.Contains(c.Args().First(), "=") {
		// An empty stdin (</dev/null, a variable that was not set) is
		// almost always a mistake; NAME= says it on purpose.
		return usageError("no value for %s: stdin was empty; pass --allow-empty to set an empty value", name)
	}
	if err := ident.CheckName(name); err != nil {
		return usageError("%v", err)
	}
	if c.Bool("public") {
		return cmdSetPublic(u, c, name, value)
	}
	p, err := openProject(u)
	if err != nil {
		return err
	}
	res, err := p.Set(c.Context, envFlagValue(c), name, value, c.Bool("literal"), !c.Bool("no-sync"))
	return reportSync(u, res, err)
}

func cmdUnset(u *ui, c *cli.Context) error {
	if c.Args().Len() != 1 {
		return usageError("unset takes one argument: the variable name")
	}
	p, err := openProject(u)
	if err != nil {
		return err
	}
	res, err := p.Unset(c.Context, envFlagValue(c), c.Args().First(), !c.Bool("no-sync"))
	return reportSync(u, res, err)
}

func cmdImport(u *ui, c *cli.Context) error {
	if c.Args().Len() != 1 {
		return usageError("import takes one argument: the file (- for stdin)")
	}
	format, from := c.String("format"), c.String("from")
	switch format {
	case "dotenv", "json", "yaml":
	default:
		return usageError("--format takes dotenv, json or yaml")
	}
	switch from {
	case "", "dotenvx", "sops":
	default:
		return usageError("--from takes dotenvx or sops (for other tools, export plaintext and pipe it in: docs/recipes.md)")
	}
	if from != "" && c.IsSet("format") {
		return usageError("--from reads the tool's own format: leave out --format")
	}
	if c.IsSet("keys") && from != "dotenvx" {
		return usageError("--keys is for --from dotenvx")
	}
	// Read and parse (and decrypt) before the project is opened: bad
	// input writes nothing.
	src, err := checkout.ReadImport(c.Context, checkout.ImportSource{Path: c.Args().First(), Stdin: u.stdin,
		Format: format, From: from, KeysFile: c.String("keys")})
	if err != nil {
		return err
	}
	p, err := openProject(u)
	if err != nil {
		return err
	}
	n, res, err := p.Import(c.Context, envFlagValue(c), src, !c.Bool("no-sync"))
	if err = reportSync(u, res, err); err == nil {
		u.done("imported %d value(s); delete the plaintext file", n)
	}
	return err
}

func cmdExport(u *ui, c *cli.Context) error {
	format := c.String("format")
	switch format {
	case "json", "dotenv", "shell", "yaml", "k8s":
	default:
		return usageError("--format takes dotenv, json, yaml, shell or k8s")
	}
	secretName := c.String("name")
	if c.IsSet("name") && format != "k8s" {
		return usageError("--name is for --format k8s")
	}
	if secretName != "" && !validK8sName(secretName) {
		return usageError("--name %q is not a Kubernetes object name (lowercase letters, digits, '-' and '.', at most 253)", secretName)
	}
	p, err := openProject(u)
	if err != nil {
		return err
	}
	vars, err := p.Values(c.Context, envFlagValue(c), c.Bool("pull"), c.String("key-file"))
	if err != nil {
		return err
	}
	if format == "k8s" && secretName == "" {
		if secretName, _, err = p.Env(envFlagValue(c)); err != nil {
			return err
		}
		if !validK8sName(secretName) {
			return usageError("environment %q is not a Kubernetes object name: pass --name", secretName)
		}
	}
	// Everything is written to a buffer first: a value the format cannot
	// express refuses the export before any line reaches stdout.
	var w bytes.Buffer
	if format == "k8s" {
		err = formatK8sSecret(&w, secretName, vars)
	} else {
		err = formatExport(&w, format, vars)
	}
	if err != nil {
		return err
	}
	_, err = u.stdout.Write(w.Bytes())
	return err
}

// formatExport writes vars in format to w.
func formatExport(w io.Writer, format string, vars []checkout.Variable) error {
	vals := checkout.Expand(vars, nil)
	switch format {
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
			line, err := checkout.DotenvLine(v.Name, vals[v.Name])
			if err != nil {
				return err
			}
			if _, err := w.Write(line); err != nil {
				return err
			}
		}
	case "shell":
		for _, v := range vars {
			fmt.Fprintf(w, "export %s=%s\n", v.Name, shellQuote(vals[v.Name]))
		}
	case "yaml":
		for _, v := range vars {
			fmt.Fprintf(w, "%s: %s\n", v.Name, checkout.YAMLValue(vals[v.Name]))
		}
	}
	return nil
}

// formatK8sSecret writes vars as a Kubernetes Secret manifest (for
// `kubectl apply -f -`): each value base64 under data, which carries any
// text (line breaks included) with nothing for YAML to interpret.
func formatK8sSecret(w io.Writer, name string, vars []checkout.Variable) error {
	vals := checkout.Expand(vars, nil)
	fmt.Fprintf(w, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\ntype: Opaque\ndata:\n", name)
	for _, v := range vars {
		fmt.Fprintf(w, "  %s: %s\n", v.Name, base64.StdEncoding.EncodeToString([]byte(vals[v.Name])))
	}
	return nil
}

// validK8sName: a DNS-1123 subdomain, what a Secret's name must be.
func validK8sName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (c != '-' && c != '.' || i == 0 || i == len(s)-1) {
			return false
		}
	}
	return true
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
