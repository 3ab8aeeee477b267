package abuse

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // reading the schema of the service's SQLite file

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/client"
	"github.com/capy-oss/capy/internal/ident"
)

// schema returns the service database's schema as text: tables, columns,
// indexes and triggers.
func (s *service) schema(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	var out []string
	switch s.kind {
	case "sqlite":
		db, err := sql.Open("sqlite", "file:"+s.dbPath+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		rows, err := db.QueryContext(ctx, `SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master ORDER BY type, name`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var a, b, c, d string
			if err := rows.Scan(&a, &b, &c, &d); err != nil {
				t.Fatal(err)
			}
			out = append(out, a+" "+b+" "+c+" "+d)
		}
	case "postgres":
		conn, err := pgx.Connect(ctx, s.dbPath)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		rows, err := conn.Query(ctx, `
			SELECT 'col ' || table_name || '.' || column_name || ' ' || data_type FROM information_schema.columns
			 WHERE table_schema = current_schema()
			UNION ALL
			SELECT 'idx ' || indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname = current_schema()
			UNION ALL
			SELECT 'trg ' || trigger_name || ' ' || event_object_table FROM information_schema.triggers
			 WHERE trigger_schema = current_schema()
			ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var a string
			if err := rows.Scan(&a); err != nil {
				t.Fatal(err)
			}
			out = append(out, a)
		}
	}
	if len(out) < 5 {
		t.Fatalf("schema of %s looks empty: %v", s.kind, out)
	}
	return strings.Join(out, "\n")
}

var (
	// sqlText is stored verbatim wherever free text is allowed.
	sqlText = []string{
		`'; DROP TABLE users; --`,
		`Robert'); DROP TABLE orgs; --`,
		`1' OR '1'='1`,
		`" OR ""="`,
		`x'); SELECT pg_sleep(5); --`,
		`%' OR 1=1 --`,
		`\'; DELETE FROM sessions; --`,
	}
	// unicodeText is ordinary text outside ASCII: stored verbatim.
	unicodeText = []string{"😀 Acme 🚀", "Ünïcødé Org", "日本語の組織", "עברית ועוד", "🦫"}
	// trickText hides or reorders what is shown: refused as a label.
	trickText = []string{
		"\u202Eevil",            // right-to-left override
		"pay\u202Dlap",          // left-to-right override
		"a\u200Bb",              // zero-width space
		"a\u200Db",              // zero-width joiner
		"\u2066isolate",         // bidi isolate
		"\uFEFFbom",             // byte order mark
		"line\u2028break",       // line separator
		"ansi\x1b[31mred",       // terminal escape
		"nul\x00byte",           // NUL
		" padded",               // leading space
		strings.Repeat("x", 65), // too long
	}
)

// TestSQLAndUnicodeInput: SQL metacharacters, non-ASCII text and
// invisible or reordering characters in every free-text field (org
// names, session labels, deploy names), in slugs (project and environment
// names), in e-mail addresses and in query parameters, on both stores.
// Text is stored and returned verbatim or refused with 400 invalid-field;
// nothing answers 500 or shows SQL or driver text; the schema is
// byte-identical afterwards, and every table still answers.
func TestSQLAndUnicodeInput(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			s := newService(t, kind)
			o := s.apiOrg(t, "alice@example.com", "A")
			ctx := context.Background()
			schema := s.schema(t)
			tok := o.owner.Token
			post := func(path, body string) (int, api.ProblemType, map[string]any) {
				t.Helper()
				resp, b := s.send(t, tok, call{"POST", path, body})
				m := map[string]any{}
				_ = json.Unmarshal(b, &m)
				if resp.StatusCode >= 300 {
					return resp.StatusCode, problemSlug(t, resp, b), m
				}
				return resp.StatusCode, "", m
			}
			jsonStr := func(s string) string { b, _ := json.Marshal(s); return string(b) }
			verbatim := append(append([]string(nil), sqlText...), unicodeText...)

			// Org names and deploy names: labels.
			for _, name := range verbatim {
				id := ident.NewID(ident.Org)
				st, slug, m := post("/v1/orgs", `{"id":"`+id+`","name":`+jsonStr(name)+`,"key_check":"`+hex.EncodeToString(randBytes(16))+`"}`)
				if st != 201 || obj(m, "org")["name"] != name {
					t.Fatalf("org name %q: %d %s %v", name, st, slug, m)
				}
				got, err := o.owner.Org(ctx, id)
				if err != nil || got.Name != name {
					t.Fatalf("org name %q read back as %q (%v)", name, got.Name, err)
				}
				st, slug, m = post("/v1/orgs/"+o.org+"/deploys", `{"env":"`+o.env+`","epoch":1,"name":`+jsonStr(name)+
					`,"verifier":"`+strings.Repeat("cd", 32)+`","inner":"`+b64(sealed(t))+`"}`)
				if st != 201 || obj(m, "deploy")["name"] != name {
					t.Fatalf("deploy name %q: %d %s %v", name, st, slug, m)
				}
			}
			for _, name := range trickText {
				if st, slug, _ := post("/v1/orgs", `{"id":"`+ident.NewID(ident.Org)+`","name":`+jsonStr(name)+`,"key_check":"`+strings.Repeat("0", 32)+`"}`); st != 400 || slug != api.PInvalidField {
					t.Fatalf("org name %q: %d %s", name, st, slug)
				}
				if st, slug, _ := post("/v1/orgs/"+o.org+"/deploys", `{"env":"`+o.env+`","epoch":1,"name":`+jsonStr(name)+
					`,"verifier":"`+strings.Repeat("cd", 32)+`","inner":"`+b64(sealed(t))+`"}`); st != 400 || slug != api.PInvalidField {
					t.Fatalf("deploy name %q: %d %s", name, st, slug)
				}
			}
			// Invalid UTF-8 never gets as far as a field.
			if st, slug, _ := post("/v1/orgs", "{\"id\":\""+ident.NewID(ident.Org)+"\",\"name\":\"\xff\xfe\",\"key_check\":\""+strings.Repeat("0", 32)+"\"}"); st != 400 || slug != api.PMalformedJSON {
				t.Fatalf("invalid UTF-8: %d %s", st, slug)
			}

			// Session labels (auth/verify).
			anon := s.apiClient("")
			for _, label := range append(append([]string(nil), verbatim...), trickText...) {
				before := s.mail.count()
				if _, err := anon.AuthStart(ctx, "labels@example.com"); err != nil {
					t.Fatal(err)
				}
				res, err := anon.AuthVerify(ctx, "labels@example.com", s.mail.codeAfter("labels@example.com", before), label)
				refused := false
				for _, bad := range trickText {
					refused = refused || bad == label
				}
				if refused {
					if p := client.ProblemOf(err); p == nil || p.Slug() != api.PInvalidField {
						t.Fatalf("session label %q: %v", label, err)
					}
					continue
				}
				if err != nil || res.Session.Label != label {
					t.Fatalf("session label %q: %v %+v", label, err, res)
				}
			}

			// Slugs: every payload refused.
			for _, name := range append(append(append([]string(nil), sqlText...), unicodeText...), trickText...) {
				if st, slug, _ := post("/v1/orgs/"+o.org+"/projects", `{"id":"`+ident.NewID(ident.Project)+`","name":`+jsonStr(name)+`}`); st != 400 || slug != api.PInvalidField {
					t.Fatalf("project name %q: %d %s", name, st, slug)
				}
				if st, slug, _ := post("/v1/orgs/"+o.org+"/projects/"+o.prj+"/envs", `{"id":"`+ident.NewID(ident.Env)+`","name":`+jsonStr(name)+
					`,"signing_public_key":"`+b64(randBytes(32))+`"}`); st != 400 || slug != api.PInvalidField {
					t.Fatalf("env name %q: %d %s", name, st, slug)
				}
			}

			// E-mail addresses: ASCII addresses with quotes and operators are
			// valid and stay data; spaces, non-ASCII and tricks are refused.
			odd := []string{"o'brien@example.com", "'or'1'='1@example.com", "x'--@example.com", "a+b=c@example.com"}
			for _, e := range odd {
				u := s.apiLogin(e)
				me, err := u.Me(ctx)
				if err != nil || me.User.Email != e {
					t.Fatalf("user %q: %v %+v", e, err, me)
				}
				role := api.RoleMember
				inv, err := o.owner.CreateInvite(ctx, o.org, api.CreateInviteRequest{Kind: "member", Email: e, Role: &role, Inner: sealed(t)})
				if err != nil || inv.Email != e {
					t.Fatalf("invite for %q: %v", e, err)
				}
				// As a filter it matches that address only, not everyone.
				list, err := o.owner.Members(ctx, o.org, "all", e, "", 0)
				if err != nil || len(list.Items) != 0 {
					t.Fatalf("members filtered by %q: %v %+v", e, err, list)
				}
			}
			for _, e := range []string{"robert'); drop table users; --@example.com", "' OR 1=1 --", "bob@exa mple.com",
				"bob\u202e@example.com", "b\u200bob@example.com", "😀@example.com", "bob@exämple.com", "bob@example.com\n"} {
				resp, b := s.send(t, "", call{"POST", "/v1/auth/start", `{"email":` + jsonStr(e) + `}`})
				if problemSlug(t, resp, b) != api.PInvalidField {
					t.Fatalf("auth/start %q: %d %s", e, resp.StatusCode, b)
				}
				resp, b = s.send(t, tok, call{"GET", "/v1/orgs/" + o.org + "/members?email=" + url.QueryEscape(e), ""})
				if problemSlug(t, resp, b) != api.PInvalidField {
					t.Fatalf("members?email=%q: %d %s", e, resp.StatusCode, b)
				}
			}
			// Query parameters and path ids carrying SQL.
			for _, q := range []string{"cursor=" + url.QueryEscape(`' OR 1=1 --`), "status=" + url.QueryEscape(`all' OR '1'='1`),
				"limit=" + url.QueryEscape(`1; DROP TABLE users`), "email=" + url.QueryEscape(`%`)} {
				resp, b := s.send(t, tok, call{"GET", "/v1/orgs/" + o.org + "/members?" + q, ""})
				if problemSlug(t, resp, b) != api.PInvalidField {
					t.Fatalf("members?%s: %d %s", q, resp.StatusCode, b)
				}
			}
			for _, p := range []string{"/v1/orgs/" + url.PathEscape(`org_'; DROP TABLE orgs; --`), "/v1/orgs/org_aaaaaaaaaaaaaaaaaaaaaaaaa%27",
				"/v1/orgs/" + o.org + "/projects/" + url.PathEscape(`prj_' OR '1'='1`)} {
				resp, b := s.send(t, tok, call{"GET", p, ""})
				if problemSlug(t, resp, b) != api.PNotFound {
					t.Fatalf("GET %s: %d %s", p, resp.StatusCode, b)
				}
			}

			if got := s.schema(t); got != schema {
				t.Fatalf("the schema changed:\nbefore %s\nafter  %s", schema, got)
			}
			// Every table still answers, and the audit chain still verifies.
			if _, err := o.owner.Members(ctx, o.org, "all", "", "", 0); err != nil {
				t.Fatal(err)
			}
			v, err := o.owner.AuditVerify(ctx, o.org)
			if err != nil || !v.Valid {
				t.Fatalf("audit chain after the payloads: %v %+v", err, v)
			}
			if _, err := o.owner.Sessions(ctx, "", 0); err != nil {
				t.Fatal(err)
			}
		})
	}
}
