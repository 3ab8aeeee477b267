package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Peer is another tool timed on the same generated files.
type Peer struct {
	Name    string
	Version string
	Missing string      // why it was not measured ("" when it was)
	Cmds    map[int]Cmd // per variable count: the timed command
}

// findTool looks on PATH, then in GOBIN / GOPATH/bin (where `go install`
// puts sops and age).
func findTool(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	var dirs []string
	if out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output(); err == nil {
		f := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(f) > 0 && strings.TrimSpace(f[0]) != "" {
			dirs = append(dirs, strings.TrimSpace(f[0]))
		}
		if len(f) > 1 {
			for _, gp := range filepath.SplitList(strings.TrimSpace(f[1])) {
				dirs = append(dirs, filepath.Join(gp, "bin"))
			}
		}
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

func toolEnv(home string, extra ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "LC_ALL=C", "NO_COLOR=1"}, extra...)
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return s
}

// setupDotenvx encrypts a copy of each plaintext file with `dotenvx
// encrypt` (keys in .env.keys next to it) and prepares `dotenvx run -f
// .env -- true`.
func setupDotenvx(work string, sizes []int) *Peer {
	p := &Peer{Name: "dotenvx", Cmds: map[int]Cmd{}}
	bin := findTool("dotenvx")
	if bin == "" {
		p.Missing = "dotenvx not installed (npm install -g @dotenvx/dotenvx)"
		return p
	}
	if out, err := exec.Command(bin, "--version").Output(); err == nil {
		p.Version = firstLine(out)
	}
	for _, n := range sizes {
		dir := filepath.Join(work, fmt.Sprintf("dotenvx-%d", n))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			p.Missing = err.Error()
			return p
		}
		if err := os.WriteFile(filepath.Join(dir, ".env"), GenEnv(n, "v0"), 0o600); err != nil {
			p.Missing = err.Error()
			return p
		}
		enc := Cmd{Path: bin, Args: []string{"encrypt", "-f", ".env"}, Dir: dir, Env: toolEnv(dir)}
		if _, _, _, err := runOnce(enc); err != nil {
			p.Missing = "dotenvx encrypt failed: " + err.Error()
			return p
		}
		p.Cmds[n] = Cmd{Path: bin, Args: []string{"run", "-f", ".env", "--", "true"}, Dir: dir, Env: toolEnv(dir)}
	}
	return p
}

// setupSops makes an age key, encrypts a copy of each plaintext file with
// `sops --encrypt --input-type dotenv` and prepares `sops exec-env FILE
// true` with SOPS_AGE_KEY_FILE.
func setupSops(work string, sizes []int) *Peer {
	p := &Peer{Name: "sops", Cmds: map[int]Cmd{}}
	bin, keygen := findTool("sops"), findTool("age-keygen")
	switch {
	case bin == "":
		p.Missing = "sops not installed (go install github.com/getsops/sops/v3/cmd/sops@latest)"
		return p
	case keygen == "":
		p.Missing = "age-keygen not installed (go install filippo.io/age/cmd/...@latest)"
		return p
	}
	if out, err := exec.Command(bin, "--disable-version-check", "--version").Output(); err == nil {
		p.Version = firstLine(out)
	}
	dir := filepath.Join(work, "sops")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		p.Missing = err.Error()
		return p
	}
	keyFile := filepath.Join(dir, "age.key")
	if out, err := exec.Command(keygen, "-o", keyFile).CombinedOutput(); err != nil {
		p.Missing = fmt.Sprintf("age-keygen: %v %s", err, out)
		return p
	}
	key, _ := os.ReadFile(keyFile)
	pub := ""
	for _, l := range strings.Split(string(key), "\n") {
		if v, ok := strings.CutPrefix(l, "# public key: "); ok {
			pub = strings.TrimSpace(v)
		}
	}
	if pub == "" {
		p.Missing = "age-keygen wrote no public key"
		return p
	}
	env := toolEnv(dir, "SOPS_AGE_KEY_FILE="+keyFile)
	for _, n := range sizes {
		plain := filepath.Join(dir, fmt.Sprintf("plain-%d.env", n))
		if err := os.WriteFile(plain, GenEnv(n, "v0"), 0o600); err != nil {
			p.Missing = err.Error()
			return p
		}
		_, _, out, err := runOnce(Cmd{Path: bin, Args: []string{"--encrypt", "--age", pub, "--input-type", "dotenv", "--output-type", "dotenv", plain}, Dir: dir, Env: env})
		if err != nil {
			p.Missing = "sops --encrypt failed: " + err.Error()
			return p
		}
		enc := filepath.Join(dir, fmt.Sprintf("enc-%d.env", n))
		if err := os.WriteFile(enc, out, 0o600); err != nil {
			p.Missing = err.Error()
			return p
		}
		p.Cmds[n] = Cmd{Path: bin, Args: []string{"exec-env", enc, "true"}, Dir: dir, Env: env}
	}
	return p
}
