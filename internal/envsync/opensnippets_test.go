package envsync

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A file with enough snippets to be opened on several cores reads as the
// one-by-one loop reads it (every value, in order, plaintext and literal
// flags kept), and a damaged file reports its first bad line, whichever
// core met it.
func TestOpenSnippetsParallel(t *testing.T) {
	kr := benchKeys(t)
	ek := kr.PK.EnvKey(prj, env, 1)
	c := ek.Cipher(env, 1)
	n := 3 * parallelSnippets
	lines := make([]string, n)
	for i := range n {
		name := fmt.Sprintf("APP_VAR_%05d", i)
		if i%97 == 0 {
			lines[i] = fmt.Sprintf("%s=plain-%d", name, i)
			continue
		}
		s, err := c.Seal(name, fmt.Sprintf("value-%d", i), i%2 == 0)
		if err != nil {
			t.Fatal(err)
		}
		lines[i] = name + "=" + s
	}
	path := filepath.Join(t.TempDir(), ".env")
	write := func() {
		if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write()
	lf, err := ReadLocal(plainFile(path), ek.Cipher(env, 1))
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		name := fmt.Sprintf("APP_VAR_%05d", i)
		v, ok := lf.Side.Values[name]
		want := fmt.Sprintf("value-%d", i)
		if i%97 == 0 {
			want = fmt.Sprintf("plain-%d", i)
		}
		if !ok || v.Text != want || (i%97 != 0 && v.Literal != (i%2 == 0)) {
			t.Fatalf("%s = %+v, want %q", name, v, want)
		}
	}
	if len(lf.Plaintext) != (n+96)/97 {
		t.Fatalf("%d plaintext names", len(lf.Plaintext))
	}

	// Two snippets moved to other names, the later one in the first run
	// of snippets, the earlier one in the last run: the error is the
	// earlier line's.
	late, early := 100, n-200
	swap := func(i, j int) {
		_, vi, _ := strings.Cut(lines[i], "=")
		_, vj, _ := strings.Cut(lines[j], "=")
		lines[i] = fmt.Sprintf("APP_VAR_%05d=%s", i, vj)
		lines[j] = fmt.Sprintf("APP_VAR_%05d=%s", j, vi)
	}
	swap(late, late+1)
	swap(early, early+1)
	write()
	_, err = ReadLocal(plainFile(path), ek.Cipher(env, 1))
	if err == nil {
		t.Fatal("swapped snippets read without an error")
	}
	if want := fmt.Sprintf("line %d: APP_VAR_%05d:", late+1, late); !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not name the first bad line (%s)", err, want)
	}
}

// A version with enough snippets to be opened on several cores (OpenBlob)
// gives a second machine every value the first pushed.
func TestPullManySnippets(t *testing.T) {
	r := &memRemote{}
	kr := memberKeys(t)
	n := 3 * parallelSnippets
	var src strings.Builder
	for i := range n {
		fmt.Fprintf(&src, "APP_VAR_%05d=value-%d\n", i, i)
	}
	a := newMachine(t, r, kr, src.String())
	a.mustSync()
	b := newMachine(t, r, kr, "")
	if _, err := b.sync(PreferNone); err != nil {
		t.Fatal(err)
	}
	v := b.values()
	if len(v) != n {
		t.Fatalf("%d values pulled, want %d", len(v), n)
	}
	for i := range n {
		if got := v[fmt.Sprintf("APP_VAR_%05d", i)]; got != fmt.Sprintf("value-%d", i) {
			t.Fatalf("APP_VAR_%05d = %q", i, got)
		}
	}
}
