package importfmt

import (
	"testing"
	"unicode/utf8"
)

// TestYAMLQuoteReadsBack: what `capy export --format yaml` writes for a
// value (YAMLQuote), the YAML import reads back exactly, for every
// character of the first planes and the awkward ones.
func TestYAMLQuoteReadsBack(t *testing.T) {
	values := []string{"", "plain", "two\nlines\n", "\t\"quoted\" \\ back", "${X} = sign", "\x00\x01\x1b", "\x7f", "\u0085 NEL", "\u009f", "\u2028\u2029", "\ufeff", "\uffff\ufffe", "é 😀 \U0010FFFF", "<&>", "# not a comment", "key: value", "- item", "  lead and trail  "}
	for c := rune(0); c < 0x3000; c++ {
		values = append(values, "x"+string(c)+"y")
	}
	for _, v := range values {
		if !utf8.ValidString(v) {
			continue
		}
		doc := "NAME: " + YAMLQuote(v) + "\n"
		got, err := YAML([]byte(doc))
		if err != nil || len(got) != 1 || got[0].Value != v {
			t.Fatalf("YAMLQuote(%q) = %q reads back as %#v, %v", v, doc, got, err)
		}
	}
}
