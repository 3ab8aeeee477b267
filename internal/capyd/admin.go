package capyd

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/urfave/cli/v2"

	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/store"
	"github.com/capy-oss/capy/internal/store/storeopen"
)

// opsCommands are the operator's commands on the database itself:
// `capyd admin …`, `capyd backup` and `capyd restore-check`
// (docs/server.md "capyd admin", "Backups").
func opsCommands(e *env, cmd func(*cli.Command) *cli.Command) []*cli.Command {
	jsonFlag := func() cli.Flag { return &cli.BoolFlag{Name: "json", Usage: "print JSON"} }
	withJSON := func(fl []cli.Flag) []cli.Flag { return append(fl, jsonFlag()) }
	// admin runs fn on the store named by the settings, opened as `kek
	// retire` opens it (no migration, no creation, no real pepper).
	admin := func(c *cli.Context, fn func(ctx context.Context, st store.Store) error) error {
		cfg, err := configFor(c, "admin")
		if err != nil {
			return err
		}
		ctx, cancel := signalContext(e.signals)
		defer cancel()
		st, err := openExisting(ctx, cfg, "the admin commands work on capyd's database")
		if err != nil {
			return err
		}
		defer st.Close()
		if err := fn(ctx, st); err != nil {
			if ctx.Err() != nil {
				return errInterrupted
			}
			return err
		}
		return nil
	}
	emailArg := func(c *cli.Context, what string) (string, error) {
		if c.NArg() > 1 && strings.HasPrefix(c.Args().Get(1), "-") {
			return "", usageError{fmt.Errorf("admin %s: flags go before the address (capyd admin %s [flags] EMAIL)", what, what)}
		}
		if c.NArg() != 1 {
			return "", usageError{fmt.Errorf("admin %s takes one e-mail address", what)}
		}
		email, err := ident.CanonicalEmail(c.Args().First())
		if err != nil {
			return "", usageError{fmt.Errorf("admin %s: %v", what, err)}
		}
		return email, nil
	}
	noArgs := func(c *cli.Context, what string) error {
		if c.NArg() > 0 {
			return usageError{fmt.Errorf("admin %s takes no arguments", what)}
		}
		return nil
	}
	return []*cli.Command{
		cmd(&cli.Command{
			Name:  "admin",
			Usage: "look after users and organisations in the database (never a value or a key)",
			Description: "Works on the database directly, as 'capyd kek retire' does (--database, --data-dir),\n" +
				"while capyd serves or not. None of these commands reads a stored value, key or code:\n" +
				"they read and write user, membership, session and audit rows only.",
			Flags: flags("admin"),
			Subcommands: []*cli.Command{
				cmd(&cli.Command{
					Name: "orgs", Usage: "list the organisations: id, name, members, created, audit rows",
					Flags: withJSON(flags("admin")),
					Action: func(c *cli.Context) error {
						if err := noArgs(c, "orgs"); err != nil {
							return err
						}
						return admin(c, func(ctx context.Context, st store.Store) error {
							orgs, err := st.ListAllOrgs(ctx)
							if err != nil {
								return fmt.Errorf("list the organisations: %w", err)
							}
							return printOrgs(e.stdout, orgs, c.Bool("json"))
						})
					},
				}),
				cmd(&cli.Command{
					Name: "users", Usage: "list the users: id, e-mail, organisations, last seen, disabled",
					Flags: withJSON(flags("admin")),
					Action: func(c *cli.Context) error {
						if err := noArgs(c, "users"); err != nil {
							return err
						}
						return admin(c, func(ctx context.Context, st store.Store) error {
							users, err := st.ListAllUsers(ctx)
							if err != nil {
								return fmt.Errorf("list the users: %w", err)
							}
							return printUsers(e.stdout, users, c.Bool("json"))
						})
					},
				}),
				cmd(&cli.Command{
					Name: "disable-user", Usage: "stop a user from signing in anywhere and end their sessions",
					ArgsUsage: "EMAIL (after the flags)",
					Description: "The user can no longer sign in, every session of theirs ends at once, and every\n" +
						"organisation in which they are an active member gets a user-disable row (actor\n" +
						"operator) in its audit chain. Memberships, invites and deploy codes stay as they are:\n" +
						"an organisation's admins remove the member with 'capy kick'. 'enable-user' undoes it.",
					Flags: flags("admin"),
					Action: func(c *cli.Context) error {
						email, err := emailArg(c, "disable-user")
						if err != nil {
							return err
						}
						return admin(c, func(ctx context.Context, st store.Store) error {
							res, err := st.DisableUser(ctx, email)
							if err != nil {
								return userError(email, err)
							}
							if !res.Changed {
								fmt.Fprintf(e.stdout, "%s (%s) was already disabled; %s ended\n", email, res.User.ID, count(res.EndedSessions, "session"))
								return nil
							}
							fmt.Fprintf(e.stdout, "disabled %s (%s): %s ended; %s\n", email, res.User.ID, count(res.EndedSessions, "session"), auditNote(res.Audit))
							fmt.Fprintf(e.stderr, "capyd: note: memberships, invites and deploy codes are unchanged; an organisation's admin removes the member with 'capy kick'\n")
							return nil
						})
					},
				}),
				cmd(&cli.Command{
					Name: "enable-user", Usage: "let a disabled user sign in again", ArgsUsage: "EMAIL (after the flags)",
					Flags: flags("admin"),
					Action: func(c *cli.Context) error {
						email, err := emailArg(c, "enable-user")
						if err != nil {
							return err
						}
						return admin(c, func(ctx context.Context, st store.Store) error {
							res, err := st.EnableUser(ctx, email)
							if err != nil {
								return userError(email, err)
							}
							if !res.Changed {
								fmt.Fprintf(e.stdout, "%s (%s) is not disabled; nothing changed\n", email, res.User.ID)
								return nil
							}
							fmt.Fprintf(e.stdout, "enabled %s (%s): they may sign in again; %s\n", email, res.User.ID, auditNote(res.Audit))
							return nil
						})
					},
				}),
				cmd(&cli.Command{
					Name: "end-sessions", Usage: "end every session of a user (they may sign in again)", ArgsUsage: "EMAIL (after the flags)",
					Description: "A lost laptop, or a leaked session token: every machine of the user must sign in\n" +
						"again with a new code. Sessions belong to no organisation, so no audit row is\n" +
						"written (as for a logout). To keep the user out, use 'disable-user'.",
					Flags: flags("admin"),
					Action: func(c *cli.Context) error {
						email, err := emailArg(c, "end-sessions")
						if err != nil {
							return err
						}
						return admin(c, func(ctx context.Context, st store.Store) error {
							n, err := st.EndUserSessions(ctx, email)
							if err != nil {
								return userError(email, err)
							}
							fmt.Fprintf(e.stdout, "ended %s of %s\n", count(n, "session"), email)
							return nil
						})
					},
				}),
				cmd(&cli.Command{
					Name: "audit-status", Usage: "recompute an organisation's audit chain: verified, or broken at seq N",
					ArgsUsage: "ORG (after the flags)",
					Description: "Exit status 0 when the chain verifies, 1 when it is broken (also with --json).\n" +
						"Members' own proof is 'capy audit --verify', which also checks the heads their\n" +
						"machines kept; this is the operator's view of the stored rows.",
					Flags: withJSON(flags("admin")),
					Action: func(c *cli.Context) error {
						if c.NArg() != 1 {
							return usageError{errors.New("admin audit-status takes one organisation id (capyd admin audit-status [flags] ORG)")}
						}
						org := c.Args().First()
						if ident.CheckID(ident.Org, org) != nil {
							return usageError{fmt.Errorf("%q is not an organisation id (org_…; 'capyd admin orgs' lists them)", org)}
						}
						return admin(c, func(ctx context.Context, st store.Store) error {
							v, err := st.AuditStatus(ctx, org)
							if errors.Is(err, store.ErrNotFound) {
								return &refusal{msg: fmt.Sprintf("there is no organisation %s in the database", org), hints: []string{"'capyd admin orgs' lists them"}}
							}
							if err != nil {
								return fmt.Errorf("verify the audit chain of %s: %w", org, err)
							}
							return printAuditStatus(e.stdout, org, v, c.Bool("json"))
						})
					},
				}),
			},
		}),
		backupCommand(e, cmd),
		restoreCheckCommand(e, cmd, withJSON),
	}
}

// openExisting opens the configured store without creating, migrating
// or writing anything by itself: a SQLite file that is not there is a
// configuration error (opening it would create it), a database behind or
// ahead of this binary is refused. The store gets a throwaway login-code
// pepper: the operator's commands read no login code.
func openExisting(ctx context.Context, cfg Config, why string) (store.Store, error) {
	kind, where := databaseDescription(cfg.Database)
	if kind == storeopen.SQLite {
		if _, err := os.Stat(where); errors.Is(err, fs.ErrNotExist) {
			return nil, &configError{msg: fmt.Sprintf("no database at %s", where),
				hints: []string{why + ": check --database / --data-dir"}}
		}
	}
	st, err := storeopen.Open(ctx, cfg.Database, store.Config{CodePepper: throwawayPepper()})
	if err != nil {
		return nil, storeError(ctx, "open", err)
	}
	return st, nil
}

func throwawayPepper() []byte {
	p := make([]byte, PepperSize)
	_, _ = rand.Read(p)
	return p
}

// userError explains a failed change of the user with address email.
func userError(email string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return &refusal{msg: fmt.Sprintf("no user has the address %s", email),
			hints: []string{"users exist from their first sign-in; 'capyd admin users' lists them"}}
	}
	return fmt.Errorf("%s: %w", email, err)
}

// auditNote says where the operator's audit rows went.
func auditNote(heads []store.AuditHead) string {
	if len(heads) == 0 {
		return "no active membership, so no audit row"
	}
	parts := make([]string, len(heads))
	for i, h := range heads {
		parts[i] = fmt.Sprintf("%s #%d", h.OrgID, h.Seq)
	}
	return "audit row in " + count(int64(len(heads)), "organisation") + ": " + strings.Join(parts, ", ")
}

// printable replaces what a terminal would act on (control and format
// characters) in text that users chose, such as an organisation's name.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) {
			return '\uFFFD'
		}
		return r
	}, s)
}

// when formats a time for the lists: UTC to the second, "-" for none.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// optTime is a time for JSON: null when zero.
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// orgJSON is one line of `capyd admin orgs --json`.
type orgJSON struct {
	ID             string    `json:"id"`
	Name           string    `json:"name"`
	CreatedBy      string    `json:"created_by"`
	CreatedAt      time.Time `json:"created_at"`
	Members        int64     `json:"members"`
	RevokedMembers int64     `json:"revoked_members"`
	AuditRows      int64     `json:"audit_rows"`
}

func printOrgs(w io.Writer, orgs []store.OrgSummary, asJSON bool) error {
	if asJSON {
		out := make([]orgJSON, 0, len(orgs))
		for _, o := range orgs {
			out = append(out, orgJSON{ID: o.ID, Name: o.Name, CreatedBy: o.CreatedBy, CreatedAt: o.CreatedAt.UTC(),
				Members: o.Members, RevokedMembers: o.Revoked, AuditRows: o.AuditSeq})
		}
		return writeJSON(w, out)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tMEMBERS\tCREATED\tAUDIT ROWS")
	for _, o := range orgs {
		members := fmt.Sprint(o.Members)
		if o.Revoked > 0 {
			members += fmt.Sprintf(" (+%d revoked)", o.Revoked)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", o.ID, printable(o.Name), members, when(o.CreatedAt), o.AuditSeq)
	}
	return tw.Flush()
}

// userJSON is one line of `capyd admin users --json`.
type userJSON struct {
	ID         string           `json:"id"`
	Email      string           `json:"email"`
	CreatedAt  time.Time        `json:"created_at"`
	DisabledAt *time.Time       `json:"disabled_at"`
	LastSeenAt *time.Time       `json:"last_seen_at"`
	Sessions   int64            `json:"sessions"`
	Orgs       []membershipJSON `json:"orgs"`
}

type membershipJSON struct {
	Org    string `json:"org"`
	Role   string `json:"role"`
	Status string `json:"status"`
}

func printUsers(w io.Writer, users []store.UserSummary, asJSON bool) error {
	if asJSON {
		out := make([]userJSON, 0, len(users))
		for _, u := range users {
			j := userJSON{ID: u.ID, Email: u.Email, CreatedAt: u.CreatedAt.UTC(), DisabledAt: optTime(u.DisabledAt),
				LastSeenAt: optTime(u.LastSeenAt), Sessions: u.Sessions, Orgs: []membershipJSON{}}
			for _, m := range u.Orgs {
				j.Orgs = append(j.Orgs, membershipJSON{Org: m.OrgID, Role: string(m.Role), Status: string(m.Status)})
			}
			out = append(out, j)
		}
		return writeJSON(w, out)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tEMAIL\tORGS\tLAST SEEN\tSTATUS")
	for _, u := range users {
		orgs := make([]string, 0, len(u.Orgs))
		for _, m := range u.Orgs {
			if m.Status == store.StatusActive {
				orgs = append(orgs, fmt.Sprintf("%s (%s)", m.OrgID, m.Role))
			} else {
				orgs = append(orgs, fmt.Sprintf("%s (%s, %s)", m.OrgID, m.Role, m.Status))
			}
		}
		if len(orgs) == 0 {
			orgs = append(orgs, "-")
		}
		status := "active"
		if !u.DisabledAt.IsZero() {
			status = "disabled since " + when(u.DisabledAt)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.ID, u.Email, strings.Join(orgs, ", "), when(u.LastSeenAt), status)
	}
	return tw.Flush()
}

// auditStatusJSON is `capyd admin audit-status --json`.
type auditStatusJSON struct {
	Org         string   `json:"org"`
	Valid       bool     `json:"valid"`
	Rows        int64    `json:"rows"`
	Head        headJSON `json:"head"`
	FirstBadSeq *int64   `json:"first_bad_seq"`
}

type headJSON struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

// printAuditStatus prints the result and returns a refusal (exit 1) when
// the chain is broken.
func printAuditStatus(w io.Writer, org string, v store.AuditVerification, asJSON bool) error {
	if asJSON {
		j := auditStatusJSON{Org: org, Valid: v.Valid, Rows: v.Rows, Head: headJSON{v.Head.Seq, v.Head.Hash}}
		if !v.Valid {
			j.FirstBadSeq = &v.FirstBadSeq
		}
		if err := writeJSON(w, j); err != nil {
			return err
		}
	} else if v.Valid {
		fmt.Fprintf(w, "%s: audit chain verified: %s, head #%d %s\n", org, count(v.Rows, "row"), v.Head.Seq, v.Head.Hash)
	}
	if v.Valid {
		return nil
	}
	return &refusal{
		msg: fmt.Sprintf("%s: the audit chain is broken at seq %d (%s stored, head #%d)", org, v.FirstBadSeq, count(v.Rows, "row"), v.Head.Seq),
		hints: []string{
			"the stored rows were changed, lost or forged behind capyd's back, or the database is damaged",
			"restore a backup whose chain verifies ('capyd restore-check FILE'); members who kept audit heads see the difference with 'capy audit --verify'",
		},
	}
}
