package postgres

// The org_id statement test (docs/scale.md "Past one database"): every
// statement the store sends to PostgreSQL while the conformance suite runs
// is logged by a pgx QueryTracer, and each distinct text must touch the rows
// of exactly one org, named by a parameter. That is the property that lets
// the schema be distributed by org_id (Citus) with users and sessions as
// reference tables.
//
// The analysis works on the SQL text, so it is deliberately strict: a shape
// it does not understand fails, with the statement printed. Rules:
//
//  1. Normalisation: whitespace collapsed, lower-cased. Refused outright:
//     comments, ';', double quotes, subqueries "(select", UNION/EXCEPT/
//     INTERSECT, comma joins, RIGHT/FULL/CROSS/NATURAL joins, USING, BETWEEN,
//     a call of any function but a few built-ins that read no table
//     (orgScopeCallOK: a stored function could read any table),
//     a statement not starting with SELECT/INSERT/UPDATE/DELETE/WITH, and any
//     table not classified below (a new table in migrations/postgres fails
//     TestOrgScopeTablesClassified until it is added here).
//  2. Transaction control (BEGIN …, COMMIT, ROLLBACK) passes.
//  3. Global tables (users, login_codes, sessions, rate_limits,
//     goose_db_version) are not analysed; a statement touching only global
//     tables (or none) passes.
//  4. Every occurrence of an org table (orgScopeTables) must be pinned to an
//     org by an equality that is a top-level conjunct (split on AND at
//     parenthesis depth 0; a clause with a depth-0 OR yields no conjuncts) of
//     its statement's WHERE clause or of a JOIN … ON clause:
//     - "a.col = $n" where col determines the row's org (orgScopeTables:
//     org_id, or a key such as environments.id whose row has one org),
//     - or "a.col = b.col2" where both columns name the same entity (org,
//     project, environment, …), linking a to b (same org);
//     an INSERT pins its row by an org-determining column whose value is a
//     bare parameter "$n" (VALUES or INSERT … SELECT list). Only "= $n"
//     counts: "= ANY($n)", casts and expressions do not.
//  5. One org per statement: occurrences, linked by rule 4's equalities and
//     by sharing the very same anchor (entity, $n), must form one group
//     with at least one anchor. Two groups, e.g. "a.org_id = $1 … b.org_id
//     = $2", may be two orgs and fail.
//  6. No UPDATE (or ON CONFLICT DO UPDATE) may SET an org-determining
//     column: that would move a row between orgs.
//  7. orgScopeExceptions lists, by exact normalised text, the statements
//     that are cross-org on purpose, each with its reason (docs/scale.md).
//
// Anchors on a column other than org_id are recorded: they are the
// statements a distributed database would route by a non-distribution key
// (reported by TestConformance's log and in docs/scale.md).

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/capy-oss/capy/internal/store/pgtest"
	"github.com/capy-oss/capy/internal/store/sqlstore"
)

// orgScopeTables: for each org table, the columns whose value determines
// the org of a row, and the entity each names. Two columns naming the same
// entity join rows of the same org; a column equal to a parameter pins the
// row to the org of that entity.
var orgScopeTables = map[string]map[string]string{
	// orgs is keyed by the org itself (distributed by id in docs/scale.md).
	"orgs":         {"id": "org"},
	"memberships":  {"org_id": "org"},
	"invites":      {"org_id": "org", "id": "invite"},
	"projects":     {"org_id": "org", "id": "project"},
	"environments": {"org_id": "org", "id": "env", "project_id": "project"},
	// env_versions has no org_id column: its environment determines it.
	"env_versions": {"env_id": "env"},
	"deploys":      {"org_id": "org", "id": "deploy", "env_id": "env", "project_id": "project"},
	"audit_heads":  {"org_id": "org"},
	"audit_events": {"org_id": "org"},
}

// orgScopeGlobal: tables outside any org (reference tables when
// distributed) and goose's bookkeeping.
var orgScopeGlobal = map[string]bool{
	"users": true, "login_codes": true, "sessions": true, "rate_limits": true, "goose_db_version": true,
	// shares are found by their id: a request belongs to no org until a
	// member answers it, and the recipient who opens one has no account.
	"shares": true,
}

// orgScopeExceptions: cross-org statements on purpose, by normalised text.
var orgScopeExceptions = map[string]string{
	// GET /v1/orgs: the caller's orgs, found by user across all orgs.
	`select o.id, o.name, o.key_check, o.created_by, o.created_at, o.offline_grace_seconds, m.org_id, m.user_id, u.email, m.role, m.status, m.created_at, m.updated_at, m.revoked_at, coalesce(m.joined_at, m.created_at) from memberships m join users u on u.id = m.user_id join orgs o on o.id = m.org_id where m.user_id = $1 and m.status = 'active' order by o.created_at, o.id`:                                                                      "user's orgs (GET /v1/orgs, unpaged)",
	`select o.id, o.name, o.key_check, o.created_by, o.created_at, o.offline_grace_seconds, m.org_id, m.user_id, u.email, m.role, m.status, m.created_at, m.updated_at, m.revoked_at, coalesce(m.joined_at, m.created_at) from memberships m join users u on u.id = m.user_id join orgs o on o.id = m.org_id where m.user_id = $1 and m.status = 'active' order by o.created_at, o.id limit $2`:                                                             "user's orgs (GET /v1/orgs, first page)",
	`select o.id, o.name, o.key_check, o.created_by, o.created_at, o.offline_grace_seconds, m.org_id, m.user_id, u.email, m.role, m.status, m.created_at, m.updated_at, m.revoked_at, coalesce(m.joined_at, m.created_at) from memberships m join users u on u.id = m.user_id join orgs o on o.id = m.org_id where m.user_id = $1 and m.status = 'active' and o.created_at >= $2 and (o.created_at > $2 or o.id > $3) order by o.created_at, o.id limit $4`: "user's orgs (GET /v1/orgs, next page)",
	// capyd kek status/rotation: how many blobs each outer key wraps.
	`select substr(blob, 2, 4), count(*) from invites where revoked_at is null and consumed_at is null and expires_at > $1 group by substr(blob, 2, 4)`: "outer-key census of invites (capyd kek)",
	`select substr(blob, 2, 4), count(*) from deploys where revoked_at is null and (expires_at is null or expires_at > $1) group by substr(blob, 2, 4)`: "outer-key census of deploy tokens (capyd kek)",
}

// orgScopeCallOK: words allowed before "(": built-in functions that read
// no table, and SQL keywords.
var orgScopeCallOK = map[string]bool{
	"count": true, "coalesce": true, "length": true, "substr": true, "max": true, "min": true, "lower": true,
	"unnest": true, "any": true, "to_regclass": true,
	"and": true, "or": true, "not": true, "in": true, "values": true, "conflict": true, "as": true,
}

// orgScopeReport is what the analysis found out about one statement.
type orgScopeReport struct {
	Exception  string   // reason, when the statement is in orgScopeExceptions
	KeyAnchors []string // "table.column" anchors other than org_id/orgs.id
}

var (
	reSpace     = regexp.MustCompile(`\s+`)
	reTxControl = regexp.MustCompile(`^(begin( isolation level (read committed|repeatable read|serializable))?( read (write|only))?|commit|rollback)$`)
	reLocking   = regexp.MustCompile(` for (no key update|update|share|key share)( of [a-z_]+)?( nowait| skip locked)?`)
	reTableRef  = regexp.MustCompile(`\b(from|join|into|update)\s+([a-z_][a-z0-9_]*)(\s*\()?(?:\s+(?:as\s+)?([a-z_][a-z0-9_]*))?`)
	reRefused   = regexp.MustCompile(`--|/\*|;|"|\(\s*select\b|\b(union|except|intersect|right join|full join|cross join|natural|using|between|lateral)\b`)
	reKeyword   = regexp.MustCompile(`\b(where|on|join|left|inner|order|group|limit|offset|having|returning|set|values|on_conflict|from|select|window)\b`)
	reColRef    = `(?:([a-z_][a-z0-9_]*)\.)?([a-z_][a-z0-9_]*)`
	reEqParam   = regexp.MustCompile(`^` + reColRef + ` = \$([0-9]+)$`)
	reParamEq   = regexp.MustCompile(`^\$([0-9]+) = ` + reColRef + `$`)
	reEqCols    = regexp.MustCompile(`^` + reColRef + ` = ` + reColRef + `$`)
	reParam     = regexp.MustCompile(`^\$([0-9]+)$`)
	reInsert    = regexp.MustCompile(`^insert into ([a-z_]+) \(([a-z0-9_, ]+)\) `)
	reCommaJoin = regexp.MustCompile(`\b(from|join) [a-z_][a-z0-9_]*( (as )?[a-z_][a-z0-9_]*)? ?,`)
	reCall      = regexp.MustCompile(`(^|[^a-z0-9_.])([a-z_][a-z0-9_.]*) ?\(`)
	reWith      = regexp.MustCompile(`^with ([a-z_]+) as \(`)
	reCTE       = regexp.MustCompile(`^, ?([a-z_]+) as \(`)
	notAlias    = map[string]bool{"on": true, "where": true, "set": true, "join": true, "left": true, "inner": true, "order": true,
		"group": true, "limit": true, "for": true, "values": true, "returning": true, "as": true, "select": true, "on_conflict": true}
)

// normaliseSQL collapses whitespace and lower-cases.
func normaliseSQL(q string) string {
	return strings.ToLower(strings.TrimSpace(reSpace.ReplaceAllString(q, " ")))
}

// depthMask returns s with every character inside parentheses replaced by
// '_' (the parentheses themselves kept), so that keyword searches on it only
// see depth 0; indexes match s. ok is false for unbalanced parentheses.
func depthMask(s string) (masked string, ok bool) {
	b := []byte(s)
	depth, inStr := 0, false
	for i, c := range b {
		switch {
		case c == '\'':
			inStr = !inStr
			if depth > 0 {
				b[i] = '_'
			}
		case inStr:
			b[i] = '_'
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth < 0 {
				return "", false
			}
		case depth > 0:
			b[i] = '_'
		}
	}
	return string(b), depth == 0 && !inStr
}

// matchParen returns the index of the parenthesis closing the one at
// s[open], or -1.
func matchParen(s string, open int) int {
	depth, inStr := 0, false
	for i := open; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'':
			inStr = !inStr
		case inStr:
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// splitTop splits s at sep where sep occurs at parenthesis depth 0.
func splitTop(s, sep string) []string {
	m, _ := depthMask(s)
	var out []string
	for {
		i := strings.Index(m, sep)
		if i < 0 {
			return append(out, strings.TrimSpace(s))
		}
		out = append(out, strings.TrimSpace(s[:i]))
		s, m = s[i+len(sep):], m[i+len(sep):]
	}
}

// occurrence is one org table named in a statement.
type occurrence struct {
	table, alias string
	part         int // which part of a WITH statement
}

// analyseOrgScope checks one statement against the rules at the top of
// this file.
func analyseOrgScope(raw string) (orgScopeReport, error) {
	q := normaliseSQL(raw)
	if reTxControl.MatchString(q) {
		return orgScopeReport{}, nil
	}
	if why, ok := orgScopeExceptions[q]; ok {
		return orgScopeReport{Exception: why}, nil
	}
	// capyd admin and restore-check: the operator's view across orgs, by
	// design, marked by sqlstore's operatorTx; no request path runs them.
	if strings.HasPrefix(raw, sqlstore.OperatorMarker) {
		return orgScopeReport{Exception: "operator command across orgs (capyd admin, restore-check)"}, nil
	}
	if m := reRefused.FindString(q); m != "" {
		return orgScopeReport{}, fmt.Errorf("refused construct %q", m)
	}
	if reCommaJoin.MatchString(q) {
		return orgScopeReport{}, fmt.Errorf("comma join")
	}
	// A function could read any table: only built-ins that cannot are
	// allowed, besides the words that precede a parenthesis in SQL.
	for _, m := range reCall.FindAllStringSubmatchIndex(q, -1) {
		name := q[m[4]:m[5]]
		if orgScopeCallOK[name] || orgScopeGlobal[name] || orgScopeTables[name] != nil {
			continue
		}
		if before := strings.TrimSpace(q[:m[4]]); strings.HasSuffix(before, " as") {
			continue // a column-list alias: unnest(…) AS r (seq, …)
		}
		return orgScopeReport{}, fmt.Errorf("unknown function or shape %s(", name)
	}
	if _, ok := depthMask(q); !ok {
		return orgScopeReport{}, fmt.Errorf("unbalanced parentheses or quotes")
	}
	// ON CONFLICT … DO UPDATE SET is not a table reference, and row-lock
	// clauses name tables already in FROM.
	q = strings.ReplaceAll(q, "on conflict", "on_conflict")
	q = strings.ReplaceAll(q, "do update set", "do_update set")
	q = reLocking.ReplaceAllString(q, "")

	// A WITH statement is analysed as its parts: each CTE body and the
	// main statement. Anchors are shared across parts ($n is one value).
	var parts []string
	if reWith.MatchString(q) {
		q = "," + strings.TrimPrefix(q, "with")
		for {
			m := reCTE.FindStringIndex(q)
			if m == nil {
				break
			}
			end := matchParen(q, m[1]-1)
			if end < 0 {
				return orgScopeReport{}, fmt.Errorf("unterminated WITH")
			}
			parts = append(parts, strings.TrimSpace(q[m[1]:end]))
			q = strings.TrimSpace(q[end+1:])
		}
	}
	parts = append(parts, q)

	an := &scopeAnalysis{parent: map[string]string{}}
	var rep orgScopeReport
	for pi, p := range parts {
		if err := an.part(pi, p, &rep); err != nil {
			return rep, err
		}
	}
	if len(an.occ) == 0 {
		return rep, nil
	}
	roots := map[string]bool{}
	for _, o := range an.occ {
		roots[an.find(an.node(o))] = true
	}
	if len(roots) > 1 {
		return rep, fmt.Errorf("org tables in %d unlinked groups: the statement may touch two orgs", len(roots))
	}
	anchored := false
	for a := range an.anchors {
		if roots[an.find(a)] {
			anchored = true
		}
	}
	if !anchored {
		return rep, fmt.Errorf("no org_id (or org-determining key) equality with a parameter")
	}
	for a := range an.anchors {
		if strings.HasPrefix(a, "anchor:org:") {
			rep.KeyAnchors = nil // org_id itself pins the statement
			return rep, nil
		}
	}
	sort.Strings(rep.KeyAnchors)
	return rep, nil
}

// scopeAnalysis is a union-find over table occurrences and anchors.
type scopeAnalysis struct {
	parent  map[string]string
	occ     []occurrence
	anchors map[string]bool
}

func (a *scopeAnalysis) node(o occurrence) string { return fmt.Sprintf("occ:%d:%s", o.part, o.alias) }

func (a *scopeAnalysis) find(x string) string {
	for {
		p, ok := a.parent[x]
		if !ok || p == x {
			return x
		}
		x = p
	}
}

func (a *scopeAnalysis) union(x, y string) { a.parent[a.find(x)] = a.find(y) }

func (a *scopeAnalysis) anchor(o occurrence, col, param string, rep *orgScopeReport) {
	entity := orgScopeTables[o.table][col]
	n := "anchor:" + entity + ":$" + param
	if a.anchors == nil {
		a.anchors = map[string]bool{}
	}
	a.anchors[n] = true
	a.union(a.node(o), n)
	if entity != "org" {
		k := o.table + "." + col
		for _, e := range rep.KeyAnchors {
			if e == k {
				return
			}
		}
		rep.KeyAnchors = append(rep.KeyAnchors, k)
	}
}

// part analyses one statement (a WITH's CTE body or main statement).
func (a *scopeAnalysis) part(pi int, q string, rep *orgScopeReport) error {
	verb, _, _ := strings.Cut(q, " ")
	switch verb {
	case "select", "insert", "update", "delete":
	default:
		return fmt.Errorf("unknown statement kind %q", verb)
	}
	// Table references: org ones become occurrences; unknown ones fail.
	var occs []occurrence
	all := 0
	for _, m := range reTableRef.FindAllStringSubmatch(q, -1) {
		name, call, alias := m[2], m[3], m[4]
		if call != "" {
			if name == "unnest" && m[1] == "from" {
				continue // rows from array parameters
			}
			if m[1] == "into" {
				alias = "" // INSERT INTO t (cols)
			} else {
				return fmt.Errorf("unknown row source %s(", name)
			}
		}
		all++
		if orgScopeGlobal[name] {
			continue
		}
		if _, ok := orgScopeTables[name]; !ok {
			return fmt.Errorf("table %q is neither an org table nor a global one", name)
		}
		if alias == "" || notAlias[alias] {
			alias = name
		}
		for _, o := range occs {
			if o.alias == alias {
				return fmt.Errorf("alias %q used twice", alias)
			}
		}
		occs = append(occs, occurrence{table: name, alias: alias, part: pi})
	}
	if len(occs) == 0 {
		return nil
	}
	a.occ = append(a.occ, occs...)
	byAlias := map[string]occurrence{}
	for _, o := range occs {
		byAlias[o.alias] = o
	}
	// resolve maps a column reference to its occurrence: qualified by
	// alias, or unqualified when the part names a single table.
	resolve := func(qual, col string) (occurrence, bool) {
		if qual == "" {
			if all != 1 || len(occs) != 1 {
				return occurrence{}, false
			}
			return occs[0], true
		}
		o, ok := byAlias[qual]
		return o, ok
	}
	orgCol := func(o occurrence, col string) bool { _, ok := orgScopeTables[o.table][col]; return ok }

	// INSERT: the org-determining columns' values.
	if verb == "insert" {
		m := reInsert.FindStringSubmatch(q)
		if m == nil {
			return fmt.Errorf("unknown INSERT shape")
		}
		target := byAlias[m[1]]
		cols := splitTop(m[2], ",")
		rest := q[len(m[0]):]
		var vals []string
		switch {
		case strings.HasPrefix(rest, "values ("):
			end := matchParen(rest, len("values (")-1)
			if end < 0 {
				return fmt.Errorf("unterminated VALUES")
			}
			if tail := strings.TrimSpace(rest[end+1:]); strings.HasPrefix(tail, ",") {
				return fmt.Errorf("multi-row VALUES")
			}
			vals = splitTop(rest[len("values ("):end], ",")
		case strings.HasPrefix(rest, "select "):
			mask, _ := depthMask(rest)
			i := strings.Index(mask, " from ")
			if i < 0 {
				return fmt.Errorf("INSERT … SELECT without FROM")
			}
			vals = splitTop(rest[len("select "):i], ",")
		default:
			return fmt.Errorf("unknown INSERT source")
		}
		if len(vals) != len(cols) {
			return fmt.Errorf("INSERT has %d columns and %d values", len(cols), len(vals))
		}
		for i, c := range cols {
			// A new row's own id names nothing yet: only the org, or
			// the parent it belongs to, pins it (orgs.id is the org).
			if c == "id" && target.table != "orgs" {
				continue
			}
			if orgCol(target, c) {
				if pm := reParam.FindStringSubmatch(vals[i]); pm != nil {
					a.anchor(target, c, pm[1], rep)
				}
			}
		}
	}

	// Clauses at depth 0: WHERE and ON give conjuncts; SET is checked.
	mask, _ := depthMask(q)
	kws := reKeyword.FindAllStringIndex(mask, -1)
	for i, k := range kws {
		kw := q[k[0]:k[1]]
		end := len(q)
		if i+1 < len(kws) {
			end = kws[i+1][0]
		}
		clause := strings.TrimSpace(q[k[1]:end])
		switch kw {
		case "set":
			target := occs[0]
			if verb == "update" {
				m := reTableRef.FindStringSubmatch(q)
				target = byAlias[aliasOr(m[4], m[2])]
			}
			for _, asg := range splitTop(clause, ",") {
				col, _, _ := strings.Cut(asg, " =")
				if orgCol(target, strings.TrimSpace(col)) {
					return fmt.Errorf("SET of %s.%s moves a row between orgs", target.table, col)
				}
			}
		case "where", "on":
			cm, _ := depthMask(clause)
			if strings.Contains(cm, " or ") {
				continue // a disjunction pins nothing
			}
			for _, c := range splitTop(clause, " and ") {
				if m := reParamEq.FindStringSubmatch(c); m != nil {
					c = fmt.Sprintf("%s = $%s", joinRef(m[2], m[3]), m[1])
				}
				if m := reEqParam.FindStringSubmatch(c); m != nil {
					if o, ok := resolve(m[1], m[2]); ok && orgCol(o, m[2]) {
						a.anchor(o, m[2], m[3], rep)
					}
					continue
				}
				if m := reEqCols.FindStringSubmatch(c); m != nil {
					o1, ok1 := resolve(m[1], m[2])
					o2, ok2 := resolve(m[3], m[4])
					if ok1 && ok2 && orgCol(o1, m[2]) && orgCol(o2, m[4]) &&
						orgScopeTables[o1.table][m[2]] == orgScopeTables[o2.table][m[4]] {
						a.union(a.node(o1), a.node(o2))
					}
				}
			}
		}
	}
	return nil
}

func aliasOr(alias, name string) string {
	if alias == "" || notAlias[alias] {
		return name
	}
	return alias
}

func joinRef(qual, col string) string {
	if qual == "" {
		return col
	}
	return qual + "." + col
}

// statementLog is a pgx QueryTracer that keeps each distinct statement text.
type statementLog struct {
	mu   sync.Mutex
	seen map[string]int
}

func newStatementLog() *statementLog { return &statementLog{seen: map[string]int{}} }

func (l *statementLog) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	l.mu.Lock()
	l.seen[d.SQL]++
	l.mu.Unlock()
	return ctx
}

func (l *statementLog) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// check analyses every logged statement; it fails t for each that breaks
// the rules and logs the ones anchored by a key other than org_id. With
// wholeSuite, it also checks that the tracer saw the suite's statements.
func (l *statementLog) check(t *testing.T, wholeSuite bool) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	texts := make([]string, 0, len(l.seen))
	for q := range l.seen {
		texts = append(texts, q)
	}
	sort.Strings(texts)
	seenExc := map[string]bool{}
	keyed := 0
	for _, q := range texts {
		rep, err := analyseOrgScope(q)
		if err != nil {
			t.Errorf("statement not scoped to one org: %v:\n\t%s", err, normaliseSQL(q))
			continue
		}
		if rep.Exception != "" {
			seenExc[normaliseSQL(q)] = true
		}
		if len(rep.KeyAnchors) > 0 {
			keyed++
			t.Logf("org by key %s: %s", strings.Join(rep.KeyAnchors, ", "), normaliseSQL(q))
		}
	}
	t.Logf("org_id statement check: %d distinct statements, %d scoped by a key other than org_id, %d cross-org exceptions", len(texts), keyed, len(seenExc))
	if wholeSuite && len(texts) < 100 {
		t.Errorf("only %d distinct statements were logged: is the tracer installed?", len(texts))
	}
}

// The checker on literal statements: the unscoped shapes are refused.
func TestOrgScopeCheckerRefuses(t *testing.T) {
	bad := []string{
		// no org at all
		`SELECT org_id, seq FROM audit_events ORDER BY seq`,
		`SELECT m.org_id FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = $1`,
		`UPDATE deploys SET revoked_at = $1 WHERE revoked_at IS NULL`,
		`DELETE FROM audit_events WHERE seq = $1`,
		`INSERT INTO projects (id, name, created_by, created_at) VALUES ($1, $2, $3, $4)`,
		// org_id under OR, or not a plain parameter
		`SELECT id FROM projects WHERE org_id = $1 OR name = $2`,
		`SELECT id FROM projects WHERE org_id = ANY($1)`,
		`SELECT id FROM projects WHERE org_id = $1::text`,
		`SELECT id FROM projects WHERE org_id <> $1`,
		`SELECT id FROM projects WHERE org_id = name`,
		`INSERT INTO projects (id, org_id, name, created_by, created_at) VALUES ($1, lower($2), $3, $4, $5)`,
		// two orgs
		`SELECT a.user_id FROM memberships a JOIN memberships b ON b.user_id = a.user_id WHERE a.org_id = $1`,
		`SELECT a.user_id FROM memberships a JOIN memberships b ON b.user_id = a.user_id WHERE a.org_id = $1 AND b.org_id = $2`,
		`SELECT e.id FROM environments e JOIN deploys d ON d.project_id = e.id WHERE e.org_id = $1`,
		// moving a row between orgs
		`UPDATE projects SET org_id = $2 WHERE id = $1`,
		// unknown shapes and tables
		`SELECT id FROM projects WHERE org_id = (SELECT org_id FROM environments WHERE id = $1)`,
		`SELECT id FROM projects, environments WHERE projects.org_id = $1`,
		`SELECT id FROM projects WHERE org_id = $1; DELETE FROM projects`,
		`SELECT id FROM secrets WHERE org_id = $1`,
		`SELECT id FROM public.projects WHERE org_id = $1`,
		`SELECT id FROM "projects" WHERE org_id = $1`,
		`TRUNCATE audit_events`,
		`SELECT capy_org_stats($1)`,
		`SELECT id FROM projects WHERE org_id = $1 AND pg_catalog.pg_sleep(0) IS NOT NULL`,
		`SELECT id FROM projects WHERE org_id = $1 AND EXISTS (SELECT 1)`,
		`SELECT id FROM projects WHERE org_id = $1 UNION SELECT id FROM projects`,
		`SELECT id FROM projects p RIGHT JOIN environments e ON e.project_id = p.id WHERE p.org_id = $1`,
	}
	for _, q := range bad {
		if _, err := analyseOrgScope(q); err == nil {
			t.Errorf("accepted an unscoped statement:\n\t%s", q)
		}
	}
	good := map[string][]string{
		`SELECT id FROM projects WHERE org_id = $1 AND name = $2`:                                                                                                    nil,
		`SELECT m.role FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 AND u.email = $2`:                                                     nil,
		`SELECT v.blob FROM env_versions v JOIN environments e ON e.id = v.env_id WHERE e.org_id = $1 AND e.id = $2`:                                                 nil,
		`SELECT 1 FROM users WHERE email = $1`:                                                                                                                       nil,
		`DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2`:                                                                                          nil,
		`INSERT INTO projects (id, org_id, name, created_by, created_at) VALUES ($1, $2, $3, $4, $5)`:                                                                nil,
		`UPDATE environments SET head_version = $2 WHERE id = $1`:                                                                                                    {"environments.id"},
		`SELECT seq FROM audit_heads WHERE org_id = $1 FOR NO KEY UPDATE OF audit_heads`:                                                                             nil,
		`WITH x AS (INSERT INTO audit_events (org_id, seq) SELECT $1, r.seq FROM unnest($2::bigint[]) AS r (seq)) UPDATE audit_heads SET seq = $3 WHERE org_id = $1`: nil,
	}
	for q, keys := range good {
		rep, err := analyseOrgScope(q)
		if err != nil {
			t.Errorf("refused a scoped statement: %v:\n\t%s", err, q)
			continue
		}
		if strings.Join(rep.KeyAnchors, ",") != strings.Join(keys, ",") {
			t.Errorf("key anchors %v, want %v:\n\t%s", rep.KeyAnchors, keys, q)
		}
	}
	// Two parts anchored by different parameters: two orgs.
	if _, err := analyseOrgScope(`WITH x AS (INSERT INTO audit_events (org_id, seq) SELECT $1, r.seq FROM unnest($2::bigint[]) AS r (seq)) UPDATE audit_heads SET seq = $3 WHERE org_id = $4`); err == nil {
		t.Error("accepted a WITH statement writing two orgs")
	}
}

// A deliberately unscoped query sent through a traced pool is logged and
// caught: the tracer sees what the store's pool runs, and check fails on it.
func TestOrgScopeCatchesUnscopedQuery(t *testing.T) {
	url := pgtest.NewDatabase(t)
	if _, err := Migrate(context.Background(), url); err != nil {
		t.Fatal(err)
	}
	log := newStatementLog()
	pc, err := poolConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	pc.ConnConfig.Tracer = log
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var n int64
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_events WHERE actor = $1`, "u_x").Scan(&n); err != nil {
		t.Fatal(err)
	}
	var failed []string
	for q := range log.seen {
		if _, err := analyseOrgScope(q); err != nil {
			failed = append(failed, q)
		}
	}
	if len(failed) != 1 || !strings.Contains(failed[0], "FROM audit_events WHERE actor") {
		t.Fatalf("the unscoped query was not caught; refused: %q", failed)
	}
}

// Every table the migrations create is classified as org or global.
func TestOrgScopeTablesClassified(t *testing.T) {
	files, err := filepath.Glob("../../../migrations/postgres/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations found: %v", err)
	}
	re := regexp.MustCompile(`(?i)create table (?:if not exists )?([a-z_][a-z0-9_]*)`)
	seen := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			seen++
			name := strings.ToLower(m[1])
			if _, ok := orgScopeTables[name]; !ok && !orgScopeGlobal[name] {
				t.Errorf("%s: table %s is neither in orgScopeTables nor orgScopeGlobal", filepath.Base(f), name)
			}
		}
	}
	if seen < 13 {
		t.Errorf("found %d CREATE TABLEs, expected at least 13", seen)
	}
}
