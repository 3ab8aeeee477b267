package importfmt

import (
	"bytes"
	"encoding/json"
	"io"
	"regexp"
	"sync"

	"github.com/capy-oss/capy/internal/ident"
	"go.yaml.in/yaml/v3"
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

// YAML reads one YAML mapping of names to scalars (what `capy export
// --format yaml` and `sops decrypt --output-type yaml` print). A scalar's
// text is taken as written (port: 5432 is "5432", debug: true is "true");
// values are literal, as in JSON. A nested mapping or list, an alias, a
// null, a name twice, or more than one document is refused: a .env holds
// flat strings only.
func YAML(raw []byte) ([]Entry, error) {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, nil // an empty file: nothing to import
		}
		return nil, bad("malformed YAML: %s", yamlReason(err))
	}
	var more yaml.Node
	if err := dec.Decode(&more); err != io.EOF {
		return nil, bad("more than one YAML document")
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, bad("not a YAML mapping")
	}
	m := doc.Content[0]
	if m.Kind == yaml.ScalarNode && m.Tag == "!!null" {
		return nil, nil
	}
	if m.Kind != yaml.MappingNode {
		return nil, bad("not a YAML mapping of names to values")
	}
	var out []Entry
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
			return nil, bad("line %d: a name must be a plain string", k.Line)
		}
		name := k.Value
		switch {
		case v.Kind == yaml.MappingNode || v.Kind == yaml.SequenceNode:
			return nil, bad("line %d: %q holds a nested value; a .env holds flat strings only: flatten it first (e.g. with yq or jq)", k.Line, name)
		case v.Kind == yaml.AliasNode:
			return nil, bad("line %d: %q is an alias (*…); write the value out", k.Line, name)
		case v.Kind != yaml.ScalarNode:
			return nil, bad("line %d: %q is not a value", k.Line, name)
		case v.Tag == "!!null":
			return nil, bad(`line %d: %q is null; write "" for an empty value`, k.Line, name)
		case v.Tag == "!!binary":
			return nil, bad("line %d: %q is binary; a .env holds text", k.Line, name)
		}
		if err := addEntry(&out, seen, name, v.Value); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// yamlLine finds the line a YAML parser's message names.
// It is compiled at first use, not at every capy's start-up.
var yamlLine = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`line (\d+)`) })

// yamlReason says where the YAML is malformed, never what the parser
// quoted: yaml.v3's messages can quote a token (`cannot unmarshal !!str
// `sk_live_…` into …`), which may be a value.
func yamlReason(err error) string {
	if m := yamlLine().FindStringSubmatch(err.Error()); m != nil {
		return "at line " + m[1]
	}
	return "the parser gave no line"
}

// addEntry appends name=value (literal) after the checks both object
// formats share.
func addEntry(out *[]Entry, seen map[string]bool, name, value string) error {
	if seen[name] {
		return bad("%q is given twice", name)
	}
	seen[name] = true
	if err := ident.CheckName(name); err != nil {
		return bad("%q: %w", name, err)
	}
	*out = append(*out, Entry{Name: name, Value: value, Literal: true})
	return nil
}
