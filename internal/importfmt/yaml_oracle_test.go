package importfmt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// yamlV3 is the YAML import as it was written on go.yaml.in/yaml/v3,
// kept as the oracle of the reader in yaml.go (decision 101): the same
// contract, on a full YAML parser.
func yamlV3(raw []byte) ([]Entry, error) {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, nil // an empty file: nothing to import
		}
		return nil, bad("malformed YAML: %s", yamlReason(err))
	}
	var more yaml.Node
	if err := dec.Decode(&more); err != io.EOF {
		return nil, bad("more than one YAML document")
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, bad("not a YAML mapping")
	}
	m := doc.Content[0]
	if m.Kind == yaml.ScalarNode && m.Tag == "!!null" {
		return nil, nil
	}
	if m.Kind != yaml.MappingNode {
		return nil, bad("not a YAML mapping of names to values")
	}
	var out []Entry
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
			return nil, bad("line %d: a name must be a plain string", k.Line)
		}
		name := k.Value
		switch {
		case v.Kind == yaml.MappingNode || v.Kind == yaml.SequenceNode:
			return nil, bad("line %d: %q holds a nested value; a .env holds flat strings only: flatten it first (e.g. with yq or jq)", k.Line, name)
		case v.Kind == yaml.AliasNode:
			return nil, bad("line %d: %q is an alias (*…); write the value out", k.Line, name)
		case v.Kind != yaml.ScalarNode:
			return nil, bad("line %d: %q is not a value", k.Line, name)
		case v.Tag == "!!null":
			return nil, bad(`line %d: %q is null; write "" for an empty value`, k.Line, name)
		case v.Tag == "!!binary":
			return nil, bad("line %d: %q is binary; a .env holds text", k.Line, name)
		}
		if err := addEntry(&out, seen, name, v.Value); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// yamlLine finds the line a YAML parser's message names.
var yamlLine = regexp.MustCompile(`line (\d+)`)

// yamlReason says where the YAML is malformed, never what the parser
// quoted: yaml.v3's messages can quote a token (`cannot unmarshal !!str
// `sk_live_…` into …`), which may be a value.
func yamlReason(err error) string {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		return "at line " + m[1]
	}
	return "the parser gave no line"
}

// sameEntries reports whether two readings agree, entry for entry.
func sameEntries(a, b []Entry) bool {
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

// FuzzYAMLAgainstV3: whatever the reader accepts, yaml.v3 reads to the
// same entries; whatever it refuses is ErrFormat.
func FuzzYAMLAgainstV3(f *testing.F) {
	for _, s := range yamlAccepted {
		f.Add([]byte(s))
	}
	for _, s := range yamlRefused {
		f.Add([]byte(s.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := YAML(in)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("%v is not ErrFormat", err)
			}
			return
		}
		want, werr := yamlV3(in)
		if werr != nil {
			t.Fatalf("YAML(%q) accepted %#v; yaml.v3 refuses it: %v", in, got, werr)
		}
		if !sameEntries(got, want) {
			t.Fatalf("YAML(%q) = %#v; yaml.v3 reads %#v", in, got, want)
		}
	})
}

// FuzzYAMLFromV3Encoder: a flat map of names to strings written by
// yaml.v3's encoder (what sops prints, at indent 2 and 4) and by `capy
// export --format yaml` (JSON strings) is read back exactly.
func FuzzYAMLFromV3Encoder(f *testing.F) {
	for _, s := range []string{"plain", "", "two\nlines", "trailing\n", "  lead", "tail  ", "x: y", "#", "'q'", `"dq"`, "null", "true", "5432", "\x01\t", "é\u2028", "|", "- a", "\n\n", "a\n\n\n", "\ta\n b", "…", "0x1F", "~"} {
		f.Add(s, "second\n value ")
	}
	f.Fuzz(func(t *testing.T, v1, v2 string) {
		if !utf8.ValidString(v1) || !utf8.ValidString(v2) {
			return // sops and capy hold text; yaml.v3 writes other bytes as !!binary
		}
		values := []string{v1, v2}
		if strings.ContainsAny(v1+v2, "\u0085\u2028\u2029") {
			return // refused raw (yaml.v3 writes them unescaped): see yaml.go
		}
		for _, indent := range []int{2, 4} {
			m := &yaml.Node{Kind: yaml.MappingNode}
			for i, v := range values {
				m.Content = append(m.Content,
					&yaml.Node{Kind: yaml.ScalarNode, Value: fmt.Sprintf("NAME_%d", i) + strings.Repeat("X", 200*i)},
					&yaml.Node{Kind: yaml.ScalarNode, Value: v, Tag: "!!str"})
			}
			var buf bytes.Buffer
			enc := yaml.NewEncoder(&buf)
			enc.SetIndent(indent)
			if err := enc.Encode(m); err != nil {
				t.Fatal(err)
			}
			enc.Close()
			if want, err := yamlV3(buf.Bytes()); err != nil || !sameValues(want, values) {
				continue // yaml.v3 cannot read it back either (a block starting with a tab)
			}
			checkReadsBack(t, buf.Bytes(), values)
		}
		var exported bytes.Buffer
		for i, v := range values {
			q, _ := json.Marshal(v)
			fmt.Fprintf(&exported, "NAME_%d: %s\n", i, q)
		}
		// json.Marshal writes DEL and the C1 controls raw, which YAML
		// does not allow: yaml.v3 refuses those too.
		if want, err := yamlV3(exported.Bytes()); err == nil && sameValues(want, values) {
			checkReadsBack(t, exported.Bytes(), values)
		}
	})
}

func sameValues(es []Entry, values []string) bool {
	if len(es) != len(values) {
		return false
	}
	for i, e := range es {
		if e.Value != values[i] {
			return false
		}
	}
	return true
}

func checkReadsBack(t *testing.T, doc []byte, values []string) {
	t.Helper()
	got, err := YAML(doc)
	if err != nil {
		t.Fatalf("YAML(%q): %v", doc, err)
	}
	if len(got) != len(values) {
		t.Fatalf("YAML(%q) = %#v", doc, got)
	}
	for i, e := range got {
		if e.Value != values[i] || !strings.HasPrefix(e.Name, fmt.Sprintf("NAME_%d", i)) {
			t.Fatalf("YAML(%q): %s = %q, want %q", doc, e.Name, e.Value, values[i])
		}
	}
}

// yamlAccepted are forms people write; the reader must read each as
// yaml.v3 does.
var yamlAccepted = []string{
	"",
	"# only a comment\n",
	"---\n",
	"--- # a document\nA: 1\n...\n",
	"\xEF\xBB\xBFA: 1\n",
	"A: 1\r\nB: two words\r\n",
	"A: x ${B}\nPORT: 5432\nDEBUG: true\nKEY: |\n  line one\n  line two\nQ: \"\"\n",
	"A: value # a comment\nB: value#not a comment\nC:\tafter a tab\n",
	"A: 'single ''quoted'' # not a comment'\nB: \"double \\\"quoted\\\" \\t \\u00e9 \\x41 \\U0001F600 \\\\\"\n",
	"'A': 1\n\"B\" : 2\nC : 3\n",
	"A: a:b\nB: -x\nC: ?y\nD: :z\nE: http://example.com/a?b=c#d\n",
	"A: |-\n  no final break\nB: |+\n  kept\n\n\nC: |\n  clip\n\n\n",
	"A: |2\n    two more spaces\n  then two\n",
	"A: |\n  one\n\n  after an empty line\n   # not a comment\nB: 1\n",
	"A: |\n\n  after a leading empty line\n",
	"A: |-\n    deep\n",
	"A: | # a comment\n  x\n",
	"A: |\n  no break at the end",
	"A: |+\n  no break at the end",
	"A: |+\n  x\n\n  ",
	"A: 1\n  # an indented comment\nB: 2\n",
	"A: ~x\nB: nullish\nC: .inf\nD: 0x1F\nE: 2001-12-14\n",
	"A: \"\\0\\a\\b\\e\\f\\n\\r\\v\\N\\_\\L\\P\\ \"\n",
	"A: é ünïcode 😀\n",
	"null: 1\n",
	"A: x\n\n\n# trailing comment\n",
	"A: |\nB: 1\n",
	"? A\n: 1\n? " + strings.Repeat("B", 200) + " # a long name\n: |\n  two\n  lines\n",
	"? 'A'\n: \"x\"\n",
	"{}\n", "--- {}\n", "---\n{} # none\n...\n", "null\n", "~\n",
	"A: 1\n   #c  \n",
	"A" + strings.Repeat(" ", 1000) + ": 1\n",
	"A: |+\n\n\nB: 1\n",
}

// yamlRefused are forms the reader refuses, with what the message says.
var yamlRefused = []struct{ in, want string }{
	{"A:\n  B: c\n", "nested value"},
	{"A:\n- x\n", "nested value"},
	{"A: [1, 2]\n", "nested value"},
	{"A: {B: c}\n", "nested value"},
	{"A:\n", "null"},
	{"A: ~\n", "null"},
	{"A: null # c\n", "null"},
	{"A: &x v\nB: *x\n", "anchor"},
	{"B: *x\n", "alias"},
	{"A: !!binary aGk=\n", "binary"},
	{"A: !!str x\n", "tag"},
	{"<<: {A: b}\n", "plain string"},
	{"A: 1\n---\nB: 2\n", "more than one"},
	{"A: 1\n...\n---\nB: 2\n", "more than one"},
	{"- a\n", "not a YAML mapping"},
	{"A: >\n  folded\n", "folded"},
	{"A: one\n  two\n", "indented line"},
	{"A: \"one\n  two\"\n", "does not end on its line"},
	{"A: x: y\n", "colon"},
	{"A: \"x\" y\n", "after the quoted value"},
	{"  A: 1\n", "indented"},
	{"%YAML 1.2\n---\nA: 1\n", "directives"},
	{"? A\n\n: 1\n", "next line"},
	{"? A: b\n: 1\n", "plain name"},
	{"A" + strings.Repeat(" ", 1024) + ": 1\n", "1024"},
	{"\"" + strings.Repeat("\\x41", 256) + "\": 1\n", "1024"},
	{"{}\nA: 1\n", "after an empty document"},
	{"A B: 1\n", "not a variable name"},
	{"A: 1\x01\n", "control character"},
	{"A: \xff\n", "UTF-8"},
	{"A: a\u2028b\n", "line separator"},
	{"A: \"\\ud800\"\n", "invalid Unicode"},
	{"A: \"\\q\"\n", "unknown escape"},
	{"A: \"\\/\"\n", "unknown escape"},
	{"A: |x\n  y\n", "header"},
	{"A: |\n  x\n     \n", "spaces only"},
	{"A: 1\n...\nB: 2\n", "after the end"},
	{"A: 1\rB: 2\n", "carriage return"},
	{"A: @x\n", "quote the value"},
	{"A: - x\n", "quote the value"},
	{"{\"A\": \"b\"}\n", "--format json"},
	{"just text\n", "NAME: value"},
	{"A: 1\nA: 2\n", "twice"},
}

func TestYAMLAcceptedAsV3Reads(t *testing.T) {
	for _, in := range yamlAccepted {
		want, err := yamlV3([]byte(in))
		if err != nil {
			t.Fatalf("the oracle refuses %q: %v", in, err)
		}
		got, err := YAML([]byte(in))
		if err != nil || !sameEntries(got, want) {
			t.Errorf("YAML(%q) = %#v, %v; yaml.v3 reads %#v", in, got, err, want)
		}
	}
}

func TestYAMLRefused(t *testing.T) {
	for _, c := range yamlRefused {
		got, err := YAML([]byte(c.in))
		if err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.want) || got != nil {
			t.Errorf("YAML(%q) = %#v, %v; want an ErrFormat saying %q", c.in, got, err, c.want)
		}
	}
}
