package envfile

import (
	"bytes"
	"fmt"
	"strings"
)

// Comment returns the inline comment of the variable called name: the text
// after the '#' that follows its value on the value's last line, spaces
// trimmed ("" when there is none). It is how a line carries a mark such as
// `# capy:allow` (the leak scan's allow list).
func (d *Document) Comment(name string) string {
	s, ok := d.index[name]
	if !ok {
		return ""
	}
	return inlineComment(s.post)
}

// inlineComment reads the comment out of an entry's post: blanks, an
// optional `#comment`, the line ending.
func inlineComment(post []byte) string {
	t := strings.TrimRight(string(post), "\r\n")
	t = strings.TrimLeft(t, " \t\u00a0")
	if !strings.HasPrefix(t, "#") {
		return ""
	}
	return strings.Trim(t[1:], " \t\u00a0")
}

// SetComment gives the variable called name the inline comment text
// (written as " # text" after the value, before the line ending), or
// removes it when text is empty. The value and everything before it stay.
// It fails for a name the document does not hold, a text with a line
// break, and a comment the value cannot carry unchanged (an unquoted empty
// value: `K= # c` reads as the value "# c"; Set a quoted "" first).
func (d *Document) SetComment(name, text string) error {
	s, ok := d.index[name]
	if !ok {
		return fmt.Errorf("no variable %s", name)
	}
	if strings.ContainsAny(text, "\r\n\v\f\u0085\u2028\u2029") {
		return fmt.Errorf("the comment for %s has a line break", name)
	}
	eol := s.post[len(bytes.TrimRight(s.post, "\r\n")):]
	post := []byte(nil)
	if text != "" {
		post = append(post, " # "+text...)
	}
	post = append(post, eol...)
	seg, ok := parseOne(cat(s.pre, s.val, post))
	if !ok || seg.name != name || seg.value() != s.value() || inlineComment(seg.post) != text {
		return fmt.Errorf("the comment for %s cannot follow its value as written", name)
	}
	s.post = post
	d.dirty = true
	return nil
}

// DropCommentLines removes every whole comment line (a line that holds
// only a `#comment`) whose text, after the '#' with spaces trimmed, drop
// reports; blank lines, other comments and every variable stay as they
// are. Inline comments are not comment lines (see Comment, SetComment).
func (d *Document) DropCommentLines(drop func(text string) bool) {
	for _, s := range d.segs {
		if s.isEntry() || s.deleted || len(s.pre) == 0 {
			continue
		}
		var kept []byte
		changed := false
		for rest := s.pre; len(rest) > 0; {
			n := bytes.IndexByte(rest, '\n') + 1
			if n == 0 {
				n = len(rest)
			}
			line := rest[:n]
			rest = rest[n:]
			t := strings.TrimLeft(strings.TrimRight(string(line), "\r\n"), " \t\u00a0")
			if strings.HasPrefix(t, "#") && drop(strings.Trim(t[1:], " \t\u00a0")) {
				changed = true
				continue
			}
			kept = append(kept, line...)
		}
		if changed {
			s.pre = kept
			d.dirty = true
		}
	}
}
