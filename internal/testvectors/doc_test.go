package testvectors

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestProtocolDocMatchesVectors keeps the vector table in docs/protocol.md
// equal to vectors.json, so readers of the spec see the tested values.
func TestProtocolDocMatchesVectors(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(Dir(), "..", "..", "docs", "protocol.md"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(Dir(), "vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var root any
	if err := json.Unmarshal(raw, &root); err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(doc), "<!-- vectors:begin -->")
	block, _, ok2 := strings.Cut(block, "<!-- vectors:end -->")
	if !ok || !ok2 {
		t.Fatal("docs/protocol.md has no vectors block")
	}
	row := regexp.MustCompile("(?m)^\\| `([^`]+)` \\| `([^`]*)` \\|$")
	rows := row.FindAllStringSubmatch(block, -1)
	if len(rows) < 40 {
		t.Fatalf("only %d vector rows in docs/protocol.md", len(rows))
	}
	for _, r := range rows {
		got, err := lookup(root, r[1])
		if err != nil {
			t.Errorf("%s: %v", r[1], err)
			continue
		}
		if strings.TrimSuffix(got, "\n") != r[2] {
			t.Errorf("%s: doc says %q, vectors.json says %q", r[1], r[2], got)
		}
	}
}

// lookup resolves a dotted path; a map key may itself contain dots (rids._x.y).
func lookup(node any, path string) (string, error) {
	if path == "" {
		switch v := node.(type) {
		case string:
			return v, nil
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64), nil
		}
		return "", fmt.Errorf("not a scalar")
	}
	switch v := node.(type) {
	case map[string]any:
		if x, ok := v[path]; ok {
			return lookup(x, "")
		}
		head, rest, _ := strings.Cut(path, ".")
		if x, ok := v[head]; ok {
			return lookup(x, rest)
		}
	case []any:
		head, rest, _ := strings.Cut(path, ".")
		i, err := strconv.Atoi(head)
		if err == nil && i >= 0 && i < len(v) {
			return lookup(v[i], rest)
		}
	}
	return "", fmt.Errorf("no such path")
}
