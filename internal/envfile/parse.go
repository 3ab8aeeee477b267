package envfile

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/capy-oss/capy/internal/ident"
)

// The parser mirrors godotenv v1.5.1 (parser.go) statement by statement, but
// line by line and keeping the position of every part of an entry:
//
//	[blank] [export <space>] NAME [space] (= | :) [space] VALUE [blank] [# comment] EOL
//
// where VALUE is unquoted (up to the end of the line, minus a trailing
// "<space>#comment" and surrounding spaces), or '…' or "…" (possibly over
// several lines). "blank" is any Unicode space (godotenv's statement start),
// "space" is godotenv's isSpace. Both lose the characters that this package
// refuses outside quotes (see badBreak), which leaves space = ' ', '\t',
// U+00A0. docs/envfile.md is the prose version of this file.

// segment is a run of bytes of the document: either trivia (blank and comment
// lines, all in pre) or one entry split as pre (everything up to the value),
// val (the value as written, quotes included) and post (spaces, inline
// comment and line ending after it).
type segment struct {
	pre, val, post []byte

	name  string // "" for trivia
	quote byte   // 0 (unquoted), '"' or '\''
	// text is an unquoted value as a string when one is at hand (a slice
	// of the parser's one string copy of the file, or the string Set was
	// given), so that reading it copies nothing; "" otherwise.
	text    string
	line    int // first line of the segment, 1-based
	deleted bool
}

func (s *segment) isEntry() bool { return s.name != "" }

// literal reports whether the value is single-quoted.
func (s *segment) literal() bool { return s.quote == '\'' }

// value is Entry.Value, computed from the value as written (the parser has
// checked it).
func (s *segment) value() string {
	if s.quote == 0 {
		if s.text != "" || len(s.val) == 0 {
			return s.text
		}
		return string(s.val)
	}
	return quotedValue(s.val[1:len(s.val)-1], s.quote)
}

// hasValue reports whether s.value() == v.
func (s *segment) hasValue(v string) bool {
	if s.quote == 0 {
		return string(s.val) == v
	}
	return s.value() == v
}

type parser struct {
	src  []byte
	text string // src as a string, made on first use: names are cut from it
	line int    // line of the position being parsed
}

var bom = []byte("\uFEFF")

// parse splits src into segments and indexes the entries by name. src must
// not be modified afterwards.
func parse(src []byte) ([]*segment, map[string]*segment, error) {
	p := parser{src: src, line: 1}
	if bytes.HasPrefix(src, bom) {
		return nil, nil, p.errorf(kindSyntax, 0, "the file starts with a byte order mark (BOM); save it as UTF-8 without BOM")
	}
	// Every segment holds at least one line, so one slab of that many
	// segments is enough (and saves an allocation per segment).
	lines := bytes.Count(src, []byte{'\n'}) + 1
	slab := make([]segment, lines)
	newSeg := func() *segment {
		if len(slab) == 0 { // cannot happen; be safe anyway
			return new(segment)
		}
		s := &slab[0]
		slab = slab[1:]
		return s
	}
	segs := make([]*segment, 0, lines)
	index := make(map[string]*segment, lines)
	trivia, triviaLine := -1, 0 // start of the pending run of trivia lines
	pos := 0
	for pos < len(src) {
		i, err := p.skipBlank(pos)
		if err != nil {
			return nil, nil, err
		}
		ce, next := p.lineEnd(i)
		if i == ce || src[i] == '#' {
			if err := p.checkBreaks(i, ce); err != nil {
				return nil, nil, err
			}
			if trivia < 0 {
				trivia, triviaLine = pos, p.line
			}
			if next > ce {
				p.line++
			}
			pos = next
			continue
		}
		if trivia >= 0 {
			s := newSeg()
			s.pre, s.line = src[trivia:pos], triviaLine
			segs = append(segs, s)
			trivia = -1
		}
		seg := newSeg()
		next, err = p.entry(seg, pos, i)
		if err != nil {
			return nil, nil, err
		}
		if first, dup := index[seg.name]; dup {
			return nil, nil, p.errorf(kindDuplicate, i, "%s is already defined on line %d; remove one of the two", seg.name, first.line)
		}
		index[seg.name] = seg
		segs = append(segs, seg)
		pos = next
	}
	if trivia >= 0 {
		s := newSeg()
		s.pre, s.line = src[trivia:], triviaLine
		segs = append(segs, s)
	}
	return segs, index, nil
}

// parseOne parses buf as exactly one entry (used to check a rewritten entry).
func parseOne(buf []byte) (*segment, bool) {
	p := parser{src: buf, line: 1}
	i, err := p.skipBlank(0)
	if err != nil || i >= len(buf) || buf[i] == '#' || buf[i] == '\n' || buf[i] == '\r' {
		return nil, false
	}
	seg := new(segment)
	next, err := p.entry(seg, 0, i)
	if err != nil || next != len(buf) {
		return nil, false
	}
	return seg, true
}

// entry parses into seg the entry whose line starts at lineStart and whose
// first non-blank byte is at i. It returns the start of the next line after
// the entry.
func (p *parser) entry(seg *segment, lineStart, i int) (int, error) {
	src := p.src
	line := p.line
	if bytes.HasPrefix(src[i:], []byte("export")) {
		// godotenv drops "export" when a space follows it.
		j := i + len("export")
		if n, err := p.spaceLen(j); err != nil {
			return 0, err
		} else if n > 0 {
			if i, err = p.skipSpace(j); err != nil {
				return 0, err
			}
		}
	}
	nameStart := i
	for i < len(src) && isNameByte(src[i]) {
		i++
	}
	nameEnd := i
	i, err := p.skipSpace(i)
	if err != nil {
		return 0, err
	}
	if i >= len(src) || (src[i] != '=' && src[i] != ':') {
		if i >= len(src) || src[i] == '\n' || src[i] == '\r' {
			return 0, p.errorf(kindName, nameStart, "expected NAME=VALUE")
		}
		return 0, p.errorf(kindName, nameStart, "invalid variable name (use letters, digits, '_' and '.', not starting with a digit or '.')")
	}
	if p.text == "" {
		p.text = string(src) // one copy for all names, not one per name
	}
	name := p.text[nameStart:nameEnd]
	if err := checkName(name); err != "" {
		return 0, p.errorf(kindName, nameStart, "%s", err)
	}
	valStart, err := p.skipSpace(i + 1)
	if err != nil {
		return 0, err
	}

	seg.name, seg.line = name, line
	var valEnd, next int
	if valStart < len(src) && (src[valStart] == '"' || src[valStart] == '\'') {
		q := src[valStart]
		// godotenv: the value ends at the first quote not preceded by a
		// backslash (so `\\"` does not end it either).
		k := valStart + 1
		for k < len(src) && (src[k] != q || src[k-1] == '\\') {
			k++
		}
		if k >= len(src) {
			what := "double"
			if q == '\'' {
				what = "single"
			}
			return 0, p.errorf(kindUnterminated, valStart, "unterminated %s-quoted value", what)
		}
		content := src[valStart+1 : k]
		if !utf8.Valid(content) {
			return 0, p.errorf(kindUTF8, valStart, "the value is not valid UTF-8")
		}
		p.line += bytes.Count(content, []byte{'\n'})
		seg.quote = q
		valEnd = k + 1
		// After the closing quote only blanks and a comment may follow;
		// godotenv would start another statement here.
		j, err := p.skipBlank(valEnd)
		if err != nil {
			return 0, err
		}
		var ce int
		ce, next = p.lineEnd(j)
		if j < ce && src[j] != '#' {
			return 0, p.errorf(kindAfterQuote, j, "unexpected text after the closing quote (put one NAME=VALUE per line; comments start with #)")
		}
		if err := p.checkBreaks(j, ce); err != nil {
			return 0, err
		}
	} else {
		var ce int
		ce, next = p.lineEnd(valStart)
		if err := p.checkBreaks(valStart, ce); err != nil {
			return 0, err
		}
		// godotenv: the value ends at the last '#' preceded by a space (a
		// '#' right at the start of the value does not count), then spaces
		// are trimmed.
		end := ce
		for k := ce - 1; k > valStart; k-- {
			if src[k] == '#' {
				if r, _ := utf8.DecodeLastRune(src[valStart:k]); isSpace(r) {
					end = k
					break
				}
			}
		}
		for end > valStart {
			r, n := utf8.DecodeLastRune(src[valStart:end])
			if !isSpace(r) {
				break
			}
			end -= n
		}
		if !utf8.Valid(src[valStart:end]) {
			return 0, p.errorf(kindUTF8, valStart, "the value is not valid UTF-8")
		}
		valEnd = end
	}
	if next > valEnd && src[next-1] == '\n' {
		p.line++
	}
	seg.pre, seg.val, seg.post = src[lineStart:valStart], src[valStart:valEnd], src[valEnd:next]
	if seg.quote == 0 {
		seg.text = p.text[valStart:valEnd]
	}
	return next, nil
}

// quotedValue is godotenv's reading of the text between the quotes.
func quotedValue(content []byte, q byte) string {
	s := string(content)
	if strings.Contains(s, "\r\n") {
		s = strings.ReplaceAll(s, "\r\n", "\n") // godotenv normalises CRLF first
	}
	// godotenv trims quote characters off the end of the content: "a\""
	// reads as `a\`.
	s = strings.TrimRight(s, string(q))
	if q == '"' {
		s = unescapeDouble(s)
	}
	return s
}

// unescapeDouble performs godotenv's two escape passes for double-quoted
// values in one: `\n` and `\r` become LF and CR; `\$` stays as it is (Expand
// turns it into a literal '$'); a backslash before any other character
// (including a line break) is dropped; a final lone backslash stays.
func unescapeDouble(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		switch n := s[i+1]; n {
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case '$':
			b.WriteString(`\$`)
		default:
			b.WriteByte(n)
		}
		i++
	}
	return b.String()
}

// checkNameString is ident.CheckName without the regular expression (Set
// calls it for every variable); a test checks that they agree.
func checkNameString(name string) error {
	for i := 0; i < len(name); i++ {
		if !isNameByte(name[i]) {
			return fmt.Errorf("%w: use letters, digits, '_' and '.', not starting with a digit or '.'", ident.ErrBadName)
		}
	}
	if msg := checkName(name); msg != "" {
		return fmt.Errorf("%w: %s", ident.ErrBadName, msg)
	}
	return nil
}

// checkName validates a variable name made of name bytes and returns the
// problem, or "".
func checkName(name string) string {
	switch {
	case len(name) == 0:
		return "missing variable name before '='"
	case len(name) > ident.MaxNameLen:
		return fmt.Sprintf("variable name longer than %d bytes", ident.MaxNameLen)
	case name[0] == '.' || ('0' <= name[0] && name[0] <= '9'):
		return "invalid variable name (it must not start with a digit or '.')"
	}
	return ""
}

func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.'
}

// isSpace is godotenv's isSpace without the characters refused outside quotes.
func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == 0xA0 }

// lineEnd returns the end of the content of the line containing i (before
// "\n" or "\r\n") and the start of the next line.
func (p *parser) lineEnd(i int) (contentEnd, next int) {
	n := bytes.IndexByte(p.src[i:], '\n')
	if n < 0 {
		return len(p.src), len(p.src)
	}
	e := i + n
	if e > i && p.src[e-1] == '\r' {
		return e - 1, e + 1
	}
	return e, e + 1
}

// badBreak reports a character at src[i] that some editor, terminal or
// parser treats as a line break while godotenv does not: CR not followed by
// LF, VT, FF, NEL, LS and PS. Outside quotes they could hide text (a
// "# comment\rAPI_KEY=…" line shows the assignment but is a comment), so the
// file is refused. It returns the character and its length, or 0, 0.
func badBreak(src []byte, i int) (rune, int) {
	switch src[i] {
	case '\r':
		if i+1 < len(src) && src[i+1] == '\n' {
			return 0, 0
		}
		return '\r', 1
	case '\v', '\f':
		return rune(src[i]), 1
	case 0xC2:
		if i+1 < len(src) && src[i+1] == 0x85 {
			return 0x85, 2
		}
	case 0xE2:
		if i+2 < len(src) && src[i+1] == 0x80 && (src[i+2] == 0xA8 || src[i+2] == 0xA9) {
			return 0x2000 | rune(src[i+2]&0x3F), 3
		}
	}
	return 0, 0
}

func (p *parser) breakError(i int, r rune) error {
	if r == '\r' {
		return p.errorf(kindLineBreak, i, "carriage return not followed by a line feed (use LF or CRLF line endings)")
	}
	return p.errorf(kindLineBreak, i, "unusual line break character U+%04X outside quotes", r)
}

// checkBreaks refuses the characters badBreak reports in src[i:end].
func (p *parser) checkBreaks(i, end int) error {
	for ; i < end; i++ {
		switch p.src[i] {
		case '\r', '\v', '\f', 0xC2, 0xE2:
			if r, _ := badBreak(p.src, i); r != 0 {
				return p.breakError(i, r)
			}
		}
	}
	return nil
}

// skipBlank skips Unicode spaces other than line breaks, as godotenv does
// before a statement and after a closing quote.
func (p *parser) skipBlank(i int) (int, error) {
	src := p.src
	for i < len(src) {
		c := src[i]
		if c == ' ' || c == '\t' {
			i++
			continue
		}
		if r, _ := badBreak(src, i); r != 0 {
			return 0, p.breakError(i, r)
		}
		if c < utf8.RuneSelf {
			return i, nil
		}
		r, n := utf8.DecodeRune(src[i:])
		if !unicode.IsSpace(r) {
			return i, nil
		}
		i += n
	}
	return i, nil
}

// spaceLen returns the length of the isSpace character at src[i], or 0.
func (p *parser) spaceLen(i int) (int, error) {
	if i >= len(p.src) {
		return 0, nil
	}
	if r, _ := badBreak(p.src, i); r != 0 {
		return 0, p.breakError(i, r)
	}
	switch p.src[i] {
	case ' ', '\t':
		return 1, nil
	case 0xC2:
		if i+1 < len(p.src) && p.src[i+1] == 0xA0 {
			return 2, nil
		}
	}
	return 0, nil
}

// skipSpace skips isSpace characters.
func (p *parser) skipSpace(i int) (int, error) {
	for {
		n, err := p.spaceLen(i)
		if err != nil {
			return 0, err
		}
		if n == 0 {
			return i, nil
		}
		i += n
	}
}

// errorf builds a SyntaxError at byte offset off of p.src.
func (p *parser) errorf(kind errKind, off int, format string, args ...any) error {
	line := 1 + bytes.Count(p.src[:off], []byte{'\n'})
	return &SyntaxError{Line: line, Msg: fmt.Sprintf(format, args...), kind: kind, off: off}
}
