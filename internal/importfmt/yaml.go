package importfmt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/capy-oss/capy/internal/ident"
)

// This file reads the part of YAML that a flat file of names and values
// uses, and refuses the rest by line. It is ours rather than a YAML
// library's because every capy command pays for what the binary links:
// go.yaml.in/yaml/v3 cost each command ~0.24 ms of package initialisation
// and 0.44 MB of binary for a rarely used import (decision 101). That
// library stays the oracle: FuzzYAMLAgainstV3 checks that whatever this
// reader accepts, yaml.v3 reads to the same names and values, and
// FuzzYAMLFromV3Encoder that everything yaml.v3's encoder writes for a
// flat map (what `sops decrypt --output-type yaml` prints) is accepted.
//
// What it reads, in one document (an optional "---" line first, an
// optional "..." line last):
//
//   - comment and blank lines;
//   - NAME: value at column 0, NAME plain or quoted on one line;
//   - a value that is plain, single-quoted or double-quoted (with YAML's
//     escapes) on the name's line, or a literal block (|, |-, |+, with an
//     optional indentation digit) on the lines below.
//
// What it refuses with a message that says so: nested mappings and lists
// (flow or block), null, anchors, aliases, tags, folded blocks (>), and
// values continued on the next line. No message quotes the text of a
// line, which may be a value; names are quoted (they are not secret).

// yamlReader walks the lines of one YAML document.
type yamlReader struct {
	lines [][]byte // without their line breaks
	// lastHasBreak is false when the input's last line has no line
	// break: a literal block that ends there has no final break to keep.
	lastHasBreak bool
	n            int // index of the current line; line numbers are n+1
}

// YAML reads one YAML mapping of names to scalars (what `capy export
// --format yaml` and `sops decrypt --output-type yaml` print). A scalar's
// text is taken as written (port: 5432 is "5432", debug: true is "true");
// values are literal, as in JSON. A nested mapping or list, an alias, a
// null, a name twice, or more than one document is refused: a .env holds
// flat strings only.
func YAML(raw []byte) ([]Entry, error) {
	raw = bytes.TrimPrefix(raw, []byte("\xEF\xBB\xBF"))
	if err := checkYAMLText(raw); err != nil {
		return nil, err
	}
	r := &yamlReader{lines: bytes.Split(raw, []byte("\n")), lastHasBreak: len(raw) > 0 && raw[len(raw)-1] == '\n'}
	if r.lastHasBreak {
		r.lines = r.lines[:len(r.lines)-1]
	}
	for i, l := range r.lines {
		r.lines[i] = bytes.TrimSuffix(l, []byte("\r"))
	}
	return r.document()
}

// checkYAMLText refuses what YAML does not allow in a stream (invalid
// UTF-8, control characters, a carriage return not before a line feed)
// and the line breaks other than "\n" YAML also counts (NEL, LS, PS),
// which this reader does not split on.
func checkYAMLText(raw []byte) error {
	line := 1
	for i := 0; i < len(raw); {
		c := raw[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '\n':
				line++
			case c == '\r':
				if i+1 >= len(raw) || raw[i+1] != '\n' {
					return bad("line %d: a carriage return without a line feed", line)
				}
			case c == '\t':
			case c < 0x20 || c == 0x7F:
				return bad("line %d: a control character; write it as an escape in a double-quoted value", line)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(raw[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return bad("line %d: not UTF-8 text", line)
		case notRawInYAML(r) || r == 0x2028 || r == 0x2029:
			return bad("line %d: a character YAML does not allow raw (a control character or a line separator); write it as an escape in a double-quoted value", line)
		}
		i += size
	}
	return nil
}

// notRawInYAML reports whether r, outside ASCII's control characters
// (which checkYAMLText takes byte by byte), is a character YAML does not
// allow unescaped: DEL, the C1 controls, a byte-order mark inside the
// text, the surrogates and U+FFFE/U+FFFF.
func notRawInYAML(r rune) bool {
	return r == 0x7F || (r >= 0x80 && r < 0xA0) || r == 0xFEFF || (r >= 0xD800 && r <= 0xDFFF) || r == 0xFFFE || r == 0xFFFF
}

// YAMLQuote writes s as a YAML double-quoted scalar, what `capy export
// --format yaml` prints and YAML reads back: a JSON string (which escapes
// the ASCII controls, U+2028 and U+2029), with what JSON leaves raw but
// YAML refuses raw (notRawInYAML) escaped as well.
func YAMLQuote(s string) string {
	q, _ := json.Marshal(s)
	var b strings.Builder
	for _, r := range string(q) {
		if notRawInYAML(r) {
			fmt.Fprintf(&b, `\u%04x`, r)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func (r *yamlReader) line() int { return r.n + 1 }

// document reads the whole input as at most one document holding one
// block mapping.
func (r *yamlReader) document() ([]Entry, error) {
	r.skipBlank()
	if r.n < len(r.lines) && len(r.lines[r.n]) > 0 && r.lines[r.n][0] == '%' {
		return nil, bad("line %d: YAML directives (%%…) are not supported", r.line())
	}
	started := false // by "---" or a first entry: "..." ends a document only
	if r.n < len(r.lines) && isMarker(r.lines[r.n], "---") {
		started = true
		if rest := afterMarker(r.lines[r.n]); len(rest) > 0 && rest[0] != '#' {
			if !isEmptyMapping(rest) {
				return nil, bad("line %d: write the mapping on the lines after ---", r.line())
			}
			return r.emptyDocument()
		}
		r.n++
		r.skipBlank()
	}
	if r.n < len(r.lines) && isEmptyMapping(r.lines[r.n]) {
		return r.emptyDocument() // what yaml.v3 (sops) writes for no values
	}
	var out []Entry
	seen := map[string]bool{}
	for {
		r.skipBlank()
		if r.n >= len(r.lines) {
			return out, nil
		}
		l := r.lines[r.n]
		switch {
		case isMarker(l, "---"):
			return nil, bad("more than one YAML document")
		case isMarker(l, "...") && !started && len(out) == 0:
			return nil, bad("line %d: a document end (...) with no document", r.line())
		case isMarker(l, "..."):
			if rest := afterMarker(l); len(rest) > 0 && rest[0] != '#' {
				return nil, bad("line %d: text after the end of the document", r.line())
			}
			r.n++
			r.skipBlank()
			if r.n < len(r.lines) {
				if isMarker(r.lines[r.n], "---") {
					return nil, bad("more than one YAML document")
				}
				return nil, bad("line %d: text after the end of the document (...)", r.line())
			}
			return out, nil
		case l[0] == ' ' || l[0] == '\t':
			return nil, bad("line %d: indented where a name was expected (or a tab where YAML allows none); names start at the line's first column", r.line())
		case l[0] == '-' && (len(l) == 1 || isBlank(l[1])):
			if len(out) == 0 {
				return nil, bad("not a YAML mapping of names to values")
			}
			return nil, bad("line %d: a list item where a name was expected", r.line())
		}
		name, value, err := r.entry()
		if err != nil {
			return nil, err
		}
		if err := addEntry(&out, seen, name, value); err != nil {
			return nil, err
		}
	}
}

// isEmptyMapping reports whether l is a whole document of no entries:
// {} or a null, and perhaps a comment.
func isEmptyMapping(l []byte) bool {
	for i := 1; i < len(l); i++ {
		if l[i] == '#' && isBlank(l[i-1]) {
			l = l[:i]
			break
		}
	}
	switch string(trimBlank(l)) {
	case "{}", "~", "null", "Null", "NULL":
		return true
	}
	return false
}

// emptyDocument reads the rest after a document of no entries, which
// may hold comments and a closing "..." only.
func (r *yamlReader) emptyDocument() ([]Entry, error) {
	r.n++
	r.skipBlank()
	if r.n < len(r.lines) && isMarker(r.lines[r.n], "...") && len(afterMarker(r.lines[r.n])) == 0 {
		r.n++
		r.skipBlank()
	}
	if r.n < len(r.lines) {
		return nil, bad("line %d: text after an empty document", r.line())
	}
	return nil, nil
}

// entry reads NAME: value at the current line, and the block below it
// for a literal block, and moves past them.
func (r *yamlReader) entry() (name, value string, err error) {
	l := r.lines[r.n]
	var rest []byte
	if l[0] == '?' && (len(l) == 1 || isBlank(l[1])) {
		name, rest, err = r.explicitKey(l[1:])
	} else {
		name, rest, err = r.key(l)
	}
	if err != nil {
		return "", "", err
	}
	// The name is checked before any message quotes it: text that is not
	// a name may be part of a value (a .env line given as YAML).
	if err := ident.CheckName(name); err != nil {
		return "", "", bad("line %d: not a variable name: %v", r.line(), err)
	}
	v, err := r.value(name, rest)
	return name, v, err
}

// value reads the value after NAME: (rest is what follows the colon).
func (r *yamlReader) value(name string, rest []byte) (string, error) {
	rest = trimBlank(rest)
	if len(rest) == 0 || rest[0] == '#' {
		return "", r.emptyValue(name)
	}
	switch rest[0] {
	case '"', '\'':
		v, after, err := r.quoted(rest)
		if err != nil {
			return "", err
		}
		if err := r.endOfValue(after, name); err != nil {
			return "", err
		}
		return v, nil
	case '|':
		return r.literalBlock(rest[1:], name)
	case '>':
		return "", bad("line %d: %q is a folded block (>); use a literal block (|) or a quoted value", r.line(), name)
	case '[', '{':
		return "", bad("line %d: %q holds a nested value; a .env holds flat strings only: flatten it first (e.g. with yq or jq)", r.line(), name)
	case '*':
		return "", bad("line %d: %q is an alias (*…); write the value out", r.line(), name)
	case '&':
		return "", bad("line %d: %q has an anchor (&…); anchors and aliases are not supported: write the value out", r.line(), name)
	case '!':
		if bytes.HasPrefix(rest, []byte("!!binary")) {
			return "", bad("line %d: %q is binary; a .env holds text", r.line(), name)
		}
		return "", bad("line %d: %q has a tag (!…); tags are not supported: write the value plain or quoted", r.line(), name)
	case ',', ']', '}', '#', '%', '@', '`':
		return "", bad("line %d: the value of %q starts with %q; quote the value", r.line(), name, rest[0])
	case '-', '?', ':':
		if len(rest) == 1 || isBlank(rest[1]) {
			return "", bad("line %d: the value of %q starts with %q and a space; quote the value (a list is a nested value)", r.line(), name, rest[0])
		}
	}
	return r.plainValue(rest, name)
}

// key reads the name at the start of l, and returns what follows its
// colon.
func (r *yamlReader) key(l []byte) (string, []byte, error) {
	switch l[0] {
	case '"', '\'':
		name, after, err := r.quoted(l)
		if err != nil {
			return "", nil, err
		}
		colon := len(l) - len(trimBlank(after))
		after = trimBlank(after)
		if len(after) == 0 || after[0] != ':' || (len(after) > 1 && !isBlank(after[1])) {
			return "", nil, bad("line %d: expected NAME: value", r.line())
		}
		if colon > maxSimpleKey {
			return "", nil, bad("line %d: more than %d characters before the colon; YAML allows no more there", r.line(), maxSimpleKey)
		}
		return name, after[1:], nil
	case '?', '-', ':':
	case '<':
		if bytes.HasPrefix(l, []byte("<<")) {
			return "", nil, bad("line %d: a name must be a plain string, not a merge (<<)", r.line())
		}
	case '[', '{':
		return "", nil, bad("line %d: a flow mapping or list; a name must be a plain string (for JSON use --format json)", r.line())
	case '&', '*', '!':
		return "", nil, bad("line %d: a name must be a plain string, without an anchor, alias or tag", r.line())
	case ',', ']', '}', '#', '%', '@', '`', '|', '>':
		return "", nil, bad("line %d: expected NAME: value", r.line())
	}
	for i := 0; i < len(l); i++ {
		switch {
		case l[i] == ':' && (i+1 == len(l) || isBlank(l[i+1])):
			if i > maxSimpleKey {
				return "", nil, bad("line %d: more than %d characters before the colon; YAML allows no more there", r.line(), maxSimpleKey)
			}
			name := trimBlankRight(l[:i])
			if len(name) == 0 {
				return "", nil, bad("line %d: expected NAME: value", r.line())
			}
			return string(name), l[i+1:], nil
		case l[i] == '#' && i > 0 && isBlank(l[i-1]):
			return "", nil, bad("line %d: expected NAME: value", r.line())
		}
	}
	return "", nil, bad("line %d: expected NAME: value", r.line())
}

// maxSimpleKey is how far into its line YAML lets a name's colon be
// (libyaml's simple-key limit): a longer name must be an explicit key.
const maxSimpleKey = 1024

// explicitKey reads the explicit-key form "? NAME" then ": value" on the
// next line (what yaml.v3's encoder, and so sops, writes for names of
// more than 128 characters); rest is the text after "?".
func (r *yamlReader) explicitKey(rest []byte) (string, []byte, error) {
	rest = trimBlank(rest)
	var name string
	switch {
	case len(rest) == 0 || rest[0] == '#':
		return "", nil, bad("line %d: an explicit key (?) without a name", r.line())
	case rest[0] == '"' || rest[0] == '\'':
		v, after, err := r.quoted(rest)
		if err != nil {
			return "", nil, err
		}
		if after = trimBlank(after); len(after) > 0 && after[0] != '#' {
			return "", nil, bad("line %d: text after the explicit key's name", r.line())
		}
		name = v
	default:
		end := len(rest)
		for i := 1; i < len(rest); i++ {
			if rest[i] == '#' && isBlank(rest[i-1]) {
				end = i
				break
			}
		}
		name = string(trimBlankRight(rest[:end]))
		if !isPlainName(name) {
			return "", nil, bad("line %d: an explicit key (?) must be a plain name", r.line())
		}
	}
	r.n++
	if r.n >= len(r.lines) || len(r.lines[r.n]) == 0 || r.lines[r.n][0] != ':' || (len(r.lines[r.n]) > 1 && !isBlank(r.lines[r.n][1])) {
		return "", nil, bad("line %d: an explicit key (?) must be followed by \": value\" on the next line", r.line())
	}
	return name, r.lines[r.n][1:], nil
}

// isPlainName reports whether s is a plain scalar made of name
// characters only (what an explicit key may be here).
func isPlainName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c == '.' || ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')) {
			return false
		}
	}
	return len(s) > 0
}

// emptyValue refuses NAME: with nothing after it, saying whether the
// lines below hold a nested value or it is a null.
func (r *yamlReader) emptyValue(name string) error {
	at := r.line()
	r.n++
	r.skipBlank()
	if r.n < len(r.lines) {
		l := r.lines[r.n]
		if l[0] == ' ' || l[0] == '\t' || (l[0] == '-' && (len(l) == 1 || isBlank(l[1]))) {
			return bad("line %d: %q holds a nested value or a value on the next line; a .env holds flat strings only: flatten nested values first (e.g. with yq or jq), and write a value on the name's line", at, name)
		}
	}
	return bad(`line %d: %q is null; write "" for an empty value`, at, name)
}

// plainValue reads an unquoted value on the name's line.
func (r *yamlReader) plainValue(rest []byte, name string) (string, error) {
	end := len(rest)
	for i := 0; i < len(rest); i++ {
		if rest[i] == ':' && (i+1 == len(rest) || isBlank(rest[i+1])) {
			return "", bad("line %d: the value of %q holds a colon and a space (or ends with a colon); quote the value", r.line(), name)
		}
		if rest[i] == '#' && isBlank(rest[i-1]) { // i > 0: rest[0] is not '#'
			end = i
			break
		}
	}
	v := trimBlankRight(rest[:end])
	switch string(v) {
	case "~", "null", "Null", "NULL":
		return "", bad(`line %d: %q is null; write "" for an empty value`, r.line(), name)
	}
	r.n++
	if err := r.noContinuation(name); err != nil {
		return "", err
	}
	return string(v), nil
}

// endOfValue checks that only a comment follows a quoted value on its
// line, and that the value does not go on below.
func (r *yamlReader) endOfValue(after []byte, name string) error {
	if len(after) > 0 {
		if !isBlank(after[0]) {
			return bad("line %d: text right after the quoted value of %q", r.line(), name)
		}
		if after = trimBlank(after); len(after) > 0 && after[0] != '#' {
			return bad("line %d: text after the quoted value of %q", r.line(), name)
		}
	}
	r.n++
	return r.noContinuation(name)
}

// noContinuation refuses an indented line after a one-line value: YAML
// would fold it into the value (or refuse it), and this reader keeps
// values on their name's line.
func (r *yamlReader) noContinuation(name string) error {
	for i := r.n; i < len(r.lines); i++ {
		l := r.lines[i]
		t := trimBlank(l)
		if len(t) == 0 {
			continue
		}
		if t[0] == '#' {
			return nil // a comment line (after blanks, if any) ends a plain value
		}
		if l[0] == ' ' || l[0] == '\t' {
			return bad("line %d: the value of %q goes on to an indented line; write it on one line, quoted, or as a literal block (|)", i+1, name)
		}
		return nil
	}
	return nil
}

// quoted reads a single- or double-quoted scalar that starts at s[0] and
// ends on the same line, and returns its value and the rest of the line.
func (r *yamlReader) quoted(s []byte) (string, []byte, error) {
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == q && q == '\'':
			if i+1 < len(s) && s[i+1] == '\'' {
				b.WriteByte('\'')
				i++
				continue
			}
			return b.String(), s[i+1:], nil
		case c == q:
			return b.String(), s[i+1:], nil
		case c == '\\' && q == '"':
			n, err := r.escape(&b, s[i+1:])
			if err != nil {
				return "", nil, err
			}
			i += n
		default:
			b.WriteByte(c)
		}
	}
	return "", nil, bad("line %d: a quoted value or name that does not end on its line; write it on one line (\\n for a line break) or as a literal block (|)", r.line())
}

// yamlEscapes maps the one-letter escapes of a double-quoted scalar.
var yamlEscapes = [256]string{
	'0': "\x00", 'a': "\a", 'b': "\b", 't': "\t", '\t': "\t", 'n': "\n", 'v': "\v", 'f': "\f", 'r': "\r",
	'e': "\x1b", ' ': " ", '"': `"`, '\\': `\`, 'N': "\u0085", '_': "\u00a0", 'L': "\u2028", 'P': "\u2029",
}

// escape writes the escape after a backslash (s starts after it) and
// returns how many bytes it took.
func (r *yamlReader) escape(b *strings.Builder, s []byte) (int, error) {
	if len(s) == 0 {
		return 0, bad("line %d: a backslash at the end of a line; write the value on one line (\\n for a line break)", r.line())
	}
	if e := yamlEscapes[s[0]]; e != "" {
		b.WriteString(e)
		return 1, nil
	}
	digits := 0
	switch s[0] {
	case 'x':
		digits = 2
	case 'u':
		digits = 4
	case 'U':
		digits = 8
	}
	if digits == 0 || len(s) < 1+digits {
		return 0, bad("line %d: an unknown escape in a double-quoted value", r.line())
	}
	code, err := strconv.ParseUint(string(s[1:1+digits]), 16, 32)
	if err != nil || strings.ContainsAny(string(s[1:1+digits]), "+-_") {
		return 0, bad("line %d: an escape with a bad hexadecimal number", r.line())
	}
	if (code >= 0xD800 && code <= 0xDFFF) || code > 0x10FFFF {
		return 0, bad("line %d: an escape of an invalid Unicode character", r.line())
	}
	b.WriteRune(rune(code))
	return 1 + digits, nil
}

// literalBlock reads a literal block scalar (header is what follows the
// "|") from the lines below the name.
func (r *yamlReader) literalBlock(header []byte, name string) (string, error) {
	chomp, indent := byte(0), 0
	for len(header) > 0 && !isBlank(header[0]) {
		switch c := header[0]; {
		case (c == '-' || c == '+') && chomp == 0:
			chomp = c
		case c >= '1' && c <= '9' && indent == 0:
			indent = int(c - '0')
		default:
			return "", bad("line %d: a bad literal block header for %q; use |, |- or |+", r.line(), name)
		}
		header = header[1:]
	}
	if header = trimBlank(header); len(header) > 0 && header[0] != '#' {
		return "", bad("line %d: text after the literal block header of %q", r.line(), name)
	}
	r.n++
	if indent == 0 {
		// The block's indentation is its first non-empty line's.
		for i := r.n; i < len(r.lines); i++ {
			l := r.lines[i]
			sp := leadingSpaces(l)
			if sp < len(l) && l[sp] == '\t' {
				return "", bad("line %d: a tab where the literal block's indentation is expected", i+1)
			}
			if sp < len(l) {
				indent = sp
				break
			}
		}
	}
	var content [][]byte // the block's lines, empty ones included
	var trailing int     // empty lines after the last content line
	for ; r.n < len(r.lines); r.n++ {
		l := r.lines[r.n]
		sp := leadingSpaces(l)
		if sp == len(l) { // empty, or spaces only
			if indent > 0 && sp > indent {
				return "", bad("line %d: a line of spaces only, longer than the literal block's indentation; remove them", r.line())
			}
			trailing++
			continue
		}
		if sp < indent || indent == 0 {
			if l[sp] == '\t' && indent > 0 {
				return "", bad("line %d: a tab where the literal block's indentation is expected", r.line())
			}
			break
		}
		for ; trailing > 0; trailing-- {
			content = append(content, nil)
		}
		content = append(content, l[indent:])
	}
	v := string(bytes.Join(content, []byte("\n")))
	// Chomping: "-" drops the last content line's break and the empty
	// lines after it, the default keeps that break, "+" keeps them all.
	// A line at the very end of the input may have no break to keep.
	lastBreak := len(content) > 0 && (r.n-trailing < len(r.lines) || r.lastHasBreak)
	breaks := trailing
	if r.n == len(r.lines) && !r.lastHasBreak && trailing > 0 {
		breaks--
	}
	switch chomp {
	case '-':
	case '+':
		if lastBreak {
			v += "\n"
		}
		v += strings.Repeat("\n", breaks)
	default:
		if lastBreak {
			v += "\n"
		}
	}
	return v, nil
}

// skipBlank moves past blank lines and comment lines. It stops at one
// indented with a tab, which YAML refuses (the caller says so).
func (r *yamlReader) skipBlank() {
	for r.n < len(r.lines) {
		l := r.lines[r.n]
		t := bytes.TrimLeft(l, " \t")
		if bytes.IndexByte(l[:len(l)-len(t)], '\t') >= 0 || (len(t) > 0 && t[0] != '#') {
			return
		}
		r.n++
	}
}

// isMarker reports whether l is the document marker m ("---" or "..."),
// alone or followed by a blank.
func isMarker(l []byte, m string) bool {
	return bytes.HasPrefix(l, []byte(m)) && (len(l) == 3 || isBlank(l[3]))
}

func afterMarker(l []byte) []byte { return trimBlank(l[3:]) }

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

func trimBlank(s []byte) []byte      { return bytes.TrimLeft(trimBlankRight(s), " \t") }
func trimBlankRight(s []byte) []byte { return bytes.TrimRight(s, " \t") }

func leadingSpaces(l []byte) int {
	n := 0
	for n < len(l) && l[n] == ' ' {
		n++
	}
	return n
}
