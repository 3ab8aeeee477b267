package envfile

import (
	"bytes"
	"errors"
	"testing"
)

// Seeds: every corpus file (valid and invalid) plus testdata/fuzz/<target>.
func addCorpus(f *testing.F) {
	for _, pattern := range []string{"*.env", "invalid/*.env"} {
		for _, data := range corpus(f, pattern) {
			f.Add(data)
		}
	}
}

// FuzzParseRoundTrip: whatever Parse accepts, Bytes gives back unchanged,
// and the document's view is consistent.
func FuzzParseRoundTrip(f *testing.F) {
	addCorpus(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse(data)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Line < 1 || se.Line > bytes.Count(data, []byte("\n"))+1 {
				t.Fatalf("bad error %v", err)
			}
			return
		}
		if got := d.Bytes(); !bytes.Equal(got, data) {
			t.Fatalf("round trip:\n got  %q\n want %q", got, data)
		}
		seen := make(map[string]bool)
		last := 0
		for _, e := range d.Entries() {
			if seen[e.Name] || e.Line <= last {
				t.Fatalf("entry %s on line %d after line %d (seen before: %v)", e.Name, e.Line, last, seen[e.Name])
			}
			seen[e.Name], last = true, e.Line
			if g, ok := d.Get(e.Name); !ok || g != e {
				t.Fatalf("Get(%s) = %v, Entries has %v", e.Name, g, e)
			}
		}
		if len(d.Names()) != len(seen) {
			t.Fatalf("Names has %d, Entries %d", len(d.Names()), len(seen))
		}
	})
}

// FuzzParseVsGodotenv: Parse + Expand means what godotenv reads, except for
// the deliberate refusals, each checked by its own predicate (see
// diffGodotenv).
func FuzzParseVsGodotenv(f *testing.F) {
	addCorpus(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if diff := diffGodotenv(data); diff != "" {
			t.Fatalf("%q: %s", data, diff)
		}
	})
}

// FuzzSetValue: any value Set into a document reads back (in Parse and in
// godotenv) with its meaning, changes nothing else, or is refused only when
// no writing expresses it.
func FuzzSetValue(f *testing.F) {
	for _, doc := range []string{"", "K=old\n", "K=\"old\" # c\r\n", "export K='old'", "A=1\nK=o\\\nB=$A\n", "K=\"x\ny\"\n"} {
		for _, v := range []string{"", snip, "a b", " x ", "$A", "it's $A", `x\`, `ends"`, " it's\"", "l1\nl2\r\n", "#", "a #b", "\\$A", "'", "\""} {
			f.Add([]byte(doc), v, false)
			f.Add([]byte(doc), v, true)
		}
	}
	f.Fuzz(func(t *testing.T, doc []byte, value string, literal bool) {
		d, err := Parse(doc)
		if err != nil {
			doc = nil
			d, _ = Parse(nil)
		}
		key := "NEW_KEY"
		if names := d.Names(); len(names) > 0 {
			key = names[len(names)/2]
		}
		checkSet(t, doc, key, value, literal)
	})
}
