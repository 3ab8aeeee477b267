package envfile

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/capy-oss/capy/internal/ident"
	"github.com/joho/godotenv"
)

// This file checks the parser against github.com/joho/godotenv v1.5.1, the
// reference for what a .env file means.
//
// godotenv's expansion reads only the variables defined earlier in the same
// file (expandVariables(value, out) in its parser.go), never the process
// environment, so the comparison is deterministic; TestGodotenvIgnoresOSEnv
// pins that assumption.

// godotenvRead runs godotenv.Unmarshal, turning a panic into an error.
func godotenvRead(data []byte) (m map[string]string, err error) {
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("godotenv panicked: %v", r)
		}
	}()
	return godotenv.UnmarshalBytes(data)
}

// diffGodotenv compares Parse + Expand(…, nil) with godotenv on data and
// returns "" when they agree, else what differs. They agree when both refuse
// the file, or both accept it with identical variables, or Parse refuses it
// for one of the deliberate reasons of docs/envfile.md and the input really
// has that property (deliberate checks it without using the parser).
func diffGodotenv(data []byte) string {
	want, gerr := godotenvRead(data)
	d, err := Parse(data)
	switch {
	case err == nil && gerr != nil:
		return fmt.Sprintf("Parse accepts what godotenv refuses (%v)", gerr)
	case err == nil:
		got := Expand(d.Entries(), nil)
		if !maps.Equal(got, want) {
			return fmt.Sprintf("values differ:\n got  %q\n want %q", got, want)
		}
		return ""
	case gerr != nil:
		return ""
	}
	var se *SyntaxError
	if !errors.As(err, &se) {
		return fmt.Sprintf("Parse returned a %T: %v", err, err)
	}
	if why := deliberate(data, se); why != "" {
		return fmt.Sprintf("Parse refuses (%v) what godotenv accepts as %q: %s", err, want, why)
	}
	return ""
}

// deliberate returns "" if refusing data with se is one of the documented
// deliberate differences from godotenv, judged from the input and godotenv
// alone (se supplies only the offset); otherwise the reason it is not.
func deliberate(data []byte, se *SyntaxError) string {
	switch se.kind {
	case kindDuplicate:
		// The entry at se.off redefines a name: godotenv reads some name both
		// from the text before it and from the text starting there.
		before, err1 := godotenvRead(data[:se.off])
		after, err2 := godotenvRead(data[se.off:])
		if err1 != nil || err2 != nil {
			return fmt.Sprintf("godotenv cannot read the halves: %v, %v", err1, err2)
		}
		for k := range after {
			if _, ok := before[k]; ok {
				return ""
			}
		}
		return "no name is defined on both sides of the offset"
	case kindName:
		// godotenv reads a name capy does not accept from the statement on
		// this line: none from the lines before it, one from here on.
		lineStart := bytes.LastIndexByte(data[:se.off], '\n') + 1
		before, err1 := godotenvRead(data[:lineStart])
		after, err2 := godotenvRead(data[lineStart:])
		if err1 != nil || err2 != nil {
			return fmt.Sprintf("godotenv cannot read the halves: %v, %v", err1, err2)
		}
		for k := range before {
			if ident.CheckName(k) != nil {
				return "godotenv reads a malformed name before the line"
			}
		}
		for k := range after {
			if ident.CheckName(k) != nil {
				return ""
			}
		}
		return "godotenv reads no malformed name from the line"
	case kindAfterQuote:
		// A quote, then blanks on the same line, then text that godotenv
		// reads as a further statement.
		k := se.off
		for k > 0 {
			r, n := utf8.DecodeLastRune(data[:k])
			if r == '\n' || !unicode.IsSpace(r) {
				break
			}
			k -= n
		}
		if k == 0 || (data[k-1] != '"' && data[k-1] != '\'') {
			return "no quote before the text"
		}
		if m, err := godotenvRead(data[se.off:]); err != nil || len(m) == 0 {
			return "godotenv reads no statement from the text"
		}
		return ""
	case kindUTF8:
		if utf8.Valid(data) {
			return "the input is valid UTF-8"
		}
		return ""
	case kindLineBreak:
		r, _ := utf8.DecodeRune(data[se.off:])
		switch {
		case r == '\r' && !bytes.HasPrefix(data[se.off:], []byte("\r\n")):
		case r == '\v' || r == '\f' || r == 0x85 || r == 0x2028 || r == 0x2029:
		default:
			return fmt.Sprintf("no unusual line break at the offset (%q)", r)
		}
		return ""
	}
	return "not a deliberate difference"
}

func corpus(t testing.TB, pattern string) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string][]byte)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[f] = data
	}
	return out
}

func TestCorpusSize(t *testing.T) {
	if n := len(corpus(t, "*.env")); n < 25 {
		t.Errorf("only %d valid corpus files", n)
	}
}

// Every valid corpus file parses, means what godotenv says, and serialises
// back to exactly its bytes.
func TestCorpus(t *testing.T) {
	for name, data := range corpus(t, "*.env") {
		t.Run(filepath.Base(name), func(t *testing.T) {
			viaReader, err := godotenv.Parse(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("godotenv refuses a file of the valid corpus: %v", err)
			}
			if viaString, _ := godotenv.Unmarshal(string(data)); !maps.Equal(viaReader, viaString) {
				t.Fatal("godotenv.Parse and godotenv.Unmarshal disagree")
			}
			d, err := Parse(data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := d.Bytes(); !bytes.Equal(got, data) {
				t.Errorf("round trip changed the file:\n got  %q\n want %q", got, data)
			}
			if diff := diffGodotenv(data); diff != "" {
				t.Error(diff)
			}
			// Line numbers point at the entries.
			lines := bytes.Split(data, []byte("\n"))
			for _, e := range d.Entries() {
				if e.Line < 1 || e.Line > len(lines) || !bytes.Contains(lines[e.Line-1], []byte(e.Name)) {
					t.Errorf("%s: line %d does not contain the name", e.Name, e.Line)
				}
			}
		})
	}
}

// Files Parse refuses: the line, the kind, and whether godotenv accepts them
// (then the refusal must be one of the documented deliberate differences).
func TestInvalidCorpus(t *testing.T) {
	tests := map[string]struct {
		line       int
		kind       errKind
		godotenvOK bool
	}{
		"duplicate.env":                  {4, kindDuplicate, true},
		"duplicate-export-yaml.env":      {3, kindDuplicate, true},
		"name-leading-digit.env":         {2, kindName, true},
		"name-leading-dot.env":           {1, kindName, true},
		"name-with-space.env":            {1, kindName, true},
		"name-dash.env":                  {1, kindName, false},
		"name-latin1-letter.env":         {1, kindName, true},
		"name-too-long.env":              {1, kindName, true},
		"bare-word-at-eof.env":           {2, kindName, true},
		"bare-word.env":                  {1, kindName, false},
		"empty-name.env":                 {1, kindName, true},
		"export-empty-name.env":          {1, kindName, true},
		"export-without-value.env":       {1, kindName, false},
		"text-after-quote.env":           {1, kindAfterQuote, true},
		"text-after-quote-same-name.env": {1, kindAfterQuote, true},
		"triple-quote.env":               {1, kindAfterQuote, false},
		"lone-cr.env":                    {1, kindLineBreak, true},
		"cr-in-comment.env":              {1, kindLineBreak, true},
		"cr-at-eof.env":                  {1, kindLineBreak, true},
		"vertical-tab.env":               {1, kindLineBreak, true},
		"form-feed-in-comment.env":       {1, kindLineBreak, true},
		"nel-in-comment.env":             {1, kindLineBreak, true},
		"line-separator-in-value.env":    {1, kindLineBreak, true},
		"invalid-utf8-value.env":         {1, kindUTF8, true},
		"invalid-utf8-quoted.env":        {1, kindUTF8, true},
		"unterminated-double.env":        {2, kindUnterminated, false},
		"unterminated-single.env":        {1, kindUnterminated, false},
		"unterminated-escaped.env":       {1, kindUnterminated, false},
		"bom.env":                        {1, kindSyntax, false},
		"quote-in-name.env":              {1, kindName, false},
		"hash-in-name.env":               {1, kindName, false},
	}
	files := corpus(t, "invalid/*.env")
	for name, data := range files {
		base := filepath.Base(name)
		tt, ok := tests[base]
		if !ok {
			t.Errorf("%s: no expectation in the table", base)
			continue
		}
		t.Run(base, func(t *testing.T) {
			_, err := Parse(data)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse error = %v, want a *SyntaxError", err)
			}
			if se.Line != tt.line || se.kind != tt.kind {
				t.Errorf("got line %d kind %d (%v), want line %d kind %d", se.Line, se.kind, err, tt.line, tt.kind)
			}
			if !strings.HasPrefix(err.Error(), fmt.Sprintf("line %d: ", tt.line)) {
				t.Errorf("message %q does not start with the line", err)
			}
			if _, gerr := godotenv.UnmarshalBytes(data); (gerr == nil) != tt.godotenvOK {
				t.Errorf("godotenv error = %v, want accepted = %v", gerr, tt.godotenvOK)
			}
			if diff := diffGodotenv(data); diff != "" {
				t.Error(diff)
			}
		})
	}
	for base := range tests {
		if _, ok := files[filepath.Join("testdata", "invalid", base)]; !ok {
			t.Errorf("%s: in the table but not in testdata/invalid", base)
		}
	}
}

// The expected values below are worked out by hand from godotenv's parser.go
// (the comments say which rule applies); the test then checks them against
// godotenv itself, so a wrong expectation cannot pass unnoticed.
func TestTrickyValues(t *testing.T) {
	tests := []struct {
		src      string
		name     string
		value    string // Entry.Value (not expanded)
		literal  bool
		expanded string // godotenv's reading
	}{
		{"A=hello", "A", "hello", false, "hello"},
		{"A = spaced  ", "A", "spaced", false, "spaced"},                     // spaces around = and at the end trimmed
		{"A=a #c", "A", "a", false, "a"},                                     // space then # starts a comment
		{"A=a#c", "A", "a#c", false, "a#c"},                                  // no space: part of the value
		{"A=#c", "A", "#c", false, "#c"},                                     // # first in the value is not a comment
		{"A= # c", "A", "# c", false, "# c"},                                 // …even after spaces, which are trimmed first
		{"A=x #y #z", "A", "x #y", false, "x #y"},                            // the LAST " #" starts the comment
		{"A=a\\nb", "A", `a\nb`, false, `a\nb`},                              // no escapes when unquoted
		{`A="a\nb"`, "A", "a\nb", false, "a\nb"},                             // \n is a line feed
		{`A="a\rb"`, "A", "a\rb", false, "a\rb"},                             // \r is a carriage return
		{`A="a\tb"`, "A", "atb", false, "atb"},                               // other escapes drop the backslash
		{`A="a\\b"`, "A", `a\b`, false, `a\b`},                               // \\ is a backslash
		{`A="a\"b"`, "A", `a"b`, false, `a"b`},                               // \" is a quote
		{`A="x\""`, "A", `x\`, false, `x\`},                                  // trailing quotes are trimmed: the \" loses its quote
		{`A='x\''`, "A", `x\`, true, `x\`},                                   // same for single quotes
		{`A='it\'s'`, "A", `it\'s`, true, `it\'s`},                           // \' does not end a single-quoted value, and stays
		{"A=\"a\\\nb\"", "A", "a\nb", false, "a\nb"},                         // backslash before a line break is dropped
		{"A=\"multi\nline\"", "A", "multi\nline", false, "multi\nline"},      // raw line breaks inside quotes
		{"A=\"x\r\ny\"\r\n", "A", "x\ny", false, "x\ny"},                     // CRLF inside quotes reads as LF
		{"A='x\r\ny'", "A", "x\ny", true, "x\ny"},                            // …in single quotes too
		{`A="\$HOME"`, "A", `\$HOME`, false, `$HOME`},                        // \$ survives unescaping; expansion makes it '$'
		{`A=\$HOME`, "A", `\$HOME`, false, `$HOME`},                          // same unquoted
		{`A='$HOME'`, "A", `$HOME`, true, `$HOME`},                           // single quotes: never expanded
		{"A=${B}", "A", "${B}", false, ""},                                   // undefined: empty
		{"B=1\nA=$(B)", "A", "$(B)", false, "1)"},                            // $( is read like ${ and the ) kept
		{"B=1\nA=$B}", "A", "$B}", false, "1"},                               // the } after $NAME is swallowed
		{"B=1\nA=${B", "A", "${B", false, "1"},                               // unclosed brace still expands
		{"b=1\nA=${b}", "A", "${b}", false, "${b}"},                          // lower-case names are not references
		{"B=1\nA=\"\\\\$B\"", "A", `\$B`, false, `$B`},                       // \\ then $B: unescaped to \$B, which expands to $B
		{"B=2\nA=\\\\$B", "A", `\\$B`, false, `\$B`},                         // unquoted: the first \ stays, \$ becomes $
		{"A=1\nB=${A}${A}", "B", "${A}${A}", false, "11"},                    // several references
		{"A=\"${A}x\"", "A", "${A}x", false, "x"},                            // self reference: not defined yet
		{"A=`echo hi`", "A", "`echo hi`", false, "`echo hi`"},                // backticks are ordinary characters
		{"A: yaml", "A", "yaml", false, "yaml"},                              // ':' works like '='
		{"export A=1", "A", "1", false, "1"},                                 // export is dropped
		{"A=\u00a0x\u00a0", "A", "x", false, "x"},                            // NBSP is a space to godotenv
		{`A="  x  "`, "A", "  x  ", false, "  x  "},                          // quotes keep spaces
		{`A=""`, "A", "", false, ""},                                         // empty
		{`A=''`, "A", "", true, ""},                                          // empty, literal
		{"A=", "A", "", false, ""},                                           // empty at end of file
		{`A="x" # c`, "A", "x", false, "x"},                                  // comment after quotes
		{`A="x"#c`, "A", "x", false, "x"},                                    // …even without a space
		{`A="a # b"`, "A", "a # b", false, "a # b"},                          // # inside quotes
		{"A=café ☕", "A", "café ☕", false, "café ☕"},                         // UTF-8
		{`A=it's`, "A", "it's", false, "it's"},                               // a quote later in an unquoted value is ordinary
		{`A=a"`, "A", `a"`, false, `a"`},                                     // likewise
		{"A=$", "A", "$", false, "$"},                                        // lone $
		{"A=${}", "A", "${}", false, "${}"},                                  // empty reference kept
		{"A=1\nB=$A.x", "B", "$A.x", false, "1.x"},                           // '.' ends a reference
		{"A=x\nB='$A' \nC=$B", "C", "$B", false, "$A"},                       // an expanded reference is not expanded again
		{"A=\"\\\\\"\n\"", "A", "\\\"\n", false, "\\\"\n"},                   // \\" does not close: the value runs on
		{"A=\"\\u00e9\"", "A", "u00e9", false, "u00e9"},                      // no \u escapes
		{"A=\x00", "A", "\x00", false, "\x00"},                               // NUL is kept
		{"A=a\tb\t# c", "A", "a\tb", false, "a\tb"},                          // tab before # counts as a space
		{"A=x\u00a0#c", "A", "x", false, "x"},                                // NBSP before # too
		{"A=x\u3000#c", "A", "x\u3000#c", false, "x\u3000#c"},                // other Unicode spaces do not
		{"\u3000A=1", "A", "1", false, "1"},                                  // but indentation may be any Unicode space
		{"A=\"x\"\u3000# c", "A", "x", false, "x"},                           // and so may the blank after a quote
		{"A\u00a0=1", "A", "1", false, "1"},                                  // NBSP before '=' is trimmed from the name
		{"export\u00a0A=1", "A", "1", false, "1"},                            // and counts after export
		{"A.B_c=1", "A.B_c", "1", false, "1"},                                // dots and lower case in names
		{"A=x\r\n", "A", "x", false, "x"},                                    // CRLF is a line break
		{"A=\"\u00e9\\\u00e9\"", "A", "\u00e9\u00e9", false, "\u00e9\u00e9"}, // backslash before a multi-byte character
	}
	for _, tt := range tests {
		d, err := Parse([]byte(tt.src))
		if err != nil {
			t.Errorf("%q: Parse: %v", tt.src, err)
			continue
		}
		e, ok := d.Get(tt.name)
		if !ok || e.Value != tt.value || e.Literal != tt.literal {
			t.Errorf("%q: got %q literal=%v, want %q literal=%v", tt.src, e.Value, e.Literal, tt.value, tt.literal)
		}
		if got := Expand(d.Entries(), nil)[tt.name]; got != tt.expanded {
			t.Errorf("%q: Expand gives %q, want %q", tt.src, got, tt.expanded)
		}
		gd, err := godotenv.Unmarshal(tt.src)
		if err != nil {
			t.Errorf("%q: godotenv: %v", tt.src, err)
		} else if gd[tt.name] != tt.expanded {
			t.Errorf("%q: godotenv reads %q, the table says %q", tt.src, gd[tt.name], tt.expanded)
		}
	}
	// \' does not close a single-quoted value: A='a\' is unterminated.
	if _, err := godotenv.Unmarshal(`A='a\'`); err == nil {
		t.Error(`godotenv accepts A='a\'`)
	}
	if _, err := Parse([]byte(`A='a\'`)); err == nil {
		t.Error(`Parse accepts A='a\'`)
	}
}

// The differential tests rely on godotenv ignoring the process environment.
func TestGodotenvIgnoresOSEnv(t *testing.T) {
	t.Setenv("CAPY_ENVFILE_TEST_VAR", "from-os")
	m, err := godotenv.Unmarshal("A=${CAPY_ENVFILE_TEST_VAR}\nB=\"$CAPY_ENVFILE_TEST_VAR\"\n")
	if err != nil {
		t.Fatal(err)
	}
	if m["A"] != "" || m["B"] != "" {
		t.Fatalf("godotenv now reads the process environment (%q); revisit Expand and the differential tests", m)
	}
}

// Errors never contain value text.
func TestErrorsHideValues(t *testing.T) {
	const secret = "SuPeRsEcReT"
	inputs := []string{
		`A="` + secret,
		`A='` + secret,
		"A=" + secret + "\rB=1",
		"A=" + secret + "\xff",
		`A="` + secret + `" ` + secret + `=1`,
		"A=1\nA=" + secret,
		secret,
		secret + " x=1",
		"1" + secret + "=x",
		"A=\"" + secret + "\xff\"",
		"A=" + secret + "\u2028" + secret,
	}
	for _, in := range inputs {
		_, err := Parse([]byte(in))
		if err == nil {
			t.Errorf("%q: no error", in)
			continue
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "SuPe") {
			t.Errorf("%q: error %q contains value text", in, err)
		}
	}
}
