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
	"internal/envguard":    {"internal/envfile", "internal/wrap"}, // the leak scan and .env.example: no key
	"internal/api":         {"internal/wrap"},                     // api.Bytes is wrap's base64
	"internal/kekring":     {"internal/privfile", "internal/wrap"},
	"internal/mail":        {"internal/ident"},
	"internal/testvectors": {},
	"internal/privfile":    {},                 // key files, atomic writes, locks: client and service
	"internal/slip39":      {},                 // SLIP-39 shares of the recovery phrase's entropy
	"internal/buildinfo":   {},                 // the build's version, commit and date: both binaries
	"internal/share":       {"internal/ident"}, // one-time shares to a browser: code, fingerprint, sealed blob
	// Other tools' files for `capy import` (dotenvx, JSON, YAML): pure.
	"internal/importfmt": {"internal/envfile", "internal/ident"},

	// The client: HTTP client, merge and sync, local state, use-cases, CLI.
	"internal/client":    {"internal/api", "internal/ident"},
	"internal/envsync":   {"internal/envfile", "internal/keys", "internal/wrap"},
	"internal/workspace": {"internal/ident", "internal/keys", "internal/privfile", "internal/wrap"},
	"internal/member": {"internal/api", "internal/auditchain", "internal/client", "internal/ident", "internal/keys",
		"internal/envsync", "internal/workspace", "internal/wrap"},
	// The recovery kit: SLIP-39 shares of the phrase, over member's recovery.
	"internal/recovery": {"internal/api", "internal/keys", "internal/member", "internal/privfile", "internal/slip39"},
	"internal/checkout": {"internal/api", "internal/client", "internal/envfile", "internal/envguard", "internal/envsync", "internal/ident",
		"internal/importfmt", "internal/keys", "internal/member", "internal/privfile", "internal/share", "internal/workspace", "internal/wrap"},
	// The CLI is flags, prompts, output and exit codes: everything with a
	// key, a format or a file of the checkout in it goes through checkout
	// (or member, for the account). See cliHoldsNoCrypto.
	"cmd/capy": {"internal/api", "internal/buildinfo", "internal/checkout", "internal/client", "internal/ident", "internal/member", "internal/recovery", "internal/workspace"},

	// The loader: a public package for programs that cannot be started
	// through `capy run`; it reads what run reads, with no service, so
	// nothing of the CLI, the HTTP client or the member's account
	// (load's TestHelloSize also checks its binary cost).
	"load": {"internal/envfile", "internal/envsync", "internal/ident", "internal/keys", "internal/workspace"},

	// The service: storage, HTTP API, process.
	"internal/store":           {},
	"internal/store/sqlstore":  {"internal/auditchain", "internal/ident", "internal/store", "migrations"},
	"internal/store/sqlite":    {"internal/store", "internal/store/sqlstore", "migrations"},
	"internal/store/postgres":  {"internal/store", "internal/store/sqlstore", "migrations"},
	"internal/store/storeopen": {"internal/store", "internal/store/postgres", "internal/store/sqlite", "internal/store/sqlstore", "migrations"},
	"internal/store/storetest": {"internal/auditchain", "internal/ident", "internal/store"},
	"internal/store/pgtest":    {},
	"internal/server":          {"internal/api", "internal/auditchain", "internal/buildinfo", "internal/ident", "internal/kekring", "internal/mail", "internal/store", "internal/web", "internal/wrap"},
	// The browser side: embedded pages and their headers; no key, no value.
	"internal/web":                 {},
	"internal/capyd":               {"internal/buildinfo", "internal/ident", "internal/kekring", "internal/mail", "internal/privfile", "internal/store", "internal/store/storeopen"},
	"cmd/capyd":                    {"internal/capyd", "internal/server"},
	"internal/bench":               {"internal/api", "internal/bench/scale", "internal/keys", "internal/workspace"},
	"internal/bench/scale":         {"internal/ident", "internal/store", "internal/store/storeopen"},
	"internal/bench/cmd/capybench": {"internal/bench"},
	"internal/bench/cmd/runrss":    {},

	// Shipping: release archives and the container image (build tooling,
	// never linked into capy or capyd), and its command line.
	"internal/release": {"internal/buildinfo"},
	"scripts/release":  {"internal/release"},

	// Packages of tests only.
	"internal/arch":          {},
	"internal/e2e/abuse":     {},
	"internal/e2e/ops":       {},
	"internal/e2e/clistress": {},
	"internal/e2e/replicas":  {},
	"internal/e2e/secrets":   {},
	"internal/e2e/browser":   {},
	"migrations":             {}, // the SQL files, embedded

	// The end-to-end harness (binaries, capyd, PostgreSQL, log, clock):
	// imported by tests only, so no row lists it.
	"internal/e2e/e2etest": {"internal/kekring", "internal/mail", "internal/server", "internal/store",
		"internal/store/pgtest", "internal/store/postgres", "internal/store/sqlite"},
	// Headless Chromium for the browser tests: tests only, like e2etest.
	"internal/e2e/browser/browsertest": {},
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
	for _, pkg := range []string{"cmd/capy", "internal/checkout", "internal/member", "internal/recovery", "internal/envsync", "internal/workspace", "internal/client", "load"} {
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

// cliHoldsNoCrypto is what cmd/capy may never import directly, whatever its
// row above says (a second lock on the same door: widening the row alone
// does not let crypto back into the CLI):
//   - wrap, keys, auditchain: keys, sealed formats and chain checks are
//     use-case work; the CLI gets their results and, for errors,
//     checkout.KindOf.
//   - envsync: building, signing and verifying versions, and the merge.
//   - envfile and privfile: every .env, state.json and key-file write goes
//     through checkout, under its lock and guard; `capy export`'s dotenv
//     lines come from checkout.DotenvLine, so the CLI cannot write a .env
//     by itself even by accident.
//   - kekring: the service's keys (also refused by the service rule).
//   - share: the sealed format of one-time shares (checkout.Share seals).
//   - importfmt: other tools' formats and dotenvx's keys; `capy import`
//     reads them through checkout.ReadImport.
var cliHoldsNoCrypto = []string{"internal/wrap", "internal/keys", "internal/auditchain", "internal/envsync",
	"internal/envfile", "internal/envguard", "internal/privfile", "internal/kekring", "internal/share", "internal/importfmt"}

// TestCLIHoldsNoCrypto: cmd/capy imports none of cliHoldsNoCrypto.
func TestCLIHoldsNoCrypto(t *testing.T) {
	g := graph(t)
	imports, ok := g["cmd/capy"]
	if !ok {
		t.Fatal("cmd/capy: package missing")
	}
	for _, imp := range imports {
		if slices.Contains(cliHoldsNoCrypto, imp) {
			t.Errorf("cmd/capy imports %s: move that work into internal/checkout (or internal/member) and call it from the command (docs/architecture.md)", imp)
		}
	}
}
