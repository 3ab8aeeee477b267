package envfile

import "strings"

// Expand resolves variable references the way godotenv v1.5.1 does when it
// reads a file, and returns every variable's final value.
//
// Entries are processed in order. A literal (single-quoted) value is used as
// it is. In any other value:
//
//   - `\$` becomes a literal '$';
//   - $NAME, ${NAME} and $(NAME where NAME is [A-Z0-9_]+ (upper case only)
//     become the value of NAME, the text after the name being kept (so
//     "$(NAME)" leaves the ')' and "$NAME}" swallows the '}', as in godotenv);
//   - anything else, including ${lower} and a lone '$', stays as written.
//
// A reference is resolved from the entries before it in the list (already
// expanded); failing that from lookup, when lookup is not nil and reports the
// name; failing that to "". godotenv v1.5.1 has no lookup (a name the file
// has not defined yet expands to ""), so Expand(entries, nil) is exactly what
// godotenv.Parse returns; the lookup is there for callers that want the
// process environment to fill the gaps, as capy run may.
//
// A name listed twice takes its last value, as in godotenv (Parse refuses
// such files, but entries may come from elsewhere).
func Expand(entries []Entry, lookup func(name string) (string, bool)) map[string]string {
	out := make(map[string]string, len(entries))
	resolve := func(name string) string {
		if v, ok := out[name]; ok {
			return v
		}
		if lookup != nil {
			if v, ok := lookup(name); ok {
				return v
			}
		}
		return ""
	}
	for _, e := range entries {
		if e.Literal {
			out[e.Name] = e.Value
		} else {
			out[e.Name] = expandValue(e.Value, resolve)
		}
	}
	return out
}

// expandValue is godotenv's expandVariables, which applies the regular
// expression (\\)?(\$)(\()?\{?([A-Z0-9_]+)?\}? to the value. Matches never
// overlap and the text they keep contains no '$' or '\', so scanning byte by
// byte gives the same result.
func expandValue(v string, resolve func(string) string) string {
	if strings.IndexByte(v, '$') < 0 {
		return v
	}
	var b strings.Builder
	b.Grow(len(v))
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\' && i+1 < len(v) && v[i+1] == '$':
			b.WriteByte('$') // escaped: drop the backslash
			i++
		case c == '$':
			name, end := refName(v, i)
			if end == 0 {
				b.WriteByte('$')
				continue
			}
			b.WriteString(resolve(name))
			i = end - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// refName parses the reference starting at the '$' at v[i]. It returns the
// name and the index just after the reference, or end == 0 if no name
// follows (then the '$' is kept as written).
func refName(v string, i int) (name string, end int) {
	j := i + 1
	if j < len(v) && v[j] == '(' {
		j++
	}
	if j < len(v) && v[j] == '{' {
		j++
	}
	k := j
	for k < len(v) && ('A' <= v[k] && v[k] <= 'Z' || '0' <= v[k] && v[k] <= '9' || v[k] == '_') {
		k++
	}
	if k == j {
		return "", 0
	}
	name = v[j:k]
	if k < len(v) && v[k] == '}' {
		k++
	}
	return name, k
}

// References lists the names a non-literal value refers to ($NAME,
// ${NAME}, $(NAME), as Expand reads them), in order, each once; an
// escaped `\$` refers to nothing. A writer of new lines orders them so
// that Expand, which resolves a reference from the entries before it,
// finds what a value refers to whatever the order of the file it came
// from (envsync.ExpansionOrder).
func References(v string) []string {
	var out []string
	seen := map[string]bool{}
	for i := 0; i < len(v); i++ {
		switch {
		case v[i] == '\\' && i+1 < len(v) && v[i+1] == '$':
			i++
		case v[i] == '$':
			name, end := refName(v, i)
			if end == 0 {
				continue
			}
			if !seen[name] {
				seen[name] = true
				out = append(out, name)
			}
			i = end - 1
		}
	}
	return out
}
