package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/e2e/e2etest"
	"github.com/capy-oss/capy/internal/privfile"
	"github.com/capy-oss/capy/internal/store/pgtest"
	"github.com/capy-oss/capy/load"
	"github.com/rogpeppe/go-internal/testscript"
)

// The CLI is tested as scripts (testdata/script/*.txtar, one per feature)
// running the real capy binary against a real capyd handler on a loopback
// listener, with a separate HOME per person. capy here is this test binary
// re-executed under the name "capy" (testscript.RunMain).

func TestMain(m *testing.M) {
	testscript.Main(pgMain{m}, map[string]func(){
		"capy": func() { os.Exit(capyUnderTest()) },
		// printvals NAME…: the named variables of its environment, one
		// NAME=%q line each (what `capy run -- printvals …` was given).
		"printvals": func() { os.Exit(printVals(os.Args[1:])) },
		// loadvals NAME…: a program using the loader (package load):
		// load.Into(os.Setenv), then printvals.
		"loadvals": func() {
			if err := load.Into(os.Setenv); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			os.Exit(printVals(os.Args[1:]))
		},
	})
}

func printVals(names []string) int {
	for _, n := range names {
		v, ok := os.LookupEnv(n)
		if !ok {
			fmt.Printf("%s unset\n", n)
			continue
		}
		fmt.Printf("%s=%q\n", n, v)
	}
	return 0
}

type pgMain struct{ m *testing.M }

func (p pgMain) Run() int { return pgtest.Run(p.m) }

// capyUnderTest runs the CLI and then enforces the plaintext rule: after
// every command that exits 0, no plaintext value listed in
// $PLAINTEXT_VALUES may appear in any file under $SCAN_DIRS.
func capyUnderTest() int {
	if os.Getenv("KILL_BEFORE_RENAME") != "" {
		// Crash test: die between writing the temp file and the rename.
		privfile.BeforeRename = func(string) { syscall.Kill(os.Getpid(), syscall.SIGKILL) }
	}
	if os.Getenv("KILL_BEFORE_STATE") != "" {
		// Crash test: die after the new .env is in place, before
		// state.json records the sync.
		privfile.BeforeRename = func(path string) {
			if strings.Contains(filepath.Base(path), "state.json") {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
			}
		}
	}
	scan := func() error {
		return scanForPlaintext(os.Getenv("PLAINTEXT_VALUES"), filepath.SplitList(os.Getenv("SCAN_DIRS")))
	}
	if os.Getenv("PLAINTEXT_VALUES") != "" {
		// `capy run` does not return: it becomes its command, so the
		// scan runs just before that, when capy's writes are done.
		beforeExec = func() {
			if err := scan(); err != nil {
				fmt.Fprintln(os.Stderr, "PLAINTEXT LEAK:", err)
				os.Exit(99)
			}
		}
	}
	code := run(os.Args)
	if code != 0 || os.Getenv("PLAINTEXT_VALUES") == "" {
		return code
	}
	if err := scan(); err != nil {
		fmt.Fprintln(os.Stderr, "PLAINTEXT LEAK:", err)
		return 99
	}
	return 0
}

func scanForPlaintext(valuesFile string, dirs []string) error {
	data, err := os.ReadFile(valuesFile)
	if err != nil {
		return err
	}
	var values [][]byte
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			values = append(values, []byte(l))
		}
	}
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if os.IsNotExist(err) {
					return nil
				}
				return err
			}
			if !d.Type().IsRegular() {
				return nil
			}
			content, err := os.ReadFile(path)
			if err != nil {
				return nil // vanished (a temp file renamed away)
			}
			for _, v := range values {
				if bytes.Contains(content, v) {
					return fmt.Errorf("a plaintext value is in %s", path)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// scriptParams runs each script against its own service: svcFor returns
// it (a fresh one per script, or a shared one).
func scriptParams(svcFor func(e *testscript.Env) (*e2etest.Service, error)) testscript.Params {
	return testscript.Params{
		Dir: "testdata/script",
		Setup: func(e *testscript.Env) error {
			svc, err := svcFor(e)
			if err != nil {
				return err
			}
			e.Values["service"] = svc
			e.Setenv("CAPY_SERVICE", svc.URL)
			e.Setenv("SERVICE", svc.URL)
			e.Setenv("MAIL_LOG", svc.MailLog)
			e.Setenv("NO_COLOR", "1")
			// capy here is this test binary, built with -race under make
			// test; the race runtime sleeps a second as each process exits
			// (atexit_sleep_ms) to let other goroutines report, which made
			// the scripts' thousand-odd capy runs wait ten minutes. A race
			// is still reported, and fails the command (exit 66).
			e.Setenv("GORACE", "atexit_sleep_ms=0")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"login":         cmdLoginAs,
			"exitcode":      cmdExitCode,
			"env-from":      cmdEnvFrom,
			"replace-line":  cmdReplaceLine,
			"savekey":       cmdSaveKey,
			"cmpkey":        cmdCmpKey,
			"clock":         cmdClock,
			"phrase-from":   cmdPhraseFrom,
			"match":         cmdMatch,
			"flip-share":    cmdFlipShare,
			"pin":           cmdPin,
			"stop-service":  cmdStopService,
			"start-service": cmdStartService,
		},
		RequireExplicitExec: true,
	}
}

// cmdLoginAs signs a person in with the real `capy login`, feeding it the
// code from the development mailer's log: login HOME EMAIL
func cmdLoginAs(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: login HOME EMAIL")
	}
	home, email := ts.MkAbs(args[0]), args[1]
	before := len(e2etest.MailLines(ts.Getenv("MAIL_LOG")))
	cmd := exec.Command("capy", "login", email)
	cmd.Dir = ts.Getenv("WORK")
	cmd.Env = append(os.Environ(), "CAPY_HOME="+home, "CAPY_SERVICE="+ts.Getenv("CAPY_SERVICE"), "NO_COLOR=1")
	for _, k := range []string{"PATH", "PLAINTEXT_VALUES", "SCAN_DIRS"} {
		cmd.Env = append(cmd.Env, k+"="+ts.Getenv(k))
	}
	stdin, _ := cmd.StdinPipe()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		ts.Fatalf("start capy login: %v", err)
	}
	code, err := e2etest.WaitCode(ts.Getenv("MAIL_LOG"), email, before, 30*time.Second)
	if err != nil {
		cmd.Process.Kill()
		ts.Fatalf("no login code for %s in the mail log\n%s", email, out.String())
	}
	fmt.Fprintln(stdin, code)
	stdin.Close()
	err = cmd.Wait()
	if (err != nil) != neg {
		ts.Fatalf("capy login %s: %v\n%s", email, err, out.String())
	}
}

func TestScriptsSQLite(t *testing.T) {
	testscript.Run(t, scriptParams(func(e *testscript.Env) (*e2etest.Service, error) {
		svc, err := e2etest.NewService(filepath.Join(e.WorkDir, ".capyd"), e2etest.ServiceOptions{})
		if err == nil {
			e.Defer(svc.Close)
		}
		return svc, err
	}))
}

// TestScriptsRateLimited runs testdata/ratelimited/*.txtar against a
// service with its rate limits on, as shipped (docs/api.md §1.8).
func TestScriptsRateLimited(t *testing.T) {
	p := scriptParams(func(e *testscript.Env) (*e2etest.Service, error) {
		svc, err := e2etest.NewService(filepath.Join(e.WorkDir, ".capyd"), e2etest.ServiceOptions{RateLimits: true})
		if err == nil {
			e.Defer(svc.Close)
		}
		return svc, err
	})
	p.Dir = "testdata/ratelimited"
	testscript.Run(t, p)
}

func TestScriptsPostgres(t *testing.T) {
	svc := e2etest.StartService(t, e2etest.ServiceOptions{Database: pgtest.NewDatabase(t)})
	p := scriptParams(func(*testscript.Env) (*e2etest.Service, error) { return svc, nil })
	// The core story runs on PostgreSQL too; the rest once is enough.
	p.Dir = ""
	p.Files = []string{"testdata/script/story.txtar"}
	testscript.Run(t, p)
}

// exitcode N CMD ARGS…: run CMD (capy) and require exit status N.
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N CMD [ARGS…]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: %v", err)
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	if err != nil {
		var ee *exec.ExitError
		if !errorsAs(err, &ee) {
			ts.Fatalf("exitcode: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", strings.Join(args[1:], " "), got, want)
	}
}

// env-from NAME FILE: set NAME to the trimmed content of FILE.
func cmdEnvFrom(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: env-from NAME FILE")
	}
	ts.Setenv(args[0], strings.TrimSpace(ts.ReadFile(args[1])))
}

// replace-line FILE NAME LINE: replace the line that assigns NAME.
func cmdReplaceLine(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: replace-line FILE NAME LINE")
	}
	path := ts.MkAbs(args[0])
	lines := strings.Split(ts.ReadFile(args[0]), "\n")
	found := false
	for i, l := range lines {
		t := strings.TrimPrefix(strings.TrimSpace(l), "export ")
		if strings.HasPrefix(t, args[1]+"=") {
			lines[i], found = args[2], true
		}
	}
	if !found {
		ts.Fatalf("no line for %s in %s", args[1], args[0])
	}
	ts.Check(os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o600))
}

func findKeyEnc(ts *testscript.TestScript, home string) string {
	matches, _ := filepath.Glob(filepath.Join(ts.MkAbs(home), "services", "*", "orgs", "*", "users", "*", "key.enc"))
	if len(matches) != 1 {
		ts.Fatalf("want one key.enc under %s, found %d", home, len(matches))
	}
	return matches[0]
}

// savekey HOME DEST: copy the key.enc under HOME to DEST.
func cmdSaveKey(ts *testscript.TestScript, neg bool, args []string) {
	data, err := os.ReadFile(findKeyEnc(ts, args[0]))
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), data, 0o600))
}

// cmpkey HOME FILE: the key.enc under HOME is byte-identical to FILE.
func cmdCmpKey(ts *testscript.TestScript, neg bool, args []string) {
	a, err := os.ReadFile(findKeyEnc(ts, args[0]))
	ts.Check(err)
	b, err := os.ReadFile(ts.MkAbs(args[1]))
	ts.Check(err)
	if !bytes.Equal(a, b) != neg {
		ts.Fatalf("key.enc under %s changed", args[0])
	}
}

// clock +DURATION: move the service's clock forward.
func cmdClock(ts *testscript.TestScript, neg bool, args []string) {
	svc := ts.Value("service").(*e2etest.Service)
	if len(args) != 1 {
		ts.Fatalf("usage: clock +DURATION")
	}
	d, err := time.ParseDuration(strings.TrimPrefix(args[0], "+"))
	ts.Check(err)
	svc.Clock.Advance(d)
}

// stop-service: stop the script's service; its port refuses connections
// until start-service.
func cmdStopService(ts *testscript.TestScript, neg bool, args []string) {
	ts.Value("service").(*e2etest.Service).Stop()
}

// start-service: start the stopped service again, on the same URL, with
// the same database.
func cmdStartService(ts *testscript.TestScript, neg bool, args []string) {
	ts.Check(ts.Value("service").(*e2etest.Service).Start())
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }

// phrase-from INIT_STDERR OUT: write the recovery phrase shown by init.
func cmdPhraseFrom(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: phrase-from INIT_STDERR OUT")
	}
	var words []string
	for _, m := range regexp.MustCompile(`\d+\. ([a-z]+)`).FindAllStringSubmatch(ts.ReadFile(args[0]), -1) {
		words = append(words, m[1])
	}
	if len(words) != 24 {
		ts.Fatalf("found %d phrase words", len(words))
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(strings.Join(words, " ")+"\n"), 0o600))
}

// match FILE REGEXP VAR: set VAR to the first submatch of REGEXP in FILE.
func cmdMatch(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: match FILE REGEXP VAR")
	}
	m := regexp.MustCompile(args[1]).FindStringSubmatch(ts.ReadFile(args[0]))
	if len(m) < 2 {
		ts.Fatalf("no match for %s in %s", args[1], args[0])
	}
	ts.Setenv(args[2], m[1])
}

// flip-share IN OUT: copy the share file IN to OUT with two neighbouring
// words of its share line swapped (an error RS1024 always detects).
func cmdFlipShare(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: flip-share IN OUT")
	}
	lines := strings.Split(ts.ReadFile(args[0]), "\n")
	done := false
	for i, l := range lines {
		w := strings.Fields(l)
		if len(w) < 20 || strings.HasPrefix(l, "#") {
			continue
		}
		k := 6
		for w[k] == w[k+1] {
			k++
		}
		w[k], w[k+1] = w[k+1], w[k]
		lines[i], done = strings.Join(w, " "), true
	}
	if !done {
		ts.Fatalf("no share line in %s", args[0])
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(strings.Join(lines, "\n")), 0o600))
}
