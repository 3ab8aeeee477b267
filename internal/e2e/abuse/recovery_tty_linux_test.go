//go:build linux

package abuse

import (
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

var shareWord = regexp.MustCompile(`\b(\d{1,2})\. ([a-z]+)`)

// typeHidden waits until capy has switched the terminal's echo off (the
// prompt is printed just before), then types the line: typed earlier,
// the terminal itself would echo it, whatever capy does.
func (ts *ttySession) typeHidden(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var tio syscall.Termios
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, ts.master.Fd(), syscall.TCGETS, uintptr(unsafe.Pointer(&tio))); e != 0 {
			t.Fatalf("read the terminal's mode: %v", e)
		}
		if tio.Lflag&syscall.ECHO == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the terminal's echo stayed on; it shows:\n%s", ts.text())
		}
		time.Sleep(2 * time.Millisecond)
	}
	ts.typeLine(t, s)
}

// TestRecoveryKitOnATerminal: on a terminal, `capy recovery split` reads
// the phrase and the passphrase hidden, shows one share at a time and
// clears the screen before the next; `capy recover --shares` reads each
// share hidden, asks again for a refused one and says after each what is
// still needed. Nothing typed is echoed.
func TestRecoveryKitOnATerminal(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.alice
	ts := a.capyTTY(t, "recovery", "split", "--threshold", "2", "--shares", "3", "--passphrase")
	ts.waitFor(t, "Recovery phrase (24 words): ")
	ts.typeHidden(t, w.phrase)
	ts.waitFor(t, "Passphrase: ")
	ts.typeHidden(t, "hunter2 on paper")
	ts.waitFor(t, "Passphrase again: ")
	ts.typeHidden(t, "hunter2 on paper")
	var shares []string
	for n := 1; n <= 3; n++ {
		prompt := "Press Enter once share " + string(rune('0'+n)) + " is written down"
		ts.waitFor(t, prompt)
		screen := ts.text()
		start := strings.LastIndex(screen, "\x1b[2J")
		shown := screen[start:strings.LastIndex(screen, prompt)]
		if strings.Count(shown, "Recovery share ") != 1 || !strings.Contains(shown, "Recovery share "+string(rune('0'+n))+" of 3") {
			t.Fatalf("share %d is not shown alone on a cleared screen:\n%q", n, shown)
		}
		var words []string
		for i, m := range shareWord.FindAllStringSubmatch(shown, -1) {
			if m[1] != strconv.Itoa(i+1) {
				t.Fatalf("word %d numbered %s", i+1, m[1])
			}
			words = append(words, m[2])
		}
		if len(words) != 33 {
			t.Fatalf("share %d shows %d words:\n%s", n, len(words), shown)
		}
		shares = append(shares, strings.Join(words, " "))
		ts.typeLine(t, "")
	}
	if st := ts.wait(t); st != 0 {
		t.Fatalf("split: exit %d\n%s", st, ts.text())
	}
	screen := ts.text()
	if !strings.HasSuffix(strings.TrimRight(screen[:strings.Index(screen, "split the recovery phrase")], "✓ \r\n"), "\x1b[2J\x1b[H") {
		t.Fatalf("the last share stays on the screen:\n%q", screen)
	}
	for _, secret := range []string{w.phrase, "hunter2"} {
		if strings.Contains(screen, secret) {
			t.Fatalf("the terminal echoed what was typed (%q)", secret)
		}
	}

	// A fresh machine of alice's recovers from shares 3 and 1.
	b := w.s.person(a.email)
	b.login()
	ts = b.capyTTY(t, "recover", "--shares", "--passphrase", "--org", w.proj.Org)
	ts.waitFor(t, "Passphrase: ")
	ts.typeHidden(t, "hunter2 on paper")
	ts.waitFor(t, "Share 1: ")
	words := strings.Fields(shares[2])
	words[3], words[4] = words[4], words[3]
	ts.typeHidden(t, strings.Join(words, " "))
	ts.waitFor(t, "share 1: checksum does not match")
	ts.waitFor(t, "type it again")
	ts.typeHidden(t, shares[2])
	ts.waitFor(t, "share 1 accepted")
	ts.waitFor(t, "group 1: 1 of 2; 1 more")
	ts.waitFor(t, "Share 2: ")
	ts.typeHidden(t, shares[0])
	if st := ts.wait(t); st != 0 || !strings.Contains(ts.text(), "holds the key of "+w.proj.Org+" again") {
		t.Fatalf("recover: exit %d\n%s", st, ts.text())
	}
	for _, secret := range append(shares, "hunter2") {
		if strings.Contains(ts.text(), secret) {
			t.Fatal("the terminal echoed a share or the passphrase")
		}
	}
	w.clone(b)
	b.ok()
	if r := b.ok("get", "A"); strings.TrimSpace(r.stdout) != "alpha" {
		t.Fatalf("%s", r)
	}
}
