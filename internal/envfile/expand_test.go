package envfile

import (
	"maps"
	"slices"
	"testing"
)

func TestExpandLookup(t *testing.T) {
	entries := []Entry{
		{Name: "A", Value: "a"},
		{Name: "B", Value: "${A}-${HOME}-$UNSET-${LATER}"},
		{Name: "C", Value: "${HOME}", Literal: true},
		{Name: "LATER", Value: "late"},
		{Name: "PATH", Value: "/opt/bin:$PATH"},
		{Name: "E", Value: `\${A}`},
	}
	env := map[string]string{"HOME": "/home/me", "LATER": "from-env", "PATH": "/usr/bin"}
	lookup := func(name string) (string, bool) { v, ok := env[name]; return v, ok }
	want := map[string]string{
		"A":     "a",
		"B":     "a-/home/me--from-env", // file first, then lookup, else ""
		"C":     "${HOME}",              // literal
		"LATER": "late",
		"PATH":  "/opt/bin:/usr/bin", // a self reference reaches the environment
		"E":     "${A}",
	}
	if got := Expand(entries, lookup); !maps.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	// Without lookup, exactly godotenv: undefined names are empty.
	want["B"], want["PATH"] = "a---", "/opt/bin:"
	if got := Expand(entries, nil); !maps.Equal(got, want) {
		t.Errorf("nil lookup: got %q\nwant %q", got, want)
	}
}

// Expansion against godotenv on values built from the pieces its regular
// expression cares about (unquoted values go through expansion only, so
// godotenv's reading of "R=…" is the expansion of the text).
func TestExpandVsGodotenv(t *testing.T) {
	pieces := []string{"$", "\\", "{", "}", "(", ")", "A", "B", "a", "_", "1", ".", "x", "$A", "${A}", "$(A", "\\$", "${", "$}"}
	var rec func(prefix string, depth int)
	n := 0
	rec = func(prefix string, depth int) {
		src := "A=va\nB=vb\nR=" + prefix + "\n"
		if diff := diffGodotenv([]byte(src)); diff != "" {
			t.Errorf("%q: %s", src, diff)
		}
		n++
		if depth == 0 {
			return
		}
		for _, p := range pieces {
			rec(prefix+p, depth-1)
		}
	}
	rec("", 3)
	if n < 1000 {
		t.Fatalf("only %d cases", n)
	}
}

func TestInert(t *testing.T) {
	for v, want := range map[string]bool{
		"": true, "plain": true, "$": true, "a$": true, "${}": true, "$(": true, "${a}": true, "$a": true, "$.": true, "$}": true,
		"$A": false, "${A}": false, "$(A)": false, "$({A": false, `\$`: false, `a\$b`: false, "$1": false, "$_": false, snip: true,
	} {
		if got := inert(v); got != want {
			t.Errorf("inert(%q) = %v, want %v", v, got, want)
		}
		// inert means expansion changes nothing, whatever the variables hold.
		e := []Entry{{Name: "V", Value: v}}
		got := Expand(e, func(string) (string, bool) { return "<x>", true })["V"]
		if (got == v) != want {
			t.Errorf("inert(%q) = %v but expansion gives %q", v, want, got)
		}
	}
}

func TestReferences(t *testing.T) {
	for v, want := range map[string][]string{
		"plain":                         nil,
		"$A ${B} $(C) ${A}":             {"A", "B", "C"},
		`\$A ${B}`:                      {"B"},
		"${lower} $ $1X":                {"1X"},
		"postgres://u:${DB_PW}@h/${DB}": {"DB_PW", "DB"},
	} {
		if got := References(v); !slices.Equal(got, want) {
			t.Errorf("References(%q) = %v, want %v", v, got, want)
		}
	}
}
