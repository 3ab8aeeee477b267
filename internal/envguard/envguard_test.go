package envguard

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/capy-oss/capy/internal/envfile"
	"github.com/capy-oss/capy/internal/wrap"
)

// snippet is protocol.md's vector snippets.0; sealed a sealed value's
// shape (an age header is all ParseSealed checks without a key).
const snippet = "capy:l4s3e:sLGys7S1tre4ubq7OofUAU4aTO79Mk3NsnVHLMCZu22_zfKJCyccs9rRzncZiElKfrpa-phKKUasgTAK7pJjYzIYOEGsdtVCQs5lxKM"

var sealed = wrap.FormatSealed([]byte("age-encryption.org/v1\n-> mlkem768x25519 x\nbody"))

func TestScan(t *testing.T) {
	file := "# a comment\n" +
		"EMPTY=\n" +
		"QUOTED_EMPTY=\"\"\n" +
		"TOKEN=" + snippet + "\n" +
		"STRIPE=" + sealed + "\n" +
		"PASSWORD=hunter2\n" +
		"PORT=8080 # capy:allow\n" +
		"HOST=example.com # capy:allow public host name\n" +
		"NOTE=visible # capy:allowed is not the mark\n" +
		"MULTI=\"line one\nline two\"\n" +
		"FAKE=capy:not-a-snippet\n" +
		"FAKESEALED=capy:age:aGVsbG8\n" +
		"export API_KEY='sk_live_123'\n" +
		"COMMENT_ONLY=   # capy:allow\n"
	got, err := Scan([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	want := []Finding{
		{6, "PASSWORD", ReasonPlaintext},
		{9, "NOTE", ReasonPlaintext},
		{10, "MULTI", ReasonPlaintext},
		{12, "FAKE", ReasonBadSnippet},
		{13, "FAKESEALED", ReasonBadSealedValue},
		{14, "API_KEY", ReasonPlaintext},
	}
	// COMMENT_ONLY: `K=   # c` is the value "# c" (godotenv), marked by
	// nothing: plaintext on line 15.
	want = append(want, Finding{15, "COMMENT_ONLY", ReasonPlaintext})
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Scan =\n%v\nwant\n%v", got, want)
	}
}

func TestScanRefusesWhatItCannotRead(t *testing.T) {
	_, err := Scan([]byte("A=1\nB=\"secret-value-unterminated\n"))
	var se *envfile.SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("Scan of an unterminated value: %v, want a SyntaxError", err)
	}
	if strings.Contains(err.Error(), "secret-value") {
		t.Fatalf("the error shows the value: %v", err)
	}
}

func TestAllowed(t *testing.T) {
	for c, want := range map[string]bool{
		"capy:allow": true, "capy:allow public": true, "capy:allow\tx": true,
		"": false, "capy:allowed": false, "note capy:allow": false, "CAPY:ALLOW": false,
	} {
		if Allowed(c) != want {
			t.Errorf("Allowed(%q) = %v", c, !want)
		}
	}
}

func TestExample(t *testing.T) {
	env := "# Database\n" +
		"DATABASE_URL=" + snippet + " # the main one\n" +
		"\n" +
		"export STRIPE=" + sealed + "\n" +
		"PLAIN=not-yet-synced-secret\n" +
		"PORT=\"8080\"\n" +
		"MULTI=\"a\nb\" # two lines\n"
	got, err := Example([]byte(env), nil, map[string]string{"PORT": "8080"})
	if err != nil {
		t.Fatal(err)
	}
	want := "# Database\n" +
		"DATABASE_URL=\"\" # the main one\n" +
		"\n" +
		"export STRIPE=\n" +
		"PLAIN=\n" +
		"PORT=\"8080\" # capy:allow\n" +
		"MULTI=\"\" # two lines\n"
	if string(got) != want {
		t.Fatalf("Example =\n%s\nwant\n%s", got, want)
	}
	if f, err := Scan(got); err != nil || len(f) != 0 {
		t.Fatalf("the example does not pass the scan: %v %v", f, err)
	}

	// Regenerated after a name was added: the marked placeholder stays,
	// an unmarked value written by hand does not.
	existing := strings.Replace(want, "PLAIN=\n", "PLAIN=pasted-by-hand\n", 1)
	env2 := env + "NEW=" + snippet + "\n"
	got2, err := Example([]byte(env2), []byte(existing), nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(got2) != want+"NEW=\n" {
		t.Fatalf("regenerated example =\n%s", got2)
	}

	// A value commented out (a whole line, or after a value) never reaches
	// the example; other comments do.
	commented := "# Database\n#DATABASE_URL=postgres://u:old-pw@db/app\n  # export OLD_KEY = sk_live_1\n# e.g. PORT=3000\n" +
		"API=" + snippet + " # OLD=sk_live_2\nPORT=" + snippet + " # the port\n# KEY=\n"
	got3, err := Example([]byte(commented), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := "# Database\n# e.g. PORT=3000\nAPI=\nPORT=\"\" # the port\n# KEY=\n"; string(got3) != want {
		t.Fatalf("Example of commented-out values =\n%s\nwant\n%s", got3, want)
	}

	if _, err := Example([]byte(env), nil, map[string]string{"NOPE": "x"}); err == nil || !strings.Contains(err.Error(), "NOPE") {
		t.Fatalf("a placeholder for an unknown name: %v", err)
	}
}

func TestMissing(t *testing.T) {
	missing, stale, err := Missing([]byte("A=1\nB=2\nC=3\n"), []byte("C=\nOLD=\nA=\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(missing, []string{"B"}) || !reflect.DeepEqual(stale, []string{"OLD"}) {
		t.Fatalf("Missing = %v, %v", missing, stale)
	}
}

// FuzzScan: Scan refuses exactly what Parse refuses, reports only entries
// of the file, never reports an empty or marked value, and its findings
// hold no byte of a value (they are line, name and reason).
func FuzzScan(f *testing.F) {
	for _, s := range []string{"", "A=1\n", "A=" + snippet, "A=" + sealed, "A=x # capy:allow", "A=\"x\ny\" # capy:allow\nB=", "A=capy:zz", "export A='x' #c\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		findings, err := Scan(data)
		doc, perr := envfile.Parse(data)
		if (err == nil) != (perr == nil) {
			t.Fatalf("Scan error %v, Parse error %v", err, perr)
		}
		if err != nil {
			return
		}
		for _, fd := range findings {
			e, ok := doc.Get(fd.Name)
			if !ok || e.Line != fd.Line || e.Value == "" || Allowed(doc.Comment(fd.Name)) {
				t.Fatalf("finding %+v for entry %+v", fd, e)
			}
		}
	})
}

// FuzzExample: the example of any file parses, has the file's names in its
// order, every value empty, passes the scan, and is its own example.
func FuzzExample(f *testing.F) {
	for _, s := range []string{"", "A=1\n", "# c\nA=" + snippet + " # note\n\nB=2", "A=\"x\ny\" # capy:allow\nB=", "export A='x' #c\r\n", "A=   # x"} {
		f.Add([]byte(s), "")
		f.Add([]byte(s), "8080")
		f.Add([]byte(s), "a # b")
	}
	f.Fuzz(func(t *testing.T, data []byte, placeholder string) {
		doc, err := envfile.Parse(data)
		if err != nil {
			return
		}
		ex, err := Example(data, nil, nil)
		if err != nil {
			t.Fatalf("Example of a parsed file: %v", err)
		}
		exDoc, err := envfile.Parse(ex)
		if err != nil {
			t.Fatalf("the example does not parse: %v\n%q", err, ex)
		}
		if !reflect.DeepEqual(exDoc.Names(), doc.Names()) {
			t.Fatalf("names %v, want %v", exDoc.Names(), doc.Names())
		}
		for _, e := range exDoc.Entries() {
			if e.Value != "" {
				t.Fatalf("%s keeps a value in the example", e.Name)
			}
		}
		if fd, err := Scan(ex); err != nil || len(fd) != 0 {
			t.Fatalf("the example fails the scan: %v %v", fd, err)
		}
		again, err := Example(ex, ex, nil)
		if err != nil || !bytes.Equal(again, ex) {
			t.Fatalf("the example is not its own example: %v\n%q\n%q", err, ex, again)
		}
		names := doc.Names()
		if len(names) == 0 || placeholder == "" {
			return
		}
		// A placeholder is kept (or refused with an error), marked, and
		// kept again when the example is made anew.
		name := names[len(names)/2]
		ex, err = Example(data, nil, map[string]string{name: placeholder})
		if err != nil {
			return // a placeholder no writing of the line can carry
		}
		exDoc, err = envfile.Parse(ex)
		if err != nil {
			t.Fatalf("the example with a placeholder does not parse: %v\n%q", err, ex)
		}
		if e, _ := exDoc.Get(name); e.Value != placeholder || !Allowed(exDoc.Comment(name)) {
			t.Fatalf("placeholder %q of %s became %+v (comment %q)", placeholder, name, e, exDoc.Comment(name))
		}
		if fd, err := Scan(ex); err != nil || len(fd) != 0 {
			t.Fatalf("the example with a placeholder fails the scan: %v %v", fd, err)
		}
		again, err = Example(data, ex, nil)
		if err != nil || !bytes.Equal(again, ex) {
			t.Fatalf("the placeholder is not kept: %v\n%q\n%q", err, ex, again)
		}
	})
}
