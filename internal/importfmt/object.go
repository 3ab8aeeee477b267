package importfmt

import (
	"bytes"
	"encoding/json"
	"io"

	"github.com/capy-oss/capy/internal/ident"
)

// JSON reads one JSON object of names to string values (what `capy
// export --format json` prints). Values are literal: a "${X}" in one stays
// as written, as JSON has no expansion. Anything but one flat object of
// strings (a nested value, a number, null), a name given twice, a name
// .env cannot hold, or text after the object is refused.
func JSON(raw []byte) ([]Entry, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, bad("not a JSON object")
	}
	var out []Entry
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, bad("malformed JSON")
		}
		name := t.(string) // an object's keys are strings
		var rawValue json.RawMessage
		var value string
		if dec.Decode(&rawValue) != nil || len(rawValue) == 0 || rawValue[0] != '"' || json.Unmarshal(rawValue, &value) != nil {
			return nil, bad("the value of %q is not a string", name)
		}
		if err := addEntry(&out, seen, name, value); err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, bad("malformed JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, bad("text after the JSON object")
	}
	return out, nil
}

// addEntry appends name=value (literal) after the checks both object
// formats share.
// A name is quoted only once it is known to be one: text that is not a
// name may be part of a value.
func addEntry(out *[]Entry, seen map[string]bool, name, value string) error {
	if err := ident.CheckName(name); err != nil {
		return bad("entry %d: not a variable name: %w", len(*out)+1, err)
	}
	if seen[name] {
		return bad("%q is given twice", name)
	}
	seen[name] = true
	*out = append(*out, Entry{Name: name, Value: value, Literal: true})
	return nil
}
