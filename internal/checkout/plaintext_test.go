package checkout

import (
	"testing"
)

func TestParsePlaintextJSON(t *testing.T) {
	p, err := ParsePlaintextJSON([]byte(`{"A": "x y", "B_2": "${HOME}/'q'", "C": "line\nbreak"}`), "stdin")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range p.doc.Entries() {
		got[e.Name] = e.Value
		if e.Name == "A" && !e.Literal {
			t.Errorf("A is not literal")
		}
	}
	if got["A"] != "x y" || got["C"] != "line\nbreak" || len(got) != 3 {
		t.Fatalf("entries %q", got)
	}
	for _, bad := range []string{``, `[]`, `"x"`, `{"A": 1}`, `{"A": {"B": "c"}}`, `{"A": "x", "A": "y"}`,
		`{"1A": "x"}`, `{"A": "x"} {}`, `{"A": "x"`, `{"A" "x"}`, `{"A": null}`} {
		if _, err := ParsePlaintextJSON([]byte(bad), "stdin"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// FuzzParsePlaintextJSON: any input is refused or gives entries whose
// names are valid and given once; nothing panics.
func FuzzParsePlaintextJSON(f *testing.F) {
	for _, s := range []string{`{"A": "x"}`, `{}`, `{"A": "x", "A": "y"}`, `{"A": "${B}"}`, `[1]`, `{"A": "\u0000"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := ParsePlaintextJSON(raw, "stdin")
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, e := range p.doc.Entries() {
			if seen[e.Name] || e.Name == "" {
				t.Fatalf("entry %q twice or empty", e.Name)
			}
			seen[e.Name] = true
		}
	})
}
