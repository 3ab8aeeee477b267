package envguard

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/capy-oss/capy/internal/envfile"
)

// Example makes the .env.example of an environment's file env: the same
// lines (names, order, comments, blank lines, export prefixes) with every
// value left out. A name keeps a placeholder instead when placeholders
// gives one, else when the existing example (nil when there is none) has a
// non-empty value for it on a line marked with AllowMark (a placeholder
// written last time, or by hand, and marked public). A line with a
// placeholder gets the mark, so that the leak scan passes the example.
//
// Only names and comments of env reach the result, never a value: a value
// of env, snippet or plaintext, is never copied. A comment that reads like
// an assignment (`# OLD_KEY=sk_live_…`, whole line or after a value) is
// left out: it is most often a value commented out, and comments are
// never encrypted (LooksLikeAssignment).
func Example(env, existing []byte, placeholders map[string]string) ([]byte, error) {
	doc, err := envfile.Parse(env)
	if err != nil {
		return nil, err
	}
	doc.DropCommentLines(LooksLikeAssignment)
	for _, name := range doc.Names() {
		if c := doc.Comment(name); c != "" && !Allowed(c) && LooksLikeAssignment(c) {
			if err := doc.SetComment(name, ""); err != nil {
				return nil, err
			}
		}
	}
	var unknown []string
	for name := range placeholders {
		if _, ok := doc.Get(name); !ok {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("a placeholder is given for %s, which the environment's file does not have", strings.Join(unknown, ", "))
	}
	kept := map[string]envfile.Entry{}
	if existing != nil {
		old, err := envfile.Parse(existing)
		if err != nil {
			return nil, fmt.Errorf("the existing example: %w", err)
		}
		for _, e := range old.Entries() {
			if e.Value != "" && Allowed(old.Comment(e.Name)) {
				kept[e.Name] = e
			}
		}
	}
	for _, name := range doc.Names() {
		value, literal := "", false
		if v, ok := placeholders[name]; ok {
			value = v
		} else if e, ok := kept[name]; ok {
			value, literal = e.Value, e.Literal
		}
		if err := doc.Set(name, value, literal); err != nil {
			return nil, fmt.Errorf("the placeholder of %s: %w", name, err)
		}
		if comment := doc.Comment(name); value != "" && !Allowed(comment) {
			if comment != "" {
				comment = " " + comment
			}
			if err := doc.SetComment(name, AllowMark+comment); err != nil {
				return nil, err
			}
		}
	}
	return doc.Bytes(), nil
}

// assignment is a comment's text that begins like a .env line: an
// optional `export`, a name, `=` and something after it.
// It is compiled at first use: every capy command links this package and
// few call it, and a compile at start-up costs each of them.
var assignment = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(export\s+)?[A-Za-z_][A-Za-z0-9_.]*\s*=\s*\S`)
})

// LooksLikeAssignment reports whether a comment's text (after the '#')
// reads like a variable with a value, which .env.example must not carry.
func LooksLikeAssignment(text string) bool { return assignment().MatchString(text) }

// Missing returns the names of env that example lacks, in env's order, and
// the names of example that env no longer has (stale), in example's order.
func Missing(env, example []byte) (missing, stale []string, err error) {
	doc, err := envfile.Parse(env)
	if err != nil {
		return nil, nil, err
	}
	ex, err := envfile.Parse(example)
	if err != nil {
		return nil, nil, fmt.Errorf("the example: %w", err)
	}
	for _, n := range doc.Names() {
		if _, ok := ex.Get(n); !ok {
			missing = append(missing, n)
		}
	}
	for _, n := range ex.Names() {
		if _, ok := doc.Get(n); !ok {
			stale = append(stale, n)
		}
	}
	return missing, stale, nil
}
