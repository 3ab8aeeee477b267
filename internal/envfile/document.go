package envfile

import (
	"bytes"
)

// Document is a parsed .env file that remembers every byte of it. The zero
// value is an empty document. A Document is not safe for concurrent use.
type Document struct {
	segs  []*segment
	index map[string]*segment
	eol   string // line ending for new lines: the file's first one, else "\n"
	dirty bool   // line numbers in segs need recomputing
	arena []byte // see alloc
}

// Entry is one variable of a Document.
type Entry struct {
	// Name is the variable name; it matches ^[A-Za-z_][A-Za-z0-9_.]*$ and
	// is at most 256 bytes.
	Name string
	// Value is the value as godotenv reads it, quotes removed and escapes
	// processed, but not expanded: "${HOME}/x" stays as written (and a `\$`
	// stays `\$`); Expand gives the expanded form.
	Value string
	// Literal reports that the value was single-quoted: godotenv never
	// expands it. It matters only for values that Expand would change.
	Literal bool
	// Line is the 1-based line on which the entry starts.
	Line int
}

// Parse reads a .env file. It refuses (with a *SyntaxError naming the line)
// anything godotenv v1.5.1 refuses and, deliberately, a few things godotenv
// accepts but that are ambiguous or dangerous in a file of secrets: a name
// defined twice, a name outside ^[A-Za-z_][A-Za-z0-9_.]*$ or longer than 256
// bytes, text after a closing quote, invalid UTF-8 in a value, and a carriage
// return without line feed (or VT, FF, NEL, LS, PS) outside quotes.
//
// data is copied; the Document does not refer to it afterwards.
func Parse(data []byte) (*Document, error) {
	src := bytes.Clone(data)
	segs, index, err := parse(src)
	if err != nil {
		return nil, err
	}
	d := &Document{segs: segs, index: index, eol: "\n"}
	if i := bytes.IndexByte(src, '\n'); i > 0 && src[i-1] == '\r' {
		d.eol = "\r\n"
	}
	return d, nil
}

// Bytes returns the document as a file. For a Document that has not been
// changed, it is exactly the input of Parse.
func (d *Document) Bytes() []byte {
	n := 0
	for _, s := range d.segs {
		if !s.deleted {
			n += len(s.pre) + len(s.val) + len(s.post)
		}
	}
	out := make([]byte, 0, n)
	for _, s := range d.segs {
		if !s.deleted {
			out = append(out, s.pre...)
			out = append(out, s.val...)
			out = append(out, s.post...)
		}
	}
	return out
}

// Entries returns the variables in file order.
func (d *Document) Entries() []Entry {
	d.renumber()
	out := make([]Entry, 0, len(d.index))
	for _, s := range d.segs {
		if s.isEntry() && !s.deleted {
			out = append(out, s.entry())
		}
	}
	return out
}

// Names returns the variable names in file order.
func (d *Document) Names() []string {
	out := make([]string, 0, len(d.index))
	for _, s := range d.segs {
		if s.isEntry() && !s.deleted {
			out = append(out, s.name)
		}
	}
	return out
}

// Get returns the variable called name, if there is one.
func (d *Document) Get(name string) (Entry, bool) {
	s, ok := d.index[name]
	if !ok {
		return Entry{}, false
	}
	d.renumber()
	return s.entry(), true
}

// Delete removes the variable called name: every line of its entry,
// including its inline comment and line ending, and nothing else. It
// reports whether there was such a variable.
func (d *Document) Delete(name string) bool {
	s, ok := d.index[name]
	if !ok {
		return false
	}
	s.deleted = true
	delete(d.index, name)
	d.dirty = true
	return true
}

func (s *segment) entry() Entry {
	return Entry{Name: s.name, Value: s.value(), Literal: s.literal(), Line: s.line}
}

// renumber recomputes line numbers after changes.
func (d *Document) renumber() {
	if !d.dirty {
		return
	}
	line := 1
	for _, s := range d.segs {
		if s.deleted {
			continue
		}
		s.line = line
		line += bytes.Count(s.pre, []byte{'\n'}) + bytes.Count(s.val, []byte{'\n'}) + bytes.Count(s.post, []byte{'\n'})
	}
	d.dirty = false
}
