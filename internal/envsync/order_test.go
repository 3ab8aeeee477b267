package envsync

import (
	"slices"
	"testing"

	"github.com/capy-oss/capy/internal/envfile"
)

func TestExpansionOrder(t *testing.T) {
	v := func(text string) Value { return Value{Text: text} }
	for _, tc := range []struct {
		name   string
		values map[string]Value
		want   []string
	}{
		{"no references: by name", map[string]Value{"B": v("1"), "A": v("2"), "C": v("3")}, []string{"A", "B", "C"}},
		{"a value after what it refers to", map[string]Value{
			"DATABASE_URL": v("postgres://app:${DB_PASSWORD}@${DB_HOST}/app"), "DB_PASSWORD": v("pw"), "DB_HOST": v("db"), "API": v("x"),
		}, []string{"API", "DB_HOST", "DB_PASSWORD", "DATABASE_URL"}},
		{"chains", map[string]Value{"A": v("$B"), "B": v("$(C)"), "C": v("c")}, []string{"C", "B", "A"}},
		{"literal values refer to nothing", map[string]Value{"A": {Text: "${B}", Literal: true}, "B": v("b")}, []string{"A", "B"}},
		{"escaped dollars refer to nothing", map[string]Value{"A": v(`\${B}`), "B": v("b")}, []string{"A", "B"}},
		{"names outside the set are ignored", map[string]Value{"A": v("${HOME}/x"), "B": v("b")}, []string{"A", "B"}},
		{"a cycle is broken by name order", map[string]Value{"A": v("${B}"), "B": v("${A}"), "C": v("${A}")}, []string{"B", "A", "C"}},
		{"self reference", map[string]Value{"PATH_X": v("${PATH_X}:/bin")}, []string{"PATH_X"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var names []string
			for n := range tc.values {
				names = append(names, n)
			}
			got := ExpansionOrder(names, tc.values)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("ExpansionOrder = %v, want %v", got, tc.want)
			}
			// What the order is for: expanding in it resolves every
			// reference to a name of the set that is not in a cycle.
			if tc.name == "a value after what it refers to" {
				entries := make([]envfile.Entry, len(got))
				for i, n := range got {
					entries[i] = envfile.Entry{Name: n, Value: tc.values[n].Text}
				}
				if u := envfile.Expand(entries, nil)["DATABASE_URL"]; u != "postgres://app:pw@db/app" {
					t.Fatalf("expanded in that order: %q", u)
				}
			}
		})
	}
}
