package envsync

import (
	"sort"

	"github.com/capy-oss/capy/internal/envfile"
)

// ExpansionOrder returns names in the order new lines of a file are
// written and a pulled version's values are listed: by name, except that
// a name comes after the names of the set its value refers to (`${…}`,
// never in a literal value). A version carries no order (its snippets are
// sorted by their text), and ${VAR} resolves only from the entries before
// it (envfile.Expand, godotenv's rule), so without this a teammate's fresh
// checkout or a runner's `capy ci` would write DATABASE_URL before the
// DB_PASSWORD it refers to and expand it to "". A cycle is broken at the
// name first reached, by name order; the result is the same on every
// machine.
func ExpansionOrder(names []string, values map[string]Value) []string {
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	in := make(map[string]bool, len(sorted))
	for _, n := range sorted {
		in[n] = true
	}
	const (
		visiting = 1
		done     = 2
	)
	state := make(map[string]int, len(sorted))
	out := make([]string, 0, len(sorted))
	var visit func(n string)
	visit = func(n string) {
		state[n] = visiting
		if v := values[n]; !v.Literal {
			refs := envfile.References(v.Text)
			sort.Strings(refs)
			for _, r := range refs {
				if in[r] && state[r] == 0 {
					visit(r)
				}
			}
		}
		state[n] = done
		out = append(out, n)
	}
	for _, n := range sorted {
		if state[n] == 0 {
			visit(n)
		}
	}
	return out
}
