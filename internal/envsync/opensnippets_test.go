package envsync

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/wrap"
)

// A file with enough snippets to be opened on several cores reads as the
// one-by-one loop reads it (every value, in order, plaintext and literal
// flags kept), and a damaged file reports its first bad line, whichever
// core met it.
func TestOpenSnippetsParallel(t *testing.T) {
	parallelCores(t)
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
	first, second := 100, n-200
	swap := func(i, j int) {
		_, vi, _ := strings.Cut(lines[i], "=")
		_, vj, _ := strings.Cut(lines[j], "=")
		lines[i] = fmt.Sprintf("APP_VAR_%05d=%s", i, vj)
		lines[j] = fmt.Sprintf("APP_VAR_%05d=%s", j, vi)
	}
	swap(first, first+1)
	swap(second, second+1)
	write()
	_, err = ReadLocal(plainFile(path), ek.Cipher(env, 1))
	if err == nil {
		t.Fatal("swapped snippets read without an error")
	}
	if want := fmt.Sprintf("line %d: APP_VAR_%05d:", first+1, first); !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not name the first bad line (%s)", err, want)
	}

	// The only bad lines in the last run are found too.
	swap(first, first+1)
	write()
	_, err = ReadLocal(plainFile(path), ek.Cipher(env, 1))
	if want := fmt.Sprintf("line %d: APP_VAR_%05d:", second+1, second); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("a bad line in the last run: %v (want %s)", err, want)
	}
}

// parallelCores runs the test with four Ps, so that the per-core runs are
// taken even on a one-CPU machine.
func parallelCores(t *testing.T) {
	prev := runtime.GOMAXPROCS(4)
	t.Cleanup(func() { runtime.GOMAXPROCS(prev) })
}

// forRuns returns the first failing index in order, whichever run meets
// it, and calls open for every index before it; with n below the
// threshold it runs in order and stops at the first failure.
func TestForRuns(t *testing.T) {
	parallelCores(t)
	ek := benchKeys(t).PK.EnvKey(prj, env, 1)
	c := ek.Cipher(env, 1)
	boom := errors.New("boom")
	for _, tc := range []struct {
		n    int
		fail []int
		want int
	}{
		{0, nil, -1},
		{parallelSnippets - 1, []int{7, 300}, 7},
		{parallelSnippets, nil, -1},
		{4 * parallelSnippets, []int{4*parallelSnippets - 1}, 4*parallelSnippets - 1},
		{4 * parallelSnippets, []int{3 * parallelSnippets, parallelSnippets + 1}, parallelSnippets + 1},
		{4 * parallelSnippets, []int{2, 4*parallelSnippets - 3}, 2},
	} {
		fails := map[int]bool{}
		for _, f := range tc.fail {
			fails[f] = true
		}
		var mu sync.Mutex
		seen := map[int]bool{}
		ciphers := map[*keys.EnvCipher]bool{}
		j, err := forRuns(tc.n, c, func(wc *keys.EnvCipher, j int) error {
			mu.Lock()
			seen[j], ciphers[wc] = true, true
			mu.Unlock()
			if fails[j] {
				return boom
			}
			return nil
		})
		if j != tc.want || (tc.want >= 0) != (err != nil) {
			t.Fatalf("n=%d fail=%v: forRuns = %d, %v; want %d", tc.n, tc.fail, j, err, tc.want)
		}
		limit := tc.n
		if tc.want >= 0 {
			limit = tc.want + 1
		}
		for i := range limit {
			if !seen[i] {
				t.Fatalf("n=%d: index %d before the first failure was not opened", tc.n, i)
			}
		}
		if parallel := tc.n >= parallelSnippets; parallel != (len(ciphers) > 1) {
			t.Fatalf("n=%d: %d cipher copies used", tc.n, len(ciphers))
		}
	}
}

// A version with enough snippets to be opened on several cores (OpenBlob)
// gives a second machine every value the first pushed.
func TestPullManySnippets(t *testing.T) {
	parallelCores(t)
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

// A signed version that repeats a name and also holds a snippet that does
// not open reports what a loop in order meets first: the repeat when it
// comes first, else the snippet.
func TestOpenBlobRepeatAndBadSnippetOrder(t *testing.T) {
	kr := benchKeys(t)
	ek := kr.PK.EnvKey(prj, env, 1)
	c := ek.Cipher(env, 1)
	foreignKey := kr.PK.EnvKey(prj, env, 2) // another epoch's key: its snippets do not open here
	foreign := foreignKey.Cipher(env, 2)
	a1, err := c.Seal("A", "one", false)
	if err != nil {
		t.Fatal(err)
	}
	a2, err := c.Seal("A", "two", false)
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := min(a1, a2), max(a1, a2)
	var before, after string
	for i := 0; before == "" || after == ""; i++ {
		s, err := foreign.Seal(fmt.Sprintf("B%d", i), "x", false)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case s < lo && before == "":
			before = s
		case s > hi && after == "":
			after = s
		}
	}
	open := func(snippets ...string) error {
		b, err := wrap.BuildBlob(kr.PK.SigningKey(env, 1), prj, env, 1, 1, wrap.NoParent, snippets)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = OpenBlob(&RemoteBlob{Version: 1, Text: string(b.Raw())}, kr,
			wrap.PullCheck{ProjectID: prj, EnvID: env, PinnedEpoch: 1})
		return err
	}
	if err := open(a1, a2, after); !errors.Is(err, ErrDuplicateName) {
		t.Fatalf("repeat before a bad snippet: %v", err)
	}
	if err := open(a1, a2, before); err == nil || errors.Is(err, ErrDuplicateName) {
		t.Fatalf("bad snippet before a repeat: %v", err)
	}
}
