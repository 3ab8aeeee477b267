package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/capy-oss/capy/internal/api"
)

// maxJSONDepth is the deepest nesting a request body may have (docs/api.md
// §1.5); the top-level object is depth 1.
const maxJSONDepth = 4

// decodeError is a request body that does not fit: malformed JSON (the
// shape) or an invalid field (a member's name, presence or type).
type decodeError struct {
	slug   api.ProblemType // api.PMalformedJSON or api.PInvalidField
	field  string          // for invalid-field
	detail string          // fixed text
}

func (e *decodeError) Error() string { return string(e.slug) + ": " + e.detail }

func malformed(detail string) *decodeError {
	return &decodeError{slug: api.PMalformedJSON, detail: detail}
}

func invalidField(field, detail string) *decodeError {
	return &decodeError{slug: api.PInvalidField, field: field, detail: detail}
}

// decodeStrict decodes data, which must be exactly one JSON object, into
// the struct that v points to, as docs/api.md §1.5 requires and
// encoding/json alone does not: valid UTF-8, no trailing data, nesting
// depth at most maxJSONDepth, no duplicate member names at any depth, and
// only the members the struct defines, matched exactly (case-sensitive) by
// their json tags. A token pass checks the shape before anything is
// decoded; then each member is decoded on its own, so a type error names
// its field. It returns the names of the members that were present and
// not null; required members are the caller's check (see require).
func decodeStrict(data []byte, v any) (present map[string]bool, err error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		panic("decodeStrict: want a pointer to a struct")
	}
	fields := jsonFields(rv.Elem().Type())
	if !utf8.Valid(data) || loneSurrogate(data) {
		return nil, malformed("the body is not valid UTF-8")
	}
	members, err := scanObject(data)
	if err != nil {
		return nil, err
	}
	present = map[string]bool{}
	for _, m := range members {
		idx, ok := fields[m.name]
		if !ok {
			return nil, invalidField(m.name, "the route does not define this member")
		}
		if string(m.raw) == "null" {
			continue // null is the same as absent
		}
		f := rv.Elem().FieldByIndex(idx)
		if m.str != nil && f.Type() == stringType {
			// Already decoded by the token pass (a push's 100 KB text
			// would otherwise be scanned and unquoted a second time).
			f.SetString(*m.str)
			present[m.name] = true
			continue
		}
		if err := json.Unmarshal(m.raw, f.Addr().Interface()); err != nil {
			return nil, invalidField(m.name, "the value has the wrong type or form")
		}
		present[m.name] = true
	}
	return present, nil
}

// stringType is plain string: only its fields take the decoded token as it
// is (a named string type may validate itself in UnmarshalJSON).
var stringType = reflect.TypeOf("")

// member is one top-level member of the body, its value still raw (and,
// for a string, also decoded).
type member struct {
	name string
	raw  json.RawMessage
	str  *string
}

// scanObject runs the token pass — exactly one object, nothing after it,
// depth ≤ maxJSONDepth, no name twice in any object — and then returns the
// top-level members in the order they appear, with their raw values.
func scanObject(data []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, malformed("the body is not a JSON object")
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, malformed("the body is not a JSON object")
	}
	// One frame per open object or array; an object frame keeps the names
	// seen so far (nil for arrays).
	stack := []map[string]bool{{}}
	var (
		out   []member
		start int64 // where the current top-level value's text begins
	)
	// raw is the text of the top-level value that ends at the decoder's
	// position: what follows the name, less the colon and white space.
	raw := func() json.RawMessage {
		return bytes.TrimLeft(data[start:dec.InputOffset()], " \t\r\n:")
	}
	for len(stack) > 0 {
		top := stack[len(stack)-1]
		if top != nil {
			// In an object: a name or the end.
			tok, err := dec.Token()
			if err != nil {
				return nil, malformed("the body is not valid JSON")
			}
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				if len(stack) == 1 {
					out[len(out)-1].raw = raw() // a top-level object value ended
				}
				continue
			}
			k, ok := tok.(string)
			if !ok {
				return nil, malformed("the body is not valid JSON")
			}
			if top[k] {
				return nil, malformed("a member name appears twice")
			}
			top[k] = true
			if len(stack) == 1 {
				out = append(out, member{name: k})
				start = dec.InputOffset()
			}
		}
		// A value (after a name, or the next element of an array), or the
		// end of an array.
		tok, err := dec.Token()
		if err != nil {
			return nil, malformed("the body is not valid JSON")
		}
		d, ok := tok.(json.Delim)
		if !ok {
			// A scalar.
			if len(stack) == 1 {
				m := &out[len(out)-1]
				m.raw = raw()
				if str, ok := tok.(string); ok {
					m.str = &str
				}
			}
			continue
		}
		switch d {
		case '{', '[':
			if len(stack)+1 > maxJSONDepth {
				return nil, malformed("the body is nested too deeply")
			}
			if d == '{' {
				stack = append(stack, map[string]bool{})
			} else {
				stack = append(stack, nil)
			}
		case ']':
			if top != nil {
				return nil, malformed("the body is not valid JSON")
			}
			stack = stack[:len(stack)-1]
			if len(stack) == 1 {
				out[len(out)-1].raw = raw() // a top-level array value ended
			}
		default:
			return nil, malformed("the body is not valid JSON")
		}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, malformed("the body has data after the JSON object")
	}
	return out, nil
}

// jsonFields maps the json names of a struct's exported fields to their
// indexes. Embedded structs are not used in request types.
func jsonFields(t reflect.Type) map[string][]int {
	out := map[string][]int{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Index
	}
	return out
}

// require returns an invalid-field error naming the first of names that
// is not in present.
func require(present map[string]bool, names ...string) error {
	for _, n := range names {
		if !present[n] {
			return invalidField(n, "this member is required")
		}
	}
	return nil
}

// loneSurrogate reports whether a string in data has a \u escape of a
// UTF-16 surrogate that is not part of a pair: encoding/json would decode
// it silently to U+FFFD, which is invalid UTF-8 in disguise. It looks only
// inside strings; the token pass checks the rest of the syntax.
func loneSurrogate(data []byte) bool {
	in := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if !in {
			in = c == '"'
			continue
		}
		switch c {
		case '"':
			in = false
		case '\\':
			if i+1 >= len(data) {
				return false // truncated: a syntax error for the token pass
			}
			if data[i+1] != 'u' {
				i++
				continue
			}
			r, ok := hex4(data, i+2)
			if !ok {
				return false // a syntax error for the token pass
			}
			i += 5
			switch {
			case r >= 0xdc00 && r <= 0xdfff:
				return true // a low surrogate first
			case r >= 0xd800 && r <= 0xdbff:
				if i+6 >= len(data) || data[i+1] != '\\' || data[i+2] != 'u' {
					return true
				}
				lo, ok := hex4(data, i+3)
				if !ok || lo < 0xdc00 || lo > 0xdfff {
					return true
				}
				i += 6
			}
		}
	}
	return false
}

// hex4 reads four hex digits at data[i:].
func hex4(data []byte, i int) (rune, bool) {
	if i+4 > len(data) {
		return 0, false
	}
	var r rune
	for _, c := range data[i : i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c-'a') + 10
		case c >= 'A' && c <= 'F':
			r |= rune(c-'A') + 10
		default:
			return 0, false
		}
	}
	return r, true
}
