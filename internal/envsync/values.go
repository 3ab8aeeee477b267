package envsync

import "github.com/capy-oss/capy/internal/keys"

// Var is one decrypted value as `capy run`, get and export give it, in
// file order. The loader (package load) reads the same list, so that a
// program using it sees what `capy run` would have given it.
type Var struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	Literal bool   `json:"literal"`
	// Local: the value comes from the environment's local file (the
	// personal layer), not from the shared one.
	Local bool `json:"local,omitempty"`
}

// FileVars lists the values of a read environment file in file order.
func FileVars(lf *LocalFile) []Var {
	// Names, not Entries: the values are in lf.Side already, and Entries
	// would copy each snippet's text again (1 MB at 10,000 variables).
	names := lf.Doc.Names()
	var out []Var // nil when the file has none
	if len(names) > 0 {
		out = make([]Var, 0, len(names))
	}
	for _, name := range names {
		v := lf.Side.Values[name]
		out = append(out, Var{Name: name, Value: v.Text, Literal: v.Literal})
	}
	return out
}

// Overlay returns vars with the local file's values over them: a name in
// both takes the local value (Local set), a name only in the local file
// is added after the others, in its order. A nil layer changes nothing.
func Overlay(vars []Var, layer *LocalFile) []Var {
	if layer == nil {
		return vars
	}
	at := make(map[string]int, len(vars))
	for i, v := range vars {
		at[v.Name] = i
	}
	for _, e := range layer.Doc.Entries() {
		lv := layer.Side.Values[e.Name]
		v := Var{Name: e.Name, Value: lv.Text, Literal: lv.Literal, Local: true}
		if i, ok := at[e.Name]; ok {
			vars[i] = v
			continue
		}
		at[e.Name] = len(vars)
		vars = append(vars, v)
	}
	return vars
}

// ReadEnv reads an environment's file and its local layer (the personal
// file, which may be missing: layer is then nil) with c, and returns the
// values `capy run` gives from the checkout: the file's, with the layer's
// over them. Snippets open under c (each bound to its name), sealed
// values (capy:age:) with c's age identity, and plaintext is taken as it
// is (shared.Plaintext and layer.Plaintext name it: capy seals it on the
// next command that writes). A missing environment file is
// shared.Exists false and no values.
func ReadEnv(file, localFile File, c *keys.EnvCipher) (vars []Var, shared, layer *LocalFile, err error) {
	return ParseEnv(file, localFile).Open(c)
}

// EnvFiles are an environment's file and local layer read and parsed
// (ParseFile): what ReadEnv does before it needs the key.
type EnvFiles struct {
	Shared, Layer ParsedFile
}

// ParseEnv reads and parses the environment's file and its local layer.
// A member's `capy run` calls it while the unlock is in flight, so the
// reading and parsing (about a third of a millisecond at 100 variables,
// more at 1,000) overlap the round trip; what it finds, errors included,
// is only acted on in Open, after the unlock, as ReadEnv would.
func ParseEnv(file, localFile File) EnvFiles {
	return EnvFiles{Shared: ParseFile(file), Layer: ParseFile(localFile)}
}

// Open finishes ReadEnv with c.
func (ef EnvFiles) Open(c *keys.EnvCipher) (vars []Var, shared, layer *LocalFile, err error) {
	if shared, err = ef.Shared.Open(c); err != nil {
		return nil, nil, nil, err
	}
	if !shared.Exists {
		return nil, shared, nil, nil
	}
	if layer, err = ef.Layer.Open(c); err != nil {
		return nil, nil, nil, err
	}
	if !layer.Exists {
		layer = nil
	}
	return Overlay(FileVars(shared), layer), shared, layer, nil
}
