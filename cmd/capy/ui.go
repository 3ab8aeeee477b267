package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/capy-oss/capy/internal/workspace"
	"golang.org/x/term"
)

// ui is every word capy says to a person. Prose, prompts and progress go
// to stderr; data goes to stdout (JSON with --json).
type ui struct {
	stdout, stderr io.Writer
	stdin          *os.File
	in             *bufio.Reader
	json           bool
	color          bool
	tty            bool // stderr is a terminal: progress lines are allowed
	// deferred are the homes whose audit_head.json writes may still be
	// running (workspace.Home.DeferAuditHead); run waits for them before
	// capy exits, so that a failed write is still reported.
	deferred []*workspace.Home
	// budget is the command's time budget (CAPY_TIMEOUT); a prompt pauses
	// it, since the bound is on capy and the service, not on the person.
	budget *budget
	// spinMu guards quiet: while a use-case asks the person something
	// from inside a wait (a sync's confirmation), the spinner draws
	// nothing over the question.
	spinMu sync.Mutex
	quiet  int
}

// hush stops the spinner's drawing (and clears its line) until the
// returned function is called: for what a use-case prints or asks while
// a wait is showing.
func (u *ui) hush() (resume func()) {
	u.spinMu.Lock()
	if u.quiet == 0 && u.tty {
		fmt.Fprint(u.stderr, "\r\x1b[K")
	}
	u.quiet++
	u.spinMu.Unlock()
	return func() {
		u.spinMu.Lock()
		u.quiet--
		u.spinMu.Unlock()
	}
}

// flush waits for every deferred write and returns the first error.
func (u *ui) flush() error {
	var first error
	for _, h := range u.deferred {
		if err := h.Flush(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func newUI(jsonOut bool) *ui {
	errTTY := term.IsTerminal(int(os.Stderr.Fd()))
	return &ui{
		stdout: os.Stdout, stderr: os.Stderr, stdin: os.Stdin, in: bufio.NewReader(os.Stdin),
		json:  jsonOut,
		color: errTTY && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb",
		tty:   errTTY,
	}
}

func (u *ui) paint(code, s string) string {
	if !u.color {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// say prints a line of prose.
func (u *ui) say(format string, a ...any) { fmt.Fprintf(u.stderr, format+"\n", a...) }

// done prints a success line.
func (u *ui) done(format string, a ...any) {
	fmt.Fprintf(u.stderr, "%s %s\n", u.paint("32", "✓"), fmt.Sprintf(format, a...))
}

// warn prints "capy: warning: …".
func (u *ui) warn(format string, a ...any) {
	fmt.Fprintf(u.stderr, "%s %s\n", u.paint("33", "capy: warning:"), fmt.Sprintf(format, a...))
}

// fail prints "capy: error: …" and "capy: hint: …". The message may
// carry text from the service (a problem's title and detail), so control
// and bidi characters are shown escaped, never sent to the terminal.
func (u *ui) fail(msg, hint string) {
	fmt.Fprintf(u.stderr, "%s %s\n", u.paint("31", "capy: error:"), inert(msg))
	if hint != "" {
		fmt.Fprintf(u.stderr, "%s %s\n", u.paint("36", "capy: hint:"), inert(hint))
	}
}

// inert escapes control characters (line breaks too: an error is one
// line, and service text must not add a fake "capy: hint:") and the bidi
// and zero-width format characters that could rewrite or hide what a
// terminal shows. List commands pass every field the service chose
// through it too (names, e-mails, labels, audit text): a malicious
// service must not forge lines or escapes there either.
func inert(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\t':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x061c || (r >= 0x200b && r <= 0x200f) ||
			(r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0xfeff:
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// data writes v as JSON (with --json) or the text form to stdout.
func (u *ui) data(v any, text func(w io.Writer)) error {
	if u.json {
		enc := json.NewEncoder(u.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	if text != nil {
		text(u.stdout)
	}
	return nil
}

func (u *ui) stdinIsTTY() bool { return term.IsTerminal(int(u.stdin.Fd())) }

// line reads one line: from a prompt on a terminal, else from stdin.
func (u *ui) line(prompt string) (string, error) {
	defer u.budget.pause()()
	if u.stdinIsTTY() {
		fmt.Fprint(u.stderr, prompt)
	}
	s, err := u.in.ReadString('\n')
	if err != nil && (err != io.EOF || s == "") {
		return "", fmt.Errorf("read %s: no input", strings.TrimSuffix(strings.TrimSpace(prompt), ":"))
	}
	return strings.TrimRight(s, "\r\n"), nil
}

// secret reads a line without echo on a terminal, else from stdin.
func (u *ui) secret(prompt string) (string, error) {
	if !u.stdinIsTTY() {
		return u.line(prompt)
	}
	defer u.budget.pause()()
	fmt.Fprint(u.stderr, prompt)
	b, err := term.ReadPassword(int(u.stdin.Fd()))
	fmt.Fprintln(u.stderr)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", strings.TrimSpace(prompt), err)
	}
	return string(b), nil
}

// confirm asks a yes/no question; without a terminal the answer is no.
func (u *ui) confirm(question string) bool {
	if !u.stdinIsTTY() {
		return false
	}
	s, err := u.line(question + " [y/N] ")
	return err == nil && (strings.EqualFold(s, "y") || strings.EqualFold(s, "yes"))
}

// wait shows a spinner on a terminal while fn runs longer than a moment.
func (u *ui) wait(label string, fn func() error) error {
	if !u.tty {
		return fn()
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		frames := []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}
		select {
		case <-stop:
			return
		case <-time.After(300 * time.Millisecond):
		}
		t := time.NewTicker(80 * time.Millisecond)
		defer t.Stop()
		for i := 0; ; i++ {
			u.spinMu.Lock()
			if u.quiet == 0 {
				fmt.Fprintf(u.stderr, "\r%s %s", frames[i%len(frames)], label)
			}
			u.spinMu.Unlock()
			select {
			case <-stop:
				u.spinMu.Lock()
				if u.quiet == 0 {
					fmt.Fprint(u.stderr, "\r\x1b[K")
				}
				u.spinMu.Unlock()
				return
			case <-t.C:
			}
		}
	}()
	err := fn()
	close(stop)
	wg.Wait()
	return err
}

// showPhrase prints the seed phrase once, numbered, to stderr.
func (u *ui) showPhrase(phrase string) {
	words := strings.Fields(phrase)
	u.say("")
	u.say("%s", u.paint("1", "Your organisation's recovery phrase (shown once):"))
	u.say("")
	for i := 0; i < len(words); i += 4 {
		var row []string
		for j := i; j < i+4 && j < len(words); j++ {
			row = append(row, fmt.Sprintf("%2d. %-10s", j+1, words[j]))
		}
		u.say("   %s", strings.Join(row, " "))
	}
	u.say("")
	u.say("Write it down and keep it offline. Anyone with it can read every secret of the")
	u.say("organisation without the service; capy cannot show it again or recover it for you.")
	u.say("")
}
