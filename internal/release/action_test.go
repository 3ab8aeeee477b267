package release

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/checkout"
	"github.com/capy-oss/capy/internal/e2e/e2etest"
	"go.yaml.in/yaml/v3"
)

// actionFile is the part of action.yml a runner reads.
type actionFile struct {
	Name        string            `yaml:"name"`
	Description string            `yaml:"description"`
	Author      string            `yaml:"author"`
	Branding    map[string]string `yaml:"branding"`
	Inputs      map[string]struct {
		Description string `yaml:"description"`
		Required    bool   `yaml:"required"`
		Default     string `yaml:"default"`
	} `yaml:"inputs"`
	Outputs map[string]struct {
		Description string `yaml:"description"`
		Value       string `yaml:"value"`
	} `yaml:"outputs"`
	Runs struct {
		Using string       `yaml:"using"`
		Steps []actionStep `yaml:"steps"`
	} `yaml:"runs"`
}

type actionStep struct {
	ID               string            `yaml:"id"`
	Name             string            `yaml:"name"`
	Shell            string            `yaml:"shell"`
	Run              string            `yaml:"run"`
	Env              map[string]string `yaml:"env"`
	WorkingDirectory string            `yaml:"working-directory"`
	If               string            `yaml:"if"`
}

func loadAction(t *testing.T) (*actionFile, string) {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var a actionFile
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&a); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	return &a, root
}

var expr = regexp.MustCompile(`\$\{\{\s*([^}]*?)\s*\}\}`)

// TestActionShape: the inputs the docs name, a composite action, bash
// steps, and no expression inside a script: inputs reach the shell through
// env only (an expression pasted into `run` is a command injection), and
// the deploy code reaches only the step that runs capy ci.
func TestActionShape(t *testing.T) {
	a, _ := loadAction(t)
	var inputs []string
	for name := range a.Inputs {
		inputs = append(inputs, name)
	}
	slices.Sort(inputs)
	if want := []string{"deploy-code", "env", "release-url", "version", "working-directory"}; !slices.Equal(inputs, want) {
		t.Errorf("inputs %v, want %v", inputs, want)
	}
	if a.Runs.Using != "composite" {
		t.Errorf("runs.using %q", a.Runs.Using)
	}
	codeSteps := 0
	for _, s := range a.Runs.Steps {
		if s.Shell != "bash" {
			t.Errorf("step %s: shell %q, want bash", s.ID, s.Shell)
		}
		if expr.MatchString(s.Run) {
			t.Errorf("step %s: an expression in its script; pass it through env", s.ID)
		}
		for k, v := range s.Env {
			if strings.Contains(v, "inputs.deploy-code") {
				codeSteps++
				if k != "CAPY_DEPLOY_CODE" {
					t.Errorf("step %s: the deploy code in %s", s.ID, k)
				}
				if !strings.Contains(s.Run, `::add-mask::$CAPY_DEPLOY_CODE`) {
					t.Errorf("step %s: the deploy code is not masked", s.ID)
				}
			}
		}
		if strings.Contains(s.Run, "GITHUB_ENV") {
			t.Errorf("step %s writes GITHUB_ENV: nothing of the action should outlive it but PATH", s.ID)
		}
	}
	if codeSteps != 1 {
		t.Errorf("the deploy code reaches %d steps, want 1", codeSteps)
	}
}

// runner runs action.yml's steps as a GitHub runner would: the step's
// env with its expressions evaluated, bash --noprofile --norc -eo pipefail,
// the working directory under GITHUB_WORKSPACE, and the runner's files
// (GITHUB_PATH, GITHUB_ENV, GITHUB_OUTPUT) read back between steps.
type runner struct {
	t         *testing.T
	action    *actionFile
	actionDir string
	workspace string
	temp      string
	path      string // GITHUB_PATH
	env       []string
}

func newRunner(t *testing.T, a *actionFile, actionDir string) *runner {
	dir := t.TempDir()
	r := &runner{t: t, action: a, actionDir: actionDir, workspace: filepath.Join(dir, "work"), temp: filepath.Join(dir, "temp"), path: filepath.Join(dir, "path.txt")}
	for _, d := range []string{r.workspace, r.temp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(r.path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	runnerOS := map[string]string{"linux": "Linux", "darwin": "macOS", "windows": "Windows"}[runtime.GOOS]
	runnerArch := map[string]string{"amd64": "X64", "arm64": "ARM64"}[runtime.GOARCH]
	r.env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + filepath.Join(dir, "home"), "CI=true", "GITHUB_ACTIONS=true",
		"RUNNER_OS=" + runnerOS, "RUNNER_ARCH=" + runnerArch, "RUNNER_TEMP=" + r.temp,
		"GITHUB_WORKSPACE=" + r.workspace, "GITHUB_PATH=" + r.path, "GITHUB_ENV=" + filepath.Join(dir, "env.txt"),
		"GITHUB_ACTION_PATH=" + actionDir, "GITHUB_ACTION_REPOSITORY=capy-oss/capy",
	}
	return r
}

// run runs the action with inputs and returns the log (stdout and stderr
// of every step) and whether every step succeeded.
func (r *runner) run(inputs map[string]string) (string, bool) {
	t := r.t
	in := map[string]string{}
	for name, def := range r.action.Inputs {
		in[name] = def.Default
	}
	for k, v := range inputs {
		if _, ok := r.action.Inputs[k]; !ok {
			t.Fatalf("no input %s", k)
		}
		in[k] = v
	}
	outputs := map[string]map[string]string{}
	eval := func(s string) string {
		return expr.ReplaceAllStringFunc(s, func(m string) string {
			e := strings.TrimSpace(expr.FindStringSubmatch(m)[1])
			if name, ok := strings.CutPrefix(e, "inputs."); ok {
				return in[name]
			}
			if rest, ok := strings.CutPrefix(e, "steps."); ok {
				id, out, _ := strings.Cut(rest, ".outputs.")
				return outputs[id][out]
			}
			t.Fatalf("the test runner does not know the expression %q", e)
			return ""
		})
	}
	var log strings.Builder
	for _, s := range r.action.Runs.Steps {
		if s.If != "" {
			t.Fatalf("step %s: the test runner does not evaluate if:", s.ID)
		}
		script := filepath.Join(r.temp, "step-"+s.ID+".sh")
		if err := os.WriteFile(script, []byte(s.Run), 0o644); err != nil {
			t.Fatal(err)
		}
		outFile := filepath.Join(r.temp, "output-"+s.ID)
		if err := os.WriteFile(outFile, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", script)
		cmd.Dir = filepath.Join(r.workspace, eval(s.WorkingDirectory))
		cmd.Env = append(slices.Clone(r.env), "GITHUB_OUTPUT="+outFile, "PATH="+r.stepPath())
		for k, v := range s.Env {
			cmd.Env = append(cmd.Env, k+"="+eval(v))
		}
		fmt.Fprintf(&log, "##[group]%s\n", s.Name)
		cmd.Stdout, cmd.Stderr = &log, &log
		err := cmd.Run()
		outputs[s.ID] = readOutputs(t, outFile)
		if err != nil {
			fmt.Fprintf(&log, "##[error]step %s: %v\n", s.ID, err)
			return log.String(), false
		}
	}
	return log.String(), true
}

// stepPath is PATH with GITHUB_PATH's directories first, newest first.
func (r *runner) stepPath() string {
	dirs := r.addedPath()
	slices.Reverse(dirs)
	return strings.Join(append(dirs, os.Getenv("PATH")), string(os.PathListSeparator))
}

func (r *runner) addedPath() []string {
	data, err := os.ReadFile(r.path)
	if err != nil {
		r.t.Fatal(err)
	}
	var dirs []string
	for _, l := range strings.Split(string(data), "\n") {
		if l != "" {
			dirs = append(dirs, l)
		}
	}
	return dirs
}

func readOutputs(t *testing.T, path string) map[string]string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			t.Fatalf("GITHUB_OUTPUT line %q: the test runner reads name=value lines only", sc.Text())
		}
		out[k] = v
	}
	return out
}

// TestActionAgainstLocalRelease: the action installs capy from a release
// served on loopback (checksum checked by scripts/install.sh), puts it on
// GITHUB_PATH, and with a deploy code runs `capy ci` against a real capyd:
// the environment's file and key file are written, and the code never
// appears in the log but in the mask command. A wrong env input, a wrong
// version and a changed archive fail the job.
func TestActionAgainstLocalRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a release")
	}
	if Host().OS != "linux" && Host().OS != "darwin" {
		t.Skip("the action runs on Linux and macOS runners")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash on this machine")
	}
	rel, err := hostRelease()
	if err != nil {
		t.Fatal(err)
	}
	a, root := loadAction(t)
	base := serveRelease(t, rel, nil)
	r := newRunner(t, a, root)

	// Install only (no deploy code): capy on GITHUB_PATH, `capy ci` not run.
	log, ok := r.run(map[string]string{"version": testStamp.Version, "release-url": base})
	if !ok {
		t.Fatalf("the action failed:\n%s", log)
	}
	bin := filepath.Join(r.temp, "capy", "bin")
	if got := r.addedPath(); !slices.Equal(got, []string{bin}) {
		t.Fatalf("GITHUB_PATH holds %q, want %q", got, bin)
	}
	if !strings.Contains(log, "install: checksum ok: "+ArchiveName(testStamp, Host())) || !strings.Contains(log, "capy ci was not run") {
		t.Errorf("log:\n%s", log)
	}
	// A later step finds capy on PATH.
	later := exec.Command("bash", "-c", "capy version")
	later.Env = append(slices.Clone(r.env), "PATH="+r.stepPath())
	if out, err := later.CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "capy "+testStamp.Version+" ") {
		t.Fatalf("a later step's capy version: %v %s", err, out)
	}

	// A project with a deploy code, made with the installed capy against
	// a real capyd (in process, on loopback).
	svc := e2etest.StartService(t, e2etest.ServiceOptions{})
	capy := filepath.Join(bin, "capy")
	alice := filepath.Join(t.TempDir(), "alice")
	repo := filepath.Join(r.workspace, "app")
	for _, d := range []string{alice, repo} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	aliceEnv := append(os.Environ(), "CAPY_HOME="+alice, "CAPY_SERVICE="+svc.URL, "NO_COLOR=1")
	login := exec.Command(capy, "login", "alice@example.com")
	login.Env = aliceEnv
	stdin, _ := login.StdinPipe()
	var loginOut strings.Builder
	login.Stdout, login.Stderr = &loginOut, &loginOut
	if err := login.Start(); err != nil {
		t.Fatal(err)
	}
	code, err := e2etest.WaitCode(svc.MailLog, "alice@example.com", 0, 30*time.Second)
	if err != nil {
		login.Process.Kill()
		t.Fatalf("no login code: %v\n%s", err, loginOut.String())
	}
	fmt.Fprintln(stdin, code)
	stdin.Close()
	if err := login.Wait(); err != nil {
		t.Fatalf("capy login: %v\n%s", err, loginOut.String())
	}
	if err := os.WriteFile(filepath.Join(repo, ".env"), []byte("DATABASE_URL=postgres://db/app\nAPI_KEY=sk-action-test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	capyIn := func(args ...string) string {
		cmd := exec.Command(capy, args...)
		cmd.Dir, cmd.Env = repo, aliceEnv
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("capy %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	capyIn("init", "--yes", "--new-org", "Acme", "--project", "app")
	deployCode := strings.TrimSpace(capyIn("deploy", "--env", "development", "--name", "gha"))
	if !strings.HasPrefix(deployCode, "capy-deploy-") {
		t.Fatalf("capy deploy printed %q", deployCode)
	}
	// The runner's checkout: project.json only, as a fresh clone has it.
	for _, f := range []string{".env", filepath.Join(".capy", "state.json")} {
		if err := os.Remove(filepath.Join(repo, f)); err != nil {
			t.Fatal(err)
		}
	}

	// The wrong environment fails the job and writes nothing.
	log, ok = r.run(map[string]string{"version": testStamp.Version, "release-url": base, "deploy-code": deployCode, "env": "production", "working-directory": "app"})
	if ok || !strings.Contains(log, "is for environment development") {
		t.Fatalf("a code for development with env production: ok=%v\n%s", ok, log)
	}
	if _, err := os.Stat(filepath.Join(repo, ".env")); !os.IsNotExist(err) {
		t.Fatalf("a refused capy ci wrote .env: %v", err)
	}

	log, ok = r.run(map[string]string{"version": testStamp.Version, "release-url": base, "deploy-code": deployCode, "env": "development", "working-directory": "app"})
	if !ok {
		t.Fatalf("the action failed:\n%s", log)
	}
	if !strings.Contains(log, "development v1 written to .env") {
		t.Errorf("capy ci did not say it wrote the file:\n%s", log)
	}
	if n := strings.Count(log, deployCode); n != 1 || !strings.Contains(log, "::add-mask::"+deployCode) {
		t.Errorf("the deploy code appears %d times in the log, not only in ::add-mask::", n)
	}
	// A later step reads the values with the key file capy ci wrote.
	later = exec.Command("bash", "-c", "capy get API_KEY")
	later.Dir = repo
	later.Env = append(slices.Clone(r.env), "PATH="+r.stepPath())
	if out, err := later.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "sk-action-test" {
		t.Fatalf("a later step's capy get: %v %q", err, out)
	}
	for _, l := range r.readEnvFile() {
		t.Errorf("GITHUB_ENV has %q: the action exports nothing", l)
	}
}

func (r *runner) readEnvFile() []string {
	data, _ := os.ReadFile(filepath.Join(filepath.Dir(r.path), "env.txt"))
	return strings.Fields(string(data))
}

// TestActionRefuses: a release whose archive does not match SHA256SUMS, a
// version other than the one the release holds, and a missing version
// fail the job before anything lands on PATH.
func TestActionRefuses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a release")
	}
	if Host().OS != "linux" && Host().OS != "darwin" {
		t.Skip("the action runs on Linux and macOS runners")
	}
	rel, err := hostRelease()
	if err != nil {
		t.Fatal(err)
	}
	a, root := loadAction(t)
	archive := ArchiveName(testStamp, Host())
	changed := serveRelease(t, rel, func(name string, data []byte) []byte {
		if name == archive {
			data = append([]byte{}, data...)
			data[len(data)/2] ^= 1
		}
		return data
	})
	good := serveRelease(t, rel, nil)
	for _, c := range []struct {
		name, want string
		inputs     map[string]string
	}{
		{"a changed archive", "checksum mismatch", map[string]string{"version": testStamp.Version, "release-url": changed}},
		{"another version", "not capy v9.9.9", map[string]string{"version": "v9.9.9", "release-url": good}},
		{"no version", "the version input is required", map[string]string{"release-url": good}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRunner(t, a, root)
			log, ok := r.run(c.inputs)
			if ok || !strings.Contains(log, c.want) {
				t.Fatalf("ok=%v, want a failure with %q:\n%s", ok, c.want, log)
			}
			if got := r.addedPath(); len(got) != 0 {
				t.Errorf("GITHUB_PATH holds %q after a failure", got)
			}
		})
	}
}

// TestPreCommitHooks: .pre-commit-hooks.yaml has the hook capy-scan, which
// runs `capy scan` on the files whose names capy scan reads unmanaged
// (checkout.IsEnvFileName) and no others.
func TestPreCommitHooks(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, ".pre-commit-hooks.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var hooks []struct {
		ID            string `yaml:"id"`
		Name          string `yaml:"name"`
		Description   string `yaml:"description"`
		Entry         string `yaml:"entry"`
		Language      string `yaml:"language"`
		Files         string `yaml:"files"`
		Exclude       string `yaml:"exclude"`
		PassFilenames bool   `yaml:"pass_filenames"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&hooks); err != nil {
		t.Fatal(err)
	}
	if len(hooks) != 1 || hooks[0].ID != "capy-scan" || hooks[0].Entry != "capy scan" || hooks[0].Language != "system" || !hooks[0].PassFilenames {
		t.Fatalf("hooks: %+v", hooks)
	}
	files, exclude := regexp.MustCompile(hooks[0].Files), regexp.MustCompile(hooks[0].Exclude)
	for _, name := range []string{".env", ".env.local", "app/.env.production", "config/db.env", ".env.example",
		".envrc", "app/.envrc", "README.md", "env", ".environment", "app/env.go", ".env/x"} {
		got := files.MatchString(name) && !exclude.MatchString(name)
		if want := checkout.IsEnvFileName(name); got != want {
			t.Errorf("%s: the hook's pattern says %v, capy scan %v", name, got, want)
		}
	}
}
