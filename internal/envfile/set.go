package envfile

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Set gives the variable name the value value and writes it into the
// document:
//
//   - If name exists, only the bytes of its value change: the indentation,
//     export prefix, spacing around '=', inline comment and line ending stay,
//     and so does the quoting when it can still express the new value.
//   - Otherwise "name=value" is appended on a new line that uses the file's
//     line ending; if the file did not end with a line break, one is added
//     first.
//
// literal says how value is meant, as in Entry: when true the value must
// never be expanded, so godotenv reads back exactly value; when false it may
// contain ${VAR} references that Expand will resolve. Set picks the
// simplest writing that parses back (here and in godotenv) to that meaning:
// the entry's current quoting if it can express the value, else unquoted
// when safe, otherwise double-quoted with escapes, otherwise single-quoted
// (single quotes first for a new literal value). A capy: snippet fits in any
// quoting, so setting one changes only the value text.
//
// After Set, Get(name) returns Value == value, and Literal == literal unless
// the value contains nothing that expansion would change (then either flag
// means the same). The one exception: a literal value with '$' references
// that cannot be single-quoted (it contains a single quote) is written
// double-quoted with every '$' escaped, so Get returns it with `\$` in place
// of '$' and Literal false; Expand still gives exactly value.
//
// Set fails for a name that is not a valid variable name, and with
// ErrUnrepresentable for a value no .env syntax can express with the
// requested meaning (such as one that is not valid UTF-8).
func (d *Document) Set(name, value string, literal bool) error {
	if err := checkNameString(name); err != nil {
		return err
	}
	if d.index == nil { // zero Document
		d.index, d.eol = make(map[string]*segment), "\n"
	}
	if plain(value) {
		d.setPlain(name, value, literal)
		return nil
	}
	return d.setAny(name, value, literal)
}

// setAny is Set for any value: it tries the possible writings and keeps the
// first that parses back right.
func (d *Document) setAny(name, value string, literal bool) error {
	if !utf8.ValidString(value) {
		return fmt.Errorf("%w: the value is not valid UTF-8", ErrUnrepresentable)
	}
	old := d.index[name]
	w := writer{name: name, eol: d.eol}
	if old != nil {
		w.pre, w.post, w.quote, w.existing = old.pre, old.post, old.quote, true
		w.multiline = bytes.IndexByte(old.val, '\n') >= 0
	} else {
		w.pre, w.post = []byte(name+"="), []byte(d.eol)
	}
	seg := w.choose(value, literal)
	if seg == nil && literal && !inert(value) {
		seg = w.choose(escapeDollar(value), false)
	}
	if seg == nil {
		return ErrUnrepresentable
	}
	d.put(old, seg)
	return nil
}

// put stores seg (a parsed entry) in place of old, or appends it if old is
// nil.
func (d *Document) put(old, seg *segment) {
	d.dirty = true
	if old != nil {
		old.pre, old.val, old.post, old.quote, old.text = seg.pre, seg.val, seg.post, seg.quote, seg.text
		return
	}
	if last := d.last(); last != nil && !last.endsWithNewline() {
		if len(last.post) > 0 || last.isEntry() {
			last.post = cat(last.post, []byte(d.eol))
		} else {
			last.pre = cat(last.pre, []byte(d.eol))
		}
	}
	d.segs = append(d.segs, seg)
	d.index[seg.name] = seg
}

// plain reports whether value consists only of characters that mean
// themselves in every quoting and need no quotes: the characters of capy:
// snippets (base32, base64url, ':') and a few more. Such values are the
// common case and take a fast path in Set.
func plain(value string) bool {
	if value == "" {
		return false
	}
	for i := 0; i < len(value); i++ {
		if !plainByte[value[i]] {
			return false
		}
	}
	return true
}

var plainByte = func() (t [256]bool) {
	for _, c := range []byte("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:_-./+=") {
		t[c] = true
	}
	return t
}()

// setPlain is Set for a plain value: it is written in the entry's current
// quoting (or, for a new entry, single-quoted if literal, else unquoted),
// which is what setAny would pick; a test checks that they agree.
func (d *Document) setPlain(name, value string, literal bool) {
	seg := d.index[name]
	if seg == nil {
		seg = &segment{name: name, pre: []byte(name + "="), post: []byte(d.eol)}
		if literal {
			seg.quote = '\''
		}
		d.put(nil, seg)
	}
	seg.text = ""
	if q := seg.quote; q == 0 {
		seg.val = d.alloc(len(value))
		copy(seg.val, value)
		seg.text = value
	} else {
		seg.val = d.alloc(len(value) + 2)
		seg.val[0], seg.val[len(value)+1] = q, q
		copy(seg.val[1:], value)
	}
	d.dirty = true
}

// alloc returns n bytes carved from a shared buffer (values written by Set
// are small and many). The slice's capacity is n, so appending to it copies.
func (d *Document) alloc(n int) []byte {
	if cap(d.arena)-len(d.arena) < n {
		d.arena = make([]byte, 0, max(n, 256, min(2*cap(d.arena), 64<<10)))
	}
	start := len(d.arena)
	d.arena = d.arena[:start+n]
	return d.arena[start : start+n : start+n]
}

// writer tries the ways of writing a value into one entry.
type writer struct {
	name      string
	pre, post []byte // the entry's bytes around the value
	quote     byte   // the entry's current quoting, if existing
	existing  bool
	multiline bool   // the current value spans lines: keep line breaks raw
	eol       string // the document's line ending
}

// choose returns the first writing (as a parsed segment) that reads back as
// value with the given literal flag, trying the entry's current quoting
// first; failing that, the first one that reads back as value when the flag
// does not matter (inert values). nil if none does.
func (w *writer) choose(value string, literal bool) *segment {
	order := []byte{0, '"', '\''}
	if literal {
		order = []byte{'\'', 0, '"'}
	}
	if w.existing {
		order = append([]byte{w.quote}, bytes.ReplaceAll(order, []byte{w.quote}, nil)...)
	}
	order = append(order, sentinel)
	flagFree := inert(value)
	var fallback *segment
	for i, q := range order {
		for _, c := range w.candidates(q, value) {
			seg, ok := parseOne(cat(w.pre, c.val, c.post))
			if !ok || seg.name != w.name || !seg.hasValue(value) {
				continue
			}
			if seg.literal() == literal || (flagFree && w.existing && i == 0) {
				return seg
			}
			if flagFree && fallback == nil {
				fallback = seg
			}
		}
	}
	return fallback
}

type candidate struct{ val, post []byte }

// candidates lists the writings of value in quoting q (0, '"', '\” or
// sentinel), best first. Not all of them are valid: choose parses each one
// back.
func (w *writer) candidates(q byte, value string) []candidate {
	switch q {
	case '"':
		return []candidate{{encodeDouble(value, w.multiline, w.eol), w.post}}
	case '\'':
		return []candidate{{encodeSingle(value, w.eol), w.post}}
	}
	if strings.ContainsAny(value, "\r\n") {
		return nil
	}
	v := []byte(value)
	if q == sentinel {
		// A value containing " #" needs a comment after it, so that the
		// value ends at the last " #": add an empty one (last resort).
		return []candidate{{v, cat([]byte(" #"), w.post)}}
	}
	out := []candidate{{v, w.post}}
	if bytes.HasPrefix(w.post, []byte("#")) {
		// the comment after a closing quote needs a space once unquoted
		out = append(out, candidate{v, cat([]byte(" "), w.post)})
	}
	return out
}

// sentinel is the pseudo-quoting "unquoted, followed by an empty comment".
const sentinel = 's'

// encodeDouble writes value double-quoted so that godotenv's unescaping gives
// it back. godotenv ends a double-quoted value at the first '"' not preceded
// by a backslash and then trims '"' off the end of what it read, so a value
// ending in a backslash is written with an extra `"` that the trim removes.
// Line breaks are escaped, or written raw (with the file's line ending) when
// the value already spanned lines. A value ending in '"' cannot be written
// double-quoted at all (the trim would eat it).
func encodeDouble(value string, rawNewlines bool, eol string) []byte {
	body, endsInBackslash := value, strings.HasSuffix(value, `\`)
	if endsInBackslash {
		body = value[:len(value)-1]
	}
	b := make([]byte, 0, len(value)+8)
	b = append(b, '"')
	for i := 0; i < len(body); i++ {
		switch c := body[i]; c {
		case '\\':
			b = append(b, `\\`...)
		case '"':
			b = append(b, `\"`...)
		case '\r':
			b = append(b, `\r`...)
		case '\n':
			if rawNewlines {
				b = append(b, eol...)
			} else {
				b = append(b, `\n`...)
			}
		default:
			b = append(b, c)
		}
	}
	if endsInBackslash {
		b = append(b, `\"`...)
	}
	return append(b, '"')
}

// encodeSingle writes value single-quoted. Single-quoted values have no
// escapes; a quote inside must follow a backslash and one at the end cannot
// be written, and (as for double quotes) a final backslash needs an extra
// quote. Line breaks use the file's line ending (a value's own CR LF is
// written so that it survives godotenv's CRLF-to-LF conversion).
func encodeSingle(value string, eol string) []byte {
	b := make([]byte, 0, len(value)+4)
	b = append(b, '\'')
	switch {
	case eol != "\n":
		b = append(b, strings.ReplaceAll(value, "\n", eol)...)
	case strings.Contains(value, "\r\n"):
		// godotenv turns CRLF into LF before reading: write CR CR LF to get
		// CR LF back.
		b = append(b, strings.ReplaceAll(value, "\r\n", "\r\r\n")...)
	default:
		b = append(b, value...)
	}
	if strings.HasSuffix(value, `\`) {
		b = append(b, '\'')
	}
	return append(b, '\'')
}

// inert reports whether expansion leaves value unchanged whatever the
// variables hold, so that it means the same whether literal or not.
func inert(value string) bool {
	for i := 0; i < len(value); i++ {
		if value[i] != '$' {
			continue
		}
		if i > 0 && value[i-1] == '\\' {
			return false
		}
		if _, n := refName(value, i); n > 0 {
			return false
		}
	}
	return true
}

// escapeDollar returns a non-literal value that expands to value exactly.
func escapeDollar(value string) string { return strings.ReplaceAll(value, "$", `\$`) }

func (d *Document) last() *segment {
	for i := len(d.segs) - 1; i >= 0; i-- {
		if !d.segs[i].deleted {
			return d.segs[i]
		}
	}
	return nil
}

func (s *segment) endsWithNewline() bool {
	for _, b := range [][]byte{s.post, s.val, s.pre} {
		if len(b) > 0 {
			return b[len(b)-1] == '\n'
		}
	}
	return true
}

// cat concatenates into a new slice (never into the spare capacity of the
// first part, which may be shared with other segments).
func cat(parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
