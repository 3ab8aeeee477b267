package checkout

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/capy-oss/capy/internal/envfile"
	"github.com/capy-oss/capy/internal/importfmt"
	"github.com/capy-oss/capy/internal/workspace"
)

// ImportSource is what `capy import` reads: a file (or stdin) in a format,
// or another tool's encrypted file to decrypt first.
type ImportSource struct {
	// Path is FILE; "-" reads Stdin.
	Path  string
	Stdin io.Reader
	// Format is dotenv, json or yaml (the plaintext's format; From
	// decides for dotenvx and sops).
	Format string
	// From is "" (plaintext), "dotenvx" or "sops".
	From string
	// KeysFile is dotenvx's .env.keys (default: the one beside Path).
	KeysFile string
}

// ReadImport reads and parses src into the values Import seals. Nothing is
// written: bad input of any kind is refused here, before the checkout is
// touched.
func ReadImport(ctx context.Context, src ImportSource) (*Plaintext, error) {
	switch src.From {
	case "":
	case "dotenvx":
		return readDotenvx(src)
	case "sops":
		return readSops(ctx, src)
	default:
		return nil, refuse(fmt.Errorf("--from %q: capy imports from dotenvx or sops", src.From), "usage",
			"for other tools export plaintext and pipe it in (docs/recipes.md)")
	}
	raw, what, err := readImportFile(src)
	if err != nil {
		return nil, err
	}
	switch src.Format {
	case "", "dotenv":
		return ParsePlaintext(raw, what)
	case "json":
		return ParsePlaintextJSON(raw, what)
	case "yaml":
		es, err := importfmt.YAML(raw)
		if err != nil {
			return nil, badImport(what, err, "give one YAML mapping of names to values, e.g. API_TOKEN: \"…\"")
		}
		return plaintextOf(what, es)
	}
	return nil, refuse(fmt.Errorf("--format %q: capy imports dotenv, json or yaml", src.Format), "usage", "")
}

// readImportFile reads FILE (at most MaxEnvFile) or stdin for "-".
func readImportFile(src ImportSource) ([]byte, string, error) {
	if src.Path == "-" {
		raw, err := io.ReadAll(io.LimitReader(src.Stdin, workspace.MaxEnvFile+1))
		if err != nil {
			return nil, "stdin", fmt.Errorf("read stdin: %w", err)
		}
		if len(raw) > workspace.MaxEnvFile {
			return nil, "stdin", fmt.Errorf("stdin: %w", workspace.ErrTooLarge)
		}
		return raw, "stdin", nil
	}
	raw, err := workspace.ReadLimited(src.Path, workspace.MaxEnvFile)
	return raw, src.Path, err
}

// badImport is a parser's refusal as a usage error naming the input.
func badImport(what string, err error, hint string) error {
	return refuse(fmt.Errorf("%s: %w", what, err), "usage", hint)
}

// plaintextOf builds the document Import seals from parsed entries.
func plaintextOf(what string, es []importfmt.Entry) (*Plaintext, error) {
	doc, _ := envfile.Parse(nil)
	for _, e := range es {
		if err := doc.Set(e.Name, e.Value, e.Literal); err != nil {
			return nil, refuse(fmt.Errorf("%s: %s: %w", what, e.Name, err), "usage", "")
		}
	}
	return &Plaintext{doc: doc}, nil
}

// readDotenvx decrypts a dotenvx-encrypted file with its .env.keys.
func readDotenvx(src ImportSource) (*Plaintext, error) {
	if src.Path == "-" {
		return nil, refuse(errors.New("--from dotenvx reads a file, not stdin"), "usage", "give the path of the encrypted .env")
	}
	env, what, err := readImportFile(src)
	if err != nil {
		return nil, err
	}
	keysPath := src.KeysFile
	if keysPath == "" {
		keysPath = filepath.Join(filepath.Dir(src.Path), ".env.keys")
	}
	keys, err := workspace.ReadLimited(keysPath, workspace.MaxEnvFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, refuse(fmt.Errorf("no dotenvx keys file %s", keysPath), "usage",
			"pass --keys PATH to the .env.keys that holds the file's DOTENV_PRIVATE_KEY (a teammate's, or your secret store's)")
	}
	if err != nil {
		return nil, err
	}
	es, err := importfmt.Dotenvx(env, keys)
	if err != nil {
		return nil, badImport(what, err, "check that "+keysPath+" is the keys file of this .env (dotenvx decrypt -f FILE --stdout shows whether dotenvx can read it)")
	}
	return plaintextOf(what, es)
}

// sopsHint says how to get sops, or to do without it.
const sopsHint = "install sops (https://getsops.io/docs/#download, e.g. `brew install sops`), or decrypt it yourself: `sops decrypt --output-type yaml FILE | capy import --format yaml -`"

// readSops runs `sops decrypt` on the file (sops finds the key as it
// always does: age, PGP, a cloud KMS) and reads its output as YAML, the
// one output format that keeps every input format flat-or-refused. The
// plaintext goes through a pipe, never a file; sops's error output is
// shown (it names keys and files, not values).
func readSops(ctx context.Context, src ImportSource) (*Plaintext, error) {
	if src.Path == "-" {
		return nil, refuse(errors.New("--from sops reads a file, not stdin"), "usage", "give the path of the sops-encrypted file")
	}
	sops, err := exec.LookPath("sops")
	if err != nil {
		return nil, refuse(errors.New("--from sops needs the sops command, which is not on PATH"), "no-sops", sopsHint)
	}
	path := src.Path
	if strings.HasPrefix(path, "-") {
		path = "./" + path // a file name, not an option of sops
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, sops, "decrypt", "--output-type", "yaml", path)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		// sops's first line says what failed; the rest lists every key
		// location it tried (run sops yourself to see it).
		msg, _, _ := strings.Cut(strings.TrimSpace(stderr.String()), "\n")
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
		return nil, refuse(fmt.Errorf("sops decrypt %s: %w: %s", src.Path, err, msg), "sops-failed",
			"run `sops decrypt FILE` to see why; sops needs its key here (SOPS_AGE_KEY_FILE, a PGP key, cloud credentials)")
	}
	if stdout.Len() > workspace.MaxEnvFile {
		return nil, fmt.Errorf("sops decrypt %s: %w", src.Path, workspace.ErrTooLarge)
	}
	es, err := importfmt.YAML(stdout.Bytes())
	if err != nil {
		return nil, badImport("sops decrypt "+src.Path, err, "")
	}
	return plaintextOf(src.Path, es)
}

// YAMLValue is a value as `capy export --format yaml` writes it: the
// double-quoted form `capy import --format yaml` reads back
// (importfmt.YAMLQuote).
func YAMLValue(s string) string { return importfmt.YAMLQuote(s) }
