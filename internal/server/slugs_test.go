package server

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/capy-oss/capy/internal/api"
)

// TestProblemSlugsAreKnown: every problem the server builds names its type
// by an api.P… constant, and every constant is in api.Problems (status,
// title). A string typed in a handler ("not-foud") would otherwise pass
// the compiler and become whatever an unknown type becomes at run time.
func TestProblemSlugsAreKnown(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		check := func(e ast.Expr) {
			checked++
			switch x := e.(type) {
			case *ast.BasicLit:
				s, _ := strconv.Unquote(x.Value)
				t.Errorf("%s: problem type %q spelt as a string; use its api.P… constant", fset.Position(x.Pos()), s)
			case *ast.Ident:
				// A variable named slug: the problem constructor's own
				// parameter, or a local whose assignments are checked below.
				if x.Name != "slug" {
					t.Errorf("%s: problem type %s is neither an api.P… constant nor a slug carried over", fset.Position(e.Pos()), x.Name)
				}
			default:
				t.Errorf("%s: problem type is neither an api.P… constant nor a slug carried over", fset.Position(e.Pos()))
			case *ast.SelectorExpr:
				// api.P…, or a slug carried over from another problem
				// value (de.slug), which was itself checked where it was made.
				id, ok := x.X.(*ast.Ident)
				if !ok || id.Name == "api" && !strings.HasPrefix(x.Sel.Name, "P") || id.Name != "api" && x.Sel.Name != "slug" {
					t.Errorf("%s: problem type is not an api.P… constant", fset.Position(x.Pos()))
				}
			}
		}
		ast.Inspect(file, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.CallExpr:
				if id, ok := x.Fun.(*ast.Ident); ok && id.Name == "problem" && len(x.Args) > 0 {
					check(x.Args[0])
				}
			case *ast.AssignStmt:
				for i, l := range x.Lhs {
					if id, ok := l.(*ast.Ident); ok && id.Name == "slug" && i < len(x.Rhs) {
						check(x.Rhs[i])
					}
				}
			case *ast.KeyValueExpr:
				if id, ok := x.Key.(*ast.Ident); ok && id.Name == "slug" {
					check(x.Value)
				}
			}
			return true
		})
	}
	if checked < 10 {
		t.Fatalf("found only %d problem constructions: the test no longer sees them", checked)
	}
	for slug, info := range api.Problems() {
		if info.Status < 400 || info.Title == "" || details[slug] == "" && slug != api.PInternal {
			t.Errorf("problem type %s: status %d, title %q, detail %q", slug, info.Status, info.Title, details[slug])
		}
	}
}
