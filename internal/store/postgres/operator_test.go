package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/store"
	"github.com/capy-oss/capy/internal/store/pgtest"
	"github.com/capy-oss/capy/internal/store/sqlstore"
	"github.com/capy-oss/capy/internal/store/storetest"
)

// TestSecretColumnsCoverTheSchema: every binary column of the schema is
// one the operator's methods may not name (sqlstore.SecretColumns), so a
// new blob column cannot slip past the guard unnoticed.
func TestSecretColumnsCoverTheSchema(t *testing.T) {
	ctx := context.Background()
	dbURL := pgtest.NewDatabase(t)
	if _, err := Migrate(ctx, dbURL); err != nil {
		t.Fatal(err)
	}
	c := pgtest.Conn(t, dbURL)
	rows, err := c.Query(ctx, `SELECT table_name, column_name, data_type FROM information_schema.columns
		WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := map[string]bool{}
	for rows.Next() {
		var tbl, col, typ string
		if err := rows.Scan(&tbl, &col, &typ); err != nil {
			t.Fatal(err)
		}
		seen[col] = true
		if typ == "bytea" && !slices.Contains(sqlstore.SecretColumns, col) {
			t.Errorf("%s.%s is binary but not in sqlstore.SecretColumns", tbl, col)
		}
	}
	for _, col := range sqlstore.SecretColumns {
		if !seen[col] {
			t.Errorf("sqlstore.SecretColumns names %s, which no table has", col)
		}
	}
}

// TestOperatorNeverReadsSecrets runs every operator method as a database
// role that has no privilege on any secret column (sqlstore.SecretColumns)
// and only the writes those methods need: PostgreSQL itself refuses a
// statement that reads, writes or compares one of them. The same role is
// refused OuterKeyUse, which reads the blobs' headers: the test bites.
func TestOperatorNeverReadsSecrets(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dbURL := pgtest.NewDatabase(t)
	full, err := Open(ctx, dbURL, store.Config{CodePepper: storetest.Pepper, AutoMigrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	f := populate(t, ctx, full)

	admin := pgtest.Conn(t, dbURL)
	role := "capy_operator_" + randHex(6)
	password := randHex(16)
	var dbName string
	if err := admin.QueryRow(ctx, `SELECT current_database()`).Scan(&dbName); err != nil {
		t.Fatal(err)
	}
	exec := func(q string) {
		t.Helper()
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`CREATE ROLE ` + role + ` LOGIN PASSWORD '` + password + `'`)
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, _ = admin.Exec(c, `REVOKE ALL ON ALL TABLES IN SCHEMA public FROM `+role)
		_, _ = admin.Exec(c, `REVOKE ALL ON DATABASE `+dbName+` FROM `+role)
		_, _ = admin.Exec(c, `DROP ROLE IF EXISTS `+role)
	})
	exec(`GRANT CONNECT ON DATABASE ` + dbName + ` TO ` + role)
	exec(`GRANT USAGE ON SCHEMA public TO ` + role)
	// SELECT on every column but the secret ones.
	rows, err := admin.Query(ctx, `SELECT table_name, string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position)
		FROM information_schema.columns WHERE table_schema = 'public' AND NOT (column_name = ANY($1))
		GROUP BY table_name`, sqlstore.SecretColumns)
	if err != nil {
		t.Fatal(err)
	}
	var grants []string
	for rows.Next() {
		var tbl, cols string
		if err := rows.Scan(&tbl, &cols); err != nil {
			t.Fatal(err)
		}
		grants = append(grants, fmt.Sprintf(`GRANT SELECT (%s) ON %s TO %s`, cols, tbl, role))
	}
	rows.Close()
	for _, g := range grants {
		exec(g)
	}
	// The writes DisableUser, EnableUser and EndUserSessions make.
	exec(`GRANT UPDATE (disabled_at) ON users TO ` + role)
	exec(`GRANT DELETE ON sessions TO ` + role)
	exec(`GRANT INSERT ON audit_events TO ` + role)
	exec(`GRANT UPDATE (seq, hash) ON audit_heads TO ` + role)

	st, err := OpenReadOnly(ctx, asRole(t, dbURL, role, password), store.Config{CodePepper: storetest.Pepper})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	limited, err := Open(ctx, asRole(t, dbURL, role, password), store.Config{CodePepper: storetest.Pepper})
	if err != nil {
		t.Fatalf("Open as the limited role: %v", err)
	}
	defer limited.Close()

	if _, err := limited.OuterKeyUse(ctx); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("OuterKeyUse as a role without the blob columns: %v, want permission denied", err)
	}
	orgs, err := limited.ListAllOrgs(ctx)
	if err != nil || len(orgs) != 1 || orgs[0].ID != f.org {
		t.Fatalf("ListAllOrgs: %+v, %v", orgs, err)
	}
	users, err := limited.ListAllUsers(ctx)
	if err != nil || len(users) != 2 {
		t.Fatalf("ListAllUsers: %+v, %v", users, err)
	}
	if v, err := limited.AuditStatus(ctx, f.org); err != nil || !v.Valid {
		t.Fatalf("AuditStatus: %+v, %v", v, err)
	}
	inv, err := limited.Inventory(ctx)
	if err != nil || len(inv.Tables) != len(sqlstore.Tables) {
		t.Fatalf("Inventory: %+v, %v", inv, err)
	}
	if ch, err := limited.DisableUser(ctx, f.member); err != nil || !ch.Changed || ch.EndedSessions != 1 || len(ch.Audit) != 1 {
		t.Fatalf("DisableUser: %+v, %v", ch, err)
	}
	if ch, err := limited.EnableUser(ctx, f.member); err != nil || !ch.Changed || len(ch.Audit) != 1 {
		t.Fatalf("EnableUser: %+v, %v", ch, err)
	}
	if n, err := limited.EndUserSessions(ctx, f.owner); err != nil || n != 1 {
		t.Fatalf("EndUserSessions: %d, %v", n, err)
	}
	if v, err := full.AuditStatus(ctx, f.org); err != nil || !v.Valid {
		t.Fatalf("the chain after the operator's rows: %+v, %v", v, err)
	}
}

// asRole returns the database URL with the user and password replaced.
func asRole(t *testing.T, dbURL, role, password string) string {
	t.Helper()
	if strings.HasPrefix(dbURL, "postgres://") || strings.HasPrefix(dbURL, "postgresql://") {
		u, err := url.Parse(dbURL)
		if err != nil {
			t.Fatal(err)
		}
		u.User = url.UserPassword(role, password)
		return u.String()
	}
	return dbURL + " user=" + role + " password=" + password
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

type populated struct {
	org, owner, member string // the org id; the users' e-mail addresses
}

// populate writes an org with an owner and a member, an invite, a
// project, an environment with a pushed version and a deploy token: a
// row in every table that has a secret column.
func populate(t *testing.T, ctx context.Context, s store.Store) populated {
	t.Helper()
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	login := func(addr string) store.TokenHash {
		_, err := s.CreateLoginCode(ctx, addr, "12345678", 0)
		must("CreateLoginCode", err)
		u, err := s.VerifyLoginCode(ctx, addr, "12345678")
		must("VerifyLoginCode", err)
		raw := make([]byte, 32)
		_, _ = rand.Read(raw)
		tok := store.HashToken(raw)
		_, err = s.CreateSession(ctx, u.ID, tok, "laptop")
		must("CreateSession", err)
		return tok
	}
	p := populated{org: ident.NewID(ident.Org), owner: "owner@example.com", member: "member@example.com"}
	owner := login(p.owner)
	_, _, err := s.CreateOrg(ctx, owner, store.NewOrg{ID: p.org, Name: "Acme", KeyCheck: strings.Repeat("ab", 16)})
	must("CreateOrg", err)
	inv, _, err := s.CreateInvite(ctx, owner, store.NewInvite{ID: ident.NewID(ident.Invite), OrgID: p.org, Email: p.member,
		Kind: store.InviteMember, Role: store.RoleMember, ExpiresAt: time.Now().Add(time.Hour), Blob: []byte("\x01\x00\x00\x00\x01outer")})
	must("CreateInvite", err)
	member := login(p.member)
	_, err = s.Redeem(ctx, member, inv.ID, nil)
	must("Redeem", err)
	_, _ = s.CreateLoginCode(ctx, "pending@example.com", "87654321", 0)
	prj := ident.NewID(ident.Project)
	_, err = s.CreateProject(ctx, owner, store.NewProject{ID: prj, OrgID: p.org, Name: "web"})
	must("CreateProject", err)
	env, err := s.CreateEnv(ctx, owner, store.NewEnv{ID: ident.NewID(ident.Env), OrgID: p.org, ProjectID: prj, Name: "development", SigningKey: make([]byte, 32)})
	must("CreateEnv", err)
	blob := []byte("capy-blob 1\nmanifest 1 1 - sig\n")
	sum := sha256.Sum256(blob)
	_, _, err = s.Push(ctx, member, env.ID, store.NewVersion{Version: 1, Epoch: 1, ID: hex.EncodeToString(sum[:]), ParentID: store.FirstParent, Blob: blob})
	must("Push", err)
	_, _, err = s.CreateDeploy(ctx, owner, store.NewDeploy{ID: ident.NewID(ident.Deploy), OrgID: p.org, EnvID: env.ID, Name: "ci", Epoch: 1,
		Verifier: sum[:], Blob: []byte("\x01\x00\x00\x00\x01deploy")})
	must("CreateDeploy", err)
	if _, err := s.OuterKeyUse(ctx); err != nil {
		t.Fatalf("OuterKeyUse with every privilege: %v", err)
	}
	return p
}
