package capyd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/capy-oss/capy/internal/store"
	"github.com/capy-oss/capy/internal/store/storeopen"
)

func backupCommand(e *env, cmd func(*cli.Command) *cli.Command) *cli.Command {
	return cmd(&cli.Command{
		Name:  "backup",
		Usage: "copy the SQLite database, consistently, into a new file (while capyd serves)",
		Description: "Writes one snapshot of the database (SQLite VACUUM INTO) to a new file, created 0600;\n" +
			"an existing file is never overwritten. capyd may be serving meanwhile. The KEK and the\n" +
			"pepper are not in the copy: back them up apart (the command says where they are).\n" +
			"PostgreSQL is backed up with pg_dump: the command refuses and prints the recipe.",
		Flags: append(flags("backup"), &cli.StringFlag{Name: "to", Usage: "the new backup `FILE`"}),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageError{errors.New("backup takes no arguments; name the new file with --to FILE")}
			}
			to := c.String("to")
			if to == "" {
				return usageError{errors.New("backup needs --to FILE, the new file to write")}
			}
			cfg, err := configFor(c, "backup")
			if err != nil {
				return err
			}
			ctx, cancel := signalContext(e.signals)
			defer cancel()
			return backup(ctx, cfg, to, e.stdout, e.stderr)
		},
	})
}

// backup is `capyd backup --to FILE`.
func backup(ctx context.Context, cfg Config, to string, stdout, stderr io.Writer) error {
	kind, where := databaseDescription(cfg.Database)
	if kind == storeopen.Postgres {
		return postgresBackupRecipe(where)
	}
	if _, err := os.Stat(where); errors.Is(err, fs.ErrNotExist) {
		return &configError{msg: fmt.Sprintf("no database at %s", where), hints: []string{"check --database / --data-dir"}}
	}
	err := storeopen.Backup(ctx, cfg.Database, to)
	switch {
	case ctx.Err() != nil:
		return errInterrupted
	case errors.Is(err, fs.ErrExist):
		return &refusal{msg: fmt.Sprintf("%s already exists; capyd backup never overwrites a file", to),
			hints: []string{"name a new file, e.g. --to capyd-$(date +%Y%m%d-%H%M%S).db"}}
	case err != nil:
		return fmt.Errorf("back up %s: %w", where, err)
	}
	// Read the copy back, as restore-check would: its schema and size.
	summary := ""
	if st, err := storeopen.OpenReadOnly(ctx, to, store.Config{CodePepper: throwawayPepper()}); err == nil {
		if inv, err := st.Inventory(ctx); err == nil {
			summary = fmt.Sprintf(": schema version %d, %s", inv.SchemaVersion, inventorySummary(inv))
		}
		st.Close()
	}
	fmt.Fprintf(stderr, "capyd: backed up sqlite database %s to %s%s\n", where, to, summary)
	for _, l := range keyReminder(cfg) {
		fmt.Fprintf(stderr, "capyd: reminder: %s\n", l)
	}
	fmt.Fprintln(stdout, to)
	return nil
}

// inventorySummary is "3 orgs, 12 users, 240 environment versions, 1024
// audit rows".
func inventorySummary(inv store.Inventory) string {
	rows := map[string]int64{}
	for _, t := range inv.Tables {
		rows[t.Table] = t.Rows
	}
	return strings.Join([]string{
		count(rows["orgs"], "organisation"), count(rows["users"], "user"),
		count(rows["env_versions"], "environment version"), count(rows["audit_events"], "audit row"),
	}, ", ")
}

// keyReminder says where the KEK and the pepper are, which no database
// backup holds: a reminder, never a copy.
func keyReminder(cfg Config) []string {
	where := func(env, path string) string {
		if env != "" {
			return "the value of " + env + " (environment): keep it in your secret store"
		}
		if _, err := os.Stat(path); err != nil {
			return path + " (not found here: is this capyd's --data-dir?)"
		}
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
		return path
	}
	kek, pepper := where("", cfg.KEKFile), where("", cfg.PepperFile)
	if cfg.KEK != "" {
		kek = where("CAPYD_KEK", "")
	}
	if cfg.Pepper != "" {
		pepper = where("CAPYD_PEPPER", "")
	}
	return []string{
		"the backup holds the database only, never the KEK or the pepper; back those up too, apart from",
		"the database backups (together they are what the outer wrap keeps apart):",
		"  KEK:    " + kek,
		"  pepper: " + pepper,
		"a restore without that KEK opens no stored invite or deploy code and no member's key.enc",
	}
}

// postgresBackupRecipe refuses a PostgreSQL backup and says how to make
// one with PostgreSQL's own tools.
func postgresBackupRecipe(where string) error {
	return &refusal{
		msg: fmt.Sprintf("capyd backup copies SQLite databases; this capyd uses PostgreSQL (%s): back it up with pg_dump", where),
		hints: []string{
			"pg_dump takes a consistent snapshot while capyd serves (custom format, compressed):",
			`  pg_dump --format=custom --file=capyd-$(date +%Y%m%d-%H%M%S).dump "$CAPYD_DATABASE"`,
			"restore into a new, empty database, then check it before pointing capyd at it:",
			`  createdb capyd_restored && pg_restore --exit-on-error --no-owner --dbname=capyd_restored capyd-….dump`,
			`  CAPYD_DATABASE=postgres://…/capyd_restored capyd restore-check`,
			"the KEK and the pepper are not in the database: back up CAPYD_KEK / the KEK file and the pepper apart",
			"or use your provider's snapshots and point-in-time recovery (docs/server.md, \"Backups\")",
		},
	}
}

func restoreCheckCommand(e *env, cmd func(*cli.Command) *cli.Command, withJSON func([]cli.Flag) []cli.Flag) *cli.Command {
	return cmd(&cli.Command{
		Name:      "restore-check",
		Usage:     "check a backup before restoring it: schema version, row counts, every audit chain",
		ArgsUsage: "[FILE]",
		Description: "Opens a SQLite backup read-only (nothing is written to it or beside it), or with no\n" +
			"FILE the PostgreSQL database that --database / CAPYD_DATABASE names (one restored\n" +
			"from pg_dump, in read-only transactions). Prints its schema version against this\n" +
			"binary's, the rows of every table, and verifies every organisation's audit chain.\n" +
			"Exit status 1 on any problem.",
		Flags: withJSON(flags("restore-check")),
		Action: func(c *cli.Context) error {
			if c.NArg() > 1 {
				return usageError{errors.New("restore-check takes one backup FILE (flags go before it)")}
			}
			cfg, err := configFor(c, "restore-check")
			if err != nil {
				return err
			}
			database := c.Args().First()
			if database == "" {
				if kind, _ := storeopen.Parse(cfg.Database); kind != storeopen.Postgres || !cfg.isSet("database") {
					return usageError{errors.New("restore-check needs the backup FILE (or, for PostgreSQL, CAPYD_DATABASE naming the restored database)")}
				}
				database = cfg.Database
			}
			ctx, cancel := signalContext(e.signals)
			defer cancel()
			err = restoreCheck(ctx, database, e.stdout, c.Bool("json"))
			if ctx.Err() != nil {
				return errInterrupted
			}
			return err
		},
	})
}

// restoreReport is what restore-check found (its --json).
type restoreReport struct {
	Database      string           `json:"database"`
	Kind          string           `json:"kind"`
	SchemaVersion int64            `json:"schema_version"`
	BinarySchema  int64            `json:"binary_schema_version"`
	Tables        map[string]int64 `json:"tables"`
	// Integrity is the database's own structure check: "ok", "damaged"
	// (its findings are in Problems) or "not checked" (PostgreSQL).
	Integrity string         `json:"integrity"`
	Orgs      []orgChainJSON `json:"orgs"`
	Problems  []string       `json:"problems"`
}

type orgChainJSON struct {
	ID          string `json:"id"`
	Valid       bool   `json:"valid"`
	Rows        int64  `json:"rows"`
	FirstBadSeq *int64 `json:"first_bad_seq"`
}

// restoreCheck is `capyd restore-check`.
func restoreCheck(ctx context.Context, database string, w io.Writer, asJSON bool) error {
	kind, where := databaseDescription(database)
	if kind == storeopen.SQLite {
		if _, err := os.Stat(where); err != nil {
			return &configError{msg: fmt.Sprintf("no backup at %s", where)}
		}
		// immutable=1 ignores a -wal file: what a live database has
		// committed there would be invisible, and its check meaningless.
		if _, err := os.Stat(where + "-wal"); err == nil {
			return &refusal{msg: fmt.Sprintf("%s has a -wal file beside it: it is a live database, not a backup", where),
				hints: []string{"check a copy made by 'capyd backup --to FILE' instead"}}
		}
	}
	st, err := storeopen.OpenReadOnly(ctx, database, store.Config{CodePepper: throwawayPepper()})
	if err != nil {
		return &refusal{msg: fmt.Sprintf("cannot open %s read-only: %v", where, err)}
	}
	defer st.Close()
	rep := restoreReport{Database: where, Kind: string(kind), BinarySchema: storeopen.SchemaVersion(kind),
		Tables: map[string]int64{}, Orgs: []orgChainJSON{}, Problems: []string{}}
	inv, err := st.Inventory(ctx)
	if err != nil {
		return &refusal{msg: fmt.Sprintf("%s is not a capyd database, or it is damaged: %v", where, err)}
	}
	rep.SchemaVersion = inv.SchemaVersion
	for _, t := range inv.Tables {
		rep.Tables[t.Table] = t.Rows
	}
	var notes []string
	switch {
	case !inv.IntegrityChecked:
		rep.Integrity = "not checked"
	case len(inv.IntegrityProblems) == 0:
		rep.Integrity = "ok"
	default:
		rep.Integrity = "damaged"
		const shown = 10 // integrity_check can list thousands of lines for one bad page
		for i, p := range inv.IntegrityProblems {
			if i == shown {
				rep.Problems = append(rep.Problems, fmt.Sprintf("the file's structure check found %d more problem(s)", len(inv.IntegrityProblems)-shown))
				break
			}
			rep.Problems = append(rep.Problems, "the file's structure check: "+p)
		}
	}
	switch {
	case inv.SchemaVersion > rep.BinarySchema:
		rep.Problems = append(rep.Problems, fmt.Sprintf("schema version %d is newer than this capyd knows (%d): check and serve it with the capyd that wrote it, or a newer one", inv.SchemaVersion, rep.BinarySchema))
	case inv.SchemaVersion < rep.BinarySchema:
		notes = append(notes, fmt.Sprintf("schema version %d is older than this capyd's %d: capyd migrates it when it serves it", inv.SchemaVersion, rep.BinarySchema))
	}
	orgs, err := st.ListAllOrgs(ctx)
	if err != nil {
		return fmt.Errorf("list the organisations of %s: %w", where, err)
	}
	var chainRows int64
	for _, o := range orgs {
		v, err := st.AuditStatus(ctx, o.ID)
		if err != nil {
			return fmt.Errorf("verify the audit chain of %s: %w", o.ID, err)
		}
		j := orgChainJSON{ID: o.ID, Valid: v.Valid, Rows: v.Rows}
		chainRows += v.Rows
		if !v.Valid {
			j.FirstBadSeq = &v.FirstBadSeq
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s: the audit chain is broken at seq %d", o.ID, v.FirstBadSeq))
		}
		rep.Orgs = append(rep.Orgs, j)
	}
	if chainRows != rep.Tables["audit_events"] {
		rep.Problems = append(rep.Problems, fmt.Sprintf("the chains hold %d audit rows, the table %d", chainRows, rep.Tables["audit_events"]))
	}

	if asJSON {
		if err := writeJSON(w, rep); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(w, "%s database %s: schema version %d (this capyd: %d)\n", kind, where, inv.SchemaVersion, rep.BinarySchema)
		for _, n := range notes {
			fmt.Fprintf(w, "note: %s\n", n)
		}
		for _, t := range inv.Tables {
			fmt.Fprintf(w, "  %-14s %d\n", t.Table, t.Rows)
		}
		fmt.Fprintf(w, "structure check: %s\n", rep.Integrity)
		valid := 0
		for _, o := range rep.Orgs {
			if o.Valid {
				valid++
			}
		}
		fmt.Fprintf(w, "audit chains: %d of %s verified (%s)\n", valid, count(int64(len(rep.Orgs)), "organisation"), count(chainRows, "row"))
		for _, p := range rep.Problems {
			fmt.Fprintf(w, "PROBLEM: %s\n", p)
		}
		if len(rep.Problems) == 0 {
			fmt.Fprintln(w, "ok: the backup is usable by this capyd (the KEK and the pepper it needs are not in it)")
		}
	}
	if len(rep.Problems) > 0 {
		return &refusal{msg: fmt.Sprintf("%s: %s", where, count(int64(len(rep.Problems)), "problem")),
			hints: []string{"do not restore it as it is; check an older backup"}}
	}
	return nil
}
