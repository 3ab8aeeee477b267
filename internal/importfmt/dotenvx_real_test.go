package importfmt

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/envfile"
)

// The dotenvx decoder is checked against the real dotenvx from npm: the
// test installs it, has it encrypt a .env of 100 values (multi-line,
// quoted, escaped, empty, unicode, one ${…} reference), and compares what
// Dotenvx decrypts (expanded as capy expands) with what `dotenvx get`
// prints. Where npm is unreachable it skips; testdata/dotenvx holds one
// such file made by dotenvx 2.38.2 (TestDotenvxKnownAnswer), so a broken
// decoder fails without npm too. CAPY_WRITE_DOTENVX_TESTDATA=1 rewrites
// those files (and the acceptance script's) from a fresh run.

// dotenvxSample is the plaintext .env dotenvx encrypts: 100 values.
func dotenvxSample() []byte {
	var b strings.Builder
	b.WriteString("# made for capy's dotenvx import test\n")
	for i := range 100 {
		name := fmt.Sprintf("VAR_%02d", i)
		var line string
		switch i % 10 {
		case 0:
			line = fmt.Sprintf("%s=simple-value-%d", name, i)
			if i == 10 {
				line = name + "=prefix-${VAR_00}-suffix"
			}
		case 1:
			line = fmt.Sprintf("%s=\"line one %d\nline two\n  indented three\"", name, i)
		case 2:
			line = fmt.Sprintf("%s='single $HOME # not a comment %d'", name, i)
		case 3:
			line = fmt.Sprintf(`%s="say \"hi\" %d\nnext line"`, name, i)
		case 4:
			line = fmt.Sprintf("%s=\"héllo wörld ✓ %d\"", name, i)
		case 5:
			line = fmt.Sprintf("%s=\"a=b c=d  spaces %d \"", name, i)
		case 6:
			line = fmt.Sprintf("%s=postgres://user:pa%%40ss@host:5432/db%d?x=1&y=2", name, i)
			if i == 6 {
				line = name + "="
			}
		case 7:
			line = fmt.Sprintf("%s=\"tab\there %d\" # a comment", name, i)
		case 8:
			line = fmt.Sprintf(`%s='C:\path\to\%d'`, name, i)
		case 9:
			line = fmt.Sprintf("%s=\"-----BEGIN KEY-----\nMIIB%dAbCdEf+/==\nQkFTRTY0\n-----END KEY-----\"", name, i)
		}
		b.WriteString(line + "\n")
	}
	return []byte(b.String())
}

// installDotenvx installs @dotenvx/dotenvx into a temporary directory and
// returns its command, or skips.
func installDotenvx(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: not installing dotenvx from npm")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("npm is not on PATH: the dotenvx interop test needs it (TestDotenvxKnownAnswer still runs)")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--prefix", dir, "@dotenvx/dotenvx@2")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("npm could not install @dotenvx/dotenvx (registry unreachable?): %v\n%s", err, out)
	}
	return filepath.Join(dir, "node_modules", ".bin", "dotenvx")
}

func TestDotenvxAgainstRealDotenvx(t *testing.T) {
	dotenvx := installDotenvx(t)
	dir := t.TempDir()
	envPath := filepath.Join(dir, ".env")
	if err := os.WriteFile(envPath, dotenvxSample(), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) []byte {
		cmd := exec.Command(dotenvx, args...)
		cmd.Dir = dir
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("dotenvx %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return out
	}
	run("encrypt", "-f", ".env")
	wantJSON := run("get", "-f", ".env")
	env, err := os.ReadFile(envPath)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := os.ReadFile(filepath.Join(dir, ".env.keys"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(env, []byte("encrypted:")) {
		t.Fatalf("dotenvx did not encrypt:\n%s", env)
	}
	checkDotenvx(t, env, keys, wantJSON)
	if os.Getenv("CAPY_WRITE_DOTENVX_TESTDATA") != "" {
		writeDotenvxTestdata(t, env, keys, wantJSON)
	}
}

// TestDotenvxKnownAnswer decrypts the committed file dotenvx made and
// compares with what `dotenvx get` printed for it then.
func TestDotenvxKnownAnswer(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "dotenvx", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	checkDotenvx(t, read("env"), read("env.keys"), read("get.json"))
}

// checkDotenvx: Dotenvx gives 100 values that, expanded as capy run
// expands them, are what dotenvx get printed.
func checkDotenvx(t *testing.T, env, keys, getJSON []byte) {
	t.Helper()
	var want map[string]string
	if err := json.Unmarshal(getJSON, &want); err != nil {
		t.Fatalf("dotenvx get: %v", err)
	}
	delete(want, "DOTENV_PUBLIC_KEY")
	got, err := Dotenvx(env, keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 100 || len(want) != 100 {
		t.Fatalf("got %d values, dotenvx %d; want 100", len(got), len(want))
	}
	entries := make([]envfile.Entry, len(got))
	for i, e := range got {
		entries[i] = envfile.Entry{Name: e.Name, Value: e.Value, Literal: e.Literal}
	}
	expanded := envfile.Expand(entries, func(string) (string, bool) { return "", false })
	multi := 0
	for name, w := range want {
		if expanded[name] != w {
			t.Errorf("%s: got %q, dotenvx %q", name, expanded[name], w)
		}
		if strings.Contains(w, "\n") {
			multi++
		}
	}
	if multi < 20 {
		t.Errorf("only %d multi-line values: the sample lost its line breaks", multi)
	}
	if expanded["VAR_02"] != "single $HOME # not a comment 2" {
		t.Errorf("a single-quoted value was expanded: %q", expanded["VAR_02"])
	}
}

// writeDotenvxTestdata stores a real dotenvx run for the known-answer
// test and for the acceptance script (cmd/capy/testdata/script/import_dotenvx.txtar).
func writeDotenvxTestdata(t *testing.T, env, keys, getJSON []byte) {
	t.Helper()
	dir := filepath.Join("testdata", "dotenvx")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"env": env, "env.keys": keys, "get.json": getJSON} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var want map[string]string
	if err := json.Unmarshal(getJSON, &want); err != nil {
		t.Fatal(err)
	}
	delete(want, "DOTENV_PUBLIC_KEY")
	var exported bytes.Buffer
	enc := json.NewEncoder(&exported)
	enc.SetIndent("", "  ")
	if err := enc.Encode(want); err != nil { // as `capy export --format json` prints
		t.Fatal(err)
	}
	script := fmt.Sprintf(dotenvxScript, env, keys, exported.Bytes())
	if err := os.WriteFile(filepath.Join("..", "..", "cmd", "capy", "testdata", "script", "import_dotenvx.txtar"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
}
