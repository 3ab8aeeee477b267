package arch

import (
	"encoding/json"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
)

// allowed is the whole import graph of the module as a table: for every
// package, the module packages it may import directly (production code;
// test files are free to reach further). It is deny by default: an import
// not listed fails, and so does a package the table does not know, so a
// new or renamed package is a decision made here, with its reason, not a
// rule that switches off. docs/architecture.md explains the layers.
var allowed = map[string][]string{
	// Pure bottom: formats and rules, standard library only (or each other).
	"internal/ident":       {},
	"internal/auditchain":  {},
	"internal/wrap":        {"internal/ident"},
	"internal/keys":        {"internal/ident", "internal/privfile", "internal/wrap"},
	"internal/envfile":     {"internal/ident", "internal/privfile"},
	"internal/api":         {"internal/wrap"}, // api.Bytes is wrap's base64
	"internal/kekring":     {"internal/privfile", "internal/wrap"},
	"internal/mail":        {"internal/ident"},
	"internal/testvectors": {},
	"internal/privfile":    {}, // key files, atomic writes, locks: client and service
	"internal/buildinfo":   {}, // the build's version, commit and date: both binaries

	// The client: HTTP client, merge and sync, local state, use-cases, CLI.
	"internal/client":    {"internal/api", "internal/ident"},
	"internal/envsync":   {"internal/envfile", "internal/keys", "internal/wrap"},
	"internal/workspace": {"internal/ident", "internal/keys", "internal/privfile", "internal/wrap"},
	"internal/member": {"internal/api", "internal/auditchain", "internal/client", "internal/ident", "internal/keys",
		"internal/envsync", "internal/workspace", "internal/wrap"},
	"cmd/capy": {"internal/api", "internal/buildinfo", "internal/client", "internal/envfile", "internal/ident", "internal/keys",
		"internal/member", "internal/privfile", "internal/envsync", "internal/workspace", "internal/wrap"},

	// The service: storage, HTTP API, process.
	"internal/store":               {},
	"internal/store/sqlstore":      {"internal/auditchain", "internal/ident", "internal/store", "migrations"},
	"internal/store/sqlite":        {"internal/store", "internal/store/sqlstore", "migrations"},
	"internal/store/postgres":      {"internal/store", "internal/store/sqlstore", "migrations"},
	"internal/store/storeopen":     {"internal/store", "internal/store/postgres", "internal/store/sqlite", "internal/store/sqlstore"},
	"internal/store/storetest":     {"internal/auditchain", "internal/ident", "internal/store"},
	"internal/store/pgtest":        {},
	"internal/server":              {"internal/api", "internal/auditchain", "internal/buildinfo", "internal/ident", "internal/kekring", "internal/mail", "internal/store", "internal/wrap"},
	"internal/capyd":               {"internal/buildinfo", "internal/ident", "internal/kekring", "internal/mail", "internal/privfile", "internal/store", "internal/store/storeopen"},
	"cmd/capyd":                    {"internal/capyd", "internal/server"},
	"internal/bench":               {"internal/api", "internal/workspace"},
	"internal/bench/cmd/capybench": {"internal/bench"},
	"internal/bench/cmd/runrss":    {},

	// Shipping: release archives and the container image (build tooling,
	// never linked into capy or capyd), and its command line.
	"internal/release": {"internal/buildinfo"},
	"scripts/release":  {"internal/release"},

	// Packages of tests only.
	"internal/arch":          {},
	"internal/e2e/abuse":     {},
	"internal/e2e/clistress": {},
	"internal/e2e/replicas":  {},
	"internal/e2e/secrets":   {},
	"migrations":             {}, // the SQL files, embedded

}

type listed struct {
	ImportPath string
	Imports    []string
}

// graph is `go list ./...`: every package with its direct production
// imports inside the module.
func graph(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", "github.com/capy-oss/capy/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	g := map[string][]string{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p listed
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(p.ImportPath, module)
		g[name] = []string{}
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, module) {
				g[name] = append(g[name], strings.TrimPrefix(imp, module))
			}
		}
	}
	return g
}

// TestImportTable: every package is in the table, and imports only what
// its row allows.
func TestImportTable(t *testing.T) {
	g := graph(t)
	var names []string
	for n := range g {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ok, known := allowed[n]
		if !known {
			t.Errorf("package %s is not in internal/arch's import table: add it with the imports it may have, and say why in docs/architecture.md", n)
			continue
		}
		for _, imp := range g[n] {
			if !slices.Contains(ok, imp) {
				t.Errorf("%s imports %s, which the import table does not allow (docs/architecture.md)", n, imp)
			}
		}
	}
	for n := range allowed {
		if _, ok := g[n]; !ok {
			t.Errorf("the import table names %s, which no longer exists: remove or rename its row", n)
		}
	}
}

// TestClientNeverReachesTheService: no client package reaches (even
// indirectly) the store, the server, the KEKs or capyd: a client bug can
// then never depend on the service's internals, and the shared pieces
// (wire types, formats, the audit chain) live beside wrap.
func TestClientNeverReachesTheService(t *testing.T) {
	for _, pkg := range []string{"cmd/capy", "internal/member", "internal/envsync", "internal/workspace", "internal/client"} {
		d := deps(t, pkg)
		if d == nil {
			t.Fatalf("%s: package missing", pkg)
		}
		for dep := range d {
			for _, f := range []string{"internal/store", "internal/server", "internal/kekring", "internal/capyd", "internal/mail"} {
				if dep == module+f || strings.HasPrefix(dep, module+f+"/") {
					t.Errorf("%s reaches %s", pkg, strings.TrimPrefix(dep, module))
				}
			}
		}
	}
}
