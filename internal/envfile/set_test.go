package envfile

import (
	"bytes"
	"errors"
	"maps"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/capy-oss/capy/internal/ident"
)

const snip = "capy:abcde:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8-_w"

func mustParse(t testing.TB, s string) *Document {
	t.Helper()
	d, err := Parse([]byte(s))
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return d
}

// Set changes exactly the bytes it must: compared byte for byte.
func TestSetMinimalDiff(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		key     string
		value   string
		literal bool
		want    string
	}{
		{"unquoted keeps comment", "A=1\nB=old # note\nC=3\n", "B", snip, false, "A=1\nB=" + snip + " # note\nC=3\n"},
		{"export, double quotes, CRLF", "# x\r\nexport B=\"old\"  # note\r\nC=3\r\n", "B", snip, false, "# x\r\nexport B=\"" + snip + "\"  # note\r\nC=3\r\n"},
		{"single quotes kept for a snippet", "B='old'\n", "B", snip, false, "B='" + snip + "'\n"},
		{"spaces around =", "  B = old  \n", "B", "new", false, "  B = new  \n"},
		{"yaml style, no final newline", "A=1\nB: old", "B", "new", false, "A=1\nB: new"},
		{"empty value", "B=\nC=1\n", "B", "new", false, "B=new\nC=1\n"},
		{"empty value with spaces", "B=   \n", "B", "new", false, "B=   new\n"},
		{"tab before comment", "B=old\t# c\n", "B", "new", false, "B=new\t# c\n"},
		{"comment right after quote", "B=\"old\"#c\n", "B", "new", false, "B=\"new\"#c\n"},
		{"needs quotes: space hash", "B=old\n", "B", "a #b", false, "B=\"a #b\"\n"},
		{"needs quotes: leading space", "B=old\n", "B", " lead", false, "B=\" lead\"\n"},
		{"needs quotes: line break", "B=old\n", "B", "l1\nl2", false, "B=\"l1\\nl2\"\n"},
		{"multi-line stays multi-line", "B=\"x\ny\"\nC=1\n", "B", "p\nq\"r", false, "B=\"p\nq\\\"r\"\nC=1\n"},
		{"multi-line CRLF", "B=\"x\r\ny\"\r\n", "B", "p\nq", false, "B=\"p\r\nq\"\r\n"},
		{"reference stays a reference", "B=old\n", "B", "${HOME}/x", false, "B=${HOME}/x\n"},
		{"literal reference is single-quoted", "B=old\n", "B", "${HOME}/x", true, "B='${HOME}/x'\n"},
		{"literal with a quote: dollars escaped", "B=old\n", "B", "it's $HOME", true, "B=it's \\$HOME\n"},
		{"literal inert: style kept", "B=old\n", "B", "plain", true, "B=plain\n"},
		{"double-quoted literal reference", "B=\"old\"\n", "B", "$X", true, "B='$X'\n"},
		{"ends with a quote", "B=old\n", "B", `ends"`, false, "B=ends\"\n"},
		{"leading space, ends with quote", "B=old\n", "B", ` ends"`, false, "B=' ends\"'\n"},
		{"ends with backslash", "B=old\n", "B", `x\`, false, "B=x\\\n"},
		{"space and final backslash", "B=old\n", "B", ` x\`, false, "B=\" x\\\"\"\n"},
		{"starts with a quote", "B=old\n", "B", `"q`, false, "B=\"\\\"q\"\n"},
		{"hash first", "B=old\n", "B", "#x", false, "B=#x\n"},
		{"empty before a comment needs quotes", "B=old # c\n", "B", "", false, "B=\"\" # c\n"},
		{"was a comment-looking value", "B= # c\n", "B", snip, false, "B= " + snip + "\n"},
		{"comment with space-hash inside, from quotes", "B=\"old\" # a #b\n", "B", "x y", false, "B=\"x y\" # a #b\n"},
		{"single to unquoted when single cannot", "B='old'\n", "B", "it's", false, "B=it's\n"},
		{"unquoted needs a sentinel comment", "B=old\n", "B", `$A #"`, false, "B=$A #\" #\n"},
		{"unquoted value before existing comment", "B=old # c\n", "B", "$A #x\"", false, "B=$A #x\" # c\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustParse(t, tt.in)
			before := d.Entries()
			if err := d.Set(tt.key, tt.value, tt.literal); err != nil {
				t.Fatalf("Set: %v", err)
			}
			got := string(d.Bytes())
			if got != tt.want {
				t.Fatalf("got  %q\nwant %q", got, tt.want)
			}
			checkSetResult(t, before, []byte(got), tt.key, tt.value, tt.literal)
		})
	}
}

// checkSetResult checks that out (the document after Set) parses, gives key
// the meaning (value, literal), leaves the other entries alone, and that
// godotenv agrees.
func checkSetResult(t *testing.T, before []Entry, out []byte, key, value string, literal bool) {
	t.Helper()
	d, err := Parse(out)
	if err != nil {
		t.Fatalf("result does not parse: %v\n%q", err, out)
	}
	e, ok := d.Get(key)
	if !ok {
		t.Fatalf("%s missing after Set", key)
	}
	switch {
	case e.Value == value && (e.Literal == literal || inert(value)):
	case literal && !inert(value) && e.Value == escapeDollar(value) && !e.Literal:
	default:
		t.Fatalf("read back %q literal=%v, want %q literal=%v\n%q", e.Value, e.Literal, value, literal, out)
	}
	// The meaning of the whole file is the old one with key replaced.
	want := make([]Entry, 0, len(before)+1)
	found := false
	for _, b := range before {
		if b.Name == key {
			b.Value, b.Literal, found = value, literal, true
		}
		want = append(want, b)
	}
	if !found {
		want = append(want, Entry{Name: key, Value: value, Literal: literal})
	}
	got := d.Entries()
	if len(got) != len(want) {
		t.Fatalf("%d entries after Set, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].Name != want[i].Name {
			t.Fatalf("entry %d is %s, want %s", i, got[i].Name, want[i].Name)
		}
		if got[i].Name != key && (got[i].Value != want[i].Value || got[i].Literal != want[i].Literal) {
			t.Fatalf("Set changed %s", got[i].Name)
		}
	}
	if g, w := Expand(got, nil), Expand(want, nil); !maps.Equal(g, w) {
		t.Fatalf("meaning changed:\n got  %q\n want %q", g, w)
	}
	if diff := diffGodotenv(out); diff != "" {
		t.Fatalf("godotenv disagrees on the result: %s\n%q", diff, out)
	}
}

func TestSetNew(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "N=" + snip + "\n"},
		{"A=1\n", "A=1\nN=" + snip + "\n"},
		{"A=1", "A=1\nN=" + snip + "\n"},
		{"A=1\r\n", "A=1\r\nN=" + snip + "\r\n"},
		{"A=\"1\"\r\nB=2", "A=\"1\"\r\nB=2\r\nN=" + snip + "\r\n"},
		{"# only a comment", "# only a comment\nN=" + snip + "\n"},
		{"A=1\n\n# trailing\n", "A=1\n\n# trailing\nN=" + snip + "\n"},
		{"A=", "A=\nN=" + snip + "\n"},
	}
	for _, tt := range tests {
		d := mustParse(t, tt.in)
		if err := d.Set("N", snip, false); err != nil {
			t.Fatal(err)
		}
		if got := string(d.Bytes()); got != tt.want {
			t.Errorf("%q: got %q, want %q", tt.in, got, tt.want)
		}
		if e, _ := d.Get("N"); e.Line != strings.Count(tt.want, "\n") {
			t.Errorf("%q: new entry on line %d", tt.in, e.Line)
		}
	}
}

func TestZeroDocument(t *testing.T) {
	var d Document
	if len(d.Bytes()) != 0 || len(d.Entries()) != 0 || d.Delete("A") {
		t.Fatal("zero Document is not empty")
	}
	if err := d.Set("A", "1", false); err != nil {
		t.Fatal(err)
	}
	if err := d.Set("B", "two words", false); err != nil {
		t.Fatal(err)
	}
	if got := string(d.Bytes()); got != "A=1\nB=two words\n" {
		t.Errorf("got %q", got)
	}
}

func TestSetErrors(t *testing.T) {
	d := mustParse(t, "A=1\n")
	for _, name := range []string{"", "1A", "A-B", "A B", "é", strings.Repeat("A", 257)} {
		if err := d.Set(name, "x", false); !errors.Is(err, ident.ErrBadName) {
			t.Errorf("Set(%q) error = %v, want ErrBadName", name, err)
		}
	}
	if err := d.Set(strings.Repeat("A", 256), "x", false); err != nil {
		t.Errorf("256-byte name: %v", err)
	}
	for _, v := range []string{" it's\"", "\xff", "a\xc3"} {
		for _, lit := range []bool{false, true} {
			if err := d.Set("A", v, lit); !errors.Is(err, ErrUnrepresentable) {
				t.Errorf("Set(%q, %v) error = %v, want ErrUnrepresentable", v, lit, err)
			}
		}
	}
	// A failed Set leaves the document alone.
	if got := string(d.Bytes()); !strings.HasPrefix(got, "A=1\n") {
		t.Errorf("document changed by failed Set: %q", got)
	}
}

func TestDelete(t *testing.T) {
	tests := []struct{ in, key, want string }{
		{"A=1\nB=2\nC=3\n", "B", "A=1\nC=3\n"},
		{"A=1\n# about B\nB=\"x\ny\" # c\n\nC=3\n", "B", "A=1\n# about B\n\nC=3\n"},
		{"A=1\nB=2", "B", "A=1\n"},
		{"B=2", "B", ""},
		{"A=1\r\n  export B='x'\r\nC=3", "B", "A=1\r\nC=3"},
	}
	for _, tt := range tests {
		d := mustParse(t, tt.in)
		if !d.Delete(tt.key) {
			t.Fatalf("%q: Delete(%s) = false", tt.in, tt.key)
		}
		if d.Delete(tt.key) {
			t.Errorf("%q: second Delete = true", tt.in)
		}
		if _, ok := d.Get(tt.key); ok {
			t.Errorf("%q: Get after Delete", tt.in)
		}
		if got := string(d.Bytes()); got != tt.want {
			t.Errorf("%q: got %q, want %q", tt.in, got, tt.want)
		}
		for _, e := range d.Entries() {
			if want := mustParse(t, string(d.Bytes())); !entriesEqual(want.Entries(), d.Entries()) {
				t.Errorf("%q: entries (and lines) after Delete %v differ from a fresh parse %v", tt.in, d.Entries(), want.Entries())
				_ = e
				break
			}
		}
	}
	if mustParse(t, "A=1\n").Delete("B") {
		t.Error("Delete of a missing name = true")
	}
}

func entriesEqual(a, b []Entry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// After a series of edits, the document's view (entries, lines, names) is
// the same as that of a fresh parse of its bytes.
func TestEditsKeepViewConsistent(t *testing.T) {
	d := mustParse(t, "A=1\nB=\"x\ny\"\nC=3")
	steps := []func() error{
		func() error { return d.Set("A", "one\ntwo", false) },
		func() error { d.Delete("B"); return nil },
		func() error { return d.Set("D", "multi\nline", false) },
		func() error { return d.Set("B", "back", true) },
		func() error { return d.Set("C", snip, false) },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatal(err)
		}
		fresh := mustParse(t, string(d.Bytes()))
		if !entriesEqual(fresh.Entries(), d.Entries()) {
			t.Fatalf("step %d: entries %v, fresh parse %v", i, d.Entries(), fresh.Entries())
		}
		if strings.Join(fresh.Names(), ",") != strings.Join(d.Names(), ",") {
			t.Fatalf("step %d: names differ", i)
		}
	}
	if got, want := string(d.Bytes()), "A=\"one\\ntwo\"\nC="+snip+"\nD=\"multi\\nline\"\nB='back'\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// Round-trip property: random values made of the characters that matter to
// the syntax, set into entries of every style; the result must read back
// (in Parse and godotenv) as the value, and a refusal must be justified.
func TestSetRoundTripRandom(t *testing.T) {
	alphabet := []string{"a", "Z", "_", "0", " ", "\t", "\u00a0", "#", "$", "{", "}", "(", ")", "\\", "\"", "'", "`",
		"\n", "\r", "\r\n", "=", ":", "n", "r", "é", "☕", "$A", "${A}", "\\$", " #", "\\\"", "\\'"}
	starts := []string{"K=old\n", "K=\"old\"\n", "K='old'\n", "K=old # c\n", "K=\"o\nld\"\r\n", "export K = 'old'  # c", ""}
	rng := rand.New(rand.NewPCG(1, 2))
	n := 20000
	if testing.Short() {
		n = 2000
	}
	for i := 0; i < n; i++ {
		var b strings.Builder
		for j := rng.IntN(8); j > 0; j-- {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		value, literal := b.String(), rng.IntN(2) == 0
		start := starts[rng.IntN(len(starts))]
		checkSet(t, []byte("A=x\n"+start), "K", value, literal)
	}
}

// checkSet sets key in the document doc and checks the outcome.
func checkSet(t *testing.T, doc []byte, key, value string, literal bool) {
	t.Helper()
	d, err := Parse(doc)
	if err != nil {
		t.Fatalf("Parse(%q): %v", doc, err)
	}
	before := d.Entries()
	orig := d.Bytes()
	err = d.Set(key, value, literal)
	if err != nil {
		if !errors.Is(err, ErrUnrepresentable) {
			t.Fatalf("Set(%q, %q, %v): %v", doc, value, literal, err)
		}
		// Invalid UTF-8 is refused deliberately (docs/envfile.md).
		if w := representation(value, literal); w != "" && utf8.ValidString(value) {
			t.Fatalf("Set(%q, %v) refused, but %q expresses it", value, literal, w)
		}
		if !bytes.Equal(d.Bytes(), orig) {
			t.Fatalf("failed Set changed the document")
		}
		return
	}
	checkSetResult(t, before, d.Bytes(), key, value, literal)
}

// representation is the test oracle for refusals: it tries many writings of
// value, more than Set does, and returns one that expresses (value, literal),
// or "". A literal value must be read by godotenv as exactly value; a
// non-literal one must read back in Parse as value (which the differential
// tests tie to godotenv) unless it is inert.
func representation(value string, literal bool) string {
	esc := func(s string, rawNL, escDollar, escSingle bool) string {
		var b strings.Builder
		for _, r := range s {
			switch {
			case r == '\\':
				b.WriteString(`\\`)
			case r == '"':
				b.WriteString(`\"`)
			case r == '\r':
				b.WriteString(`\r`)
			case r == '\n' && !rawNL:
				b.WriteString(`\n`)
			case r == '$' && escDollar:
				b.WriteString(`\$`)
			case r == '\'' && escSingle:
				b.WriteString(`\'`)
			default:
				b.WriteRune(r)
			}
		}
		return b.String()
	}
	var ws []string
	for _, v := range []string{value, escapeDollar(value)} {
		ws = append(ws, v, v+" #", v+"  # x")
		ws = append(ws, "'"+v+"'", "'"+v+"''", "'"+strings.ReplaceAll(v, "\n", "\r\n")+"'")
		for _, rawNL := range []bool{false, true} {
			for _, escDollar := range []bool{false, true} {
				for _, escSingle := range []bool{false, true} {
					e := esc(v, rawNL, escDollar, escSingle)
					ws = append(ws, `"`+e+`"`)
					if strings.HasSuffix(v, `\`) {
						ws = append(ws, `"`+esc(v[:len(v)-1], rawNL, escDollar, escSingle)+`\""`)
					}
				}
			}
		}
	}
	for _, w := range ws {
		src := "K=" + w + "\n"
		gd, gerr := godotenvRead([]byte(src))
		if gerr != nil || len(gd) != 1 {
			continue
		}
		if literal || inert(value) {
			if gd["K"] == value {
				return w
			}
			continue
		}
		if d, err := Parse([]byte(src)); err == nil {
			if e, _ := d.Get("K"); e.Value == value && !e.Literal {
				return w
			}
		}
	}
	return ""
}

// The fast path for plain values writes what the general one would.
func TestSetPlainMatchesSetAny(t *testing.T) {
	docs := []string{"", "K=old\n", "K=\"old\" # c\r\n", "export K = 'old'", "K=\n", "K=   # c\n", "A=1", "K=\"x\ny\"#c\n", "K=a #b #\n"}
	values := []string{snip, "x", "a:b", "A-Z_0.9/+=", "=", "-", ".", "K"}
	for _, doc := range docs {
		for _, v := range values {
			if !plain(v) {
				t.Fatalf("%q is not plain", v)
			}
			for _, lit := range []bool{false, true} {
				for _, key := range []string{"K", "NEW"} {
					fast, slow := mustParse(t, doc), mustParse(t, doc)
					fast.setPlain(key, v, lit)
					if err := slow.setAny(key, v, lit); err != nil {
						t.Fatal(err)
					}
					if f, s := fast.Bytes(), slow.Bytes(); !bytes.Equal(f, s) {
						t.Errorf("doc %q, Set(%s, %q, %v): fast path %q, general %q", doc, key, v, lit, f, s)
					}
					if !entriesEqual(fast.Entries(), slow.Entries()) {
						t.Errorf("doc %q, Set(%s, %q, %v): entries differ", doc, key, v, lit)
					}
				}
			}
		}
	}
	for _, v := range []string{"", " ", "a b", "$A", "#", "'", "\"", "\\", "é", "a\n"} {
		if plain(v) {
			t.Errorf("plain(%q) = true", v)
		}
	}
}

func TestCheckNameMatchesIdent(t *testing.T) {
	names := []string{"", "A", "a", "_", "1", ".", "A1", "A.B", "_1", "1A", ".A", "A-B", "A B", "é", "A=", strings.Repeat("A", 256), strings.Repeat("A", 257)}
	rng := rand.New(rand.NewPCG(3, 4))
	const chars = "aZ_0.9-é $"
	for i := 0; i < 5000; i++ {
		var b []byte
		for j := rng.IntN(5); j > 0; j-- {
			b = append(b, chars[rng.IntN(len(chars))])
		}
		names = append(names, string(b))
	}
	for _, n := range names {
		if got, want := checkNameString(n) == nil, ident.CheckName(n) == nil; got != want {
			t.Errorf("%q: checkNameString ok=%v, ident.CheckName ok=%v", n, got, want)
		}
		if err := checkNameString(n); err != nil && !errors.Is(err, ident.ErrBadName) {
			t.Errorf("%q: error %v is not ErrBadName", n, err)
		}
	}
}
