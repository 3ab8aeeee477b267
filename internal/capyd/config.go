package capyd

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/store/storeopen"
)

// Config is everything capyd can be told. It is the one place a setting is
// declared: each field's tags name its flag (`flag`), its default
// (`default`, or `shown` for a default computed from other settings), its
// help text (`usage`) and the commands that take it (`cmd`: serve, migrate,
// kek, healthcheck, admin, backup, restore-check). The environment variable
// is derived from the flag name (CAPYD_ + upper case, '-' → '_'); --help,
// the flags and the table in
// docs/server.md are all generated from these tags (a test keeps the
// document in step).
//
// Two fields are read from the environment only (tag `env`, no flag): key
// material given as a flag would be visible to every user in the process
// list.
type Config struct {
	// Listen is the public listener's address. Port 0 picks a free port;
	// the startup log line names the real one (addr=).
	Listen string `flag:"listen" default:"127.0.0.1:8787" cmd:"serve,healthcheck" usage:"public API address, host:port (port 0 picks a free port; the startup log line says which)"`
	// OpsListen is the operations listener (/metrics, /healthz, /readyz);
	// empty disables it.
	OpsListen string `flag:"ops-listen" default:"127.0.0.1:8788" cmd:"serve,healthcheck" usage:"operations address for /metrics, /healthz, /readyz (unauthenticated: keep it private); empty disables it"`
	// DataDir holds the default database, key file, pepper and mail.log;
	// created 0700 when one of them is needed.
	DataDir string `flag:"data-dir" default:"./capyd-data" cmd:"serve,migrate,kek,admin,backup,restore-check" usage:"directory for the default database, KEK file, pepper file and development mail.log (created 0700)"`
	// Database selects the store: a SQLite file path (optional "sqlite:"
	// prefix) or a postgres:// URL.
	Database string `flag:"database" shown:"<data-dir>/capyd.db" cmd:"serve,migrate,kek,admin,backup,restore-check" usage:"SQLite file, or postgres://user:pass@host/db for PostgreSQL (prefer the env var: a password in a flag shows in ps)"`
	// AutoMigrate applies pending migrations at start, under the store's
	// migration lock. Off: a database behind this binary is refused.
	AutoMigrate bool `flag:"auto-migrate" default:"true" cmd:"serve" usage:"apply pending database migrations at start (under a lock); false: refuse an outdated database and wait for 'capyd migrate'"`
	// PublicURL is the canonical URL clients use; it is named in login
	// mails and in codes. https unless on loopback.
	PublicURL string `flag:"public-url" shown:"http://<listen>, https:// with TLS" cmd:"serve,healthcheck" usage:"URL clients reach this service at (https, or http on loopback only); named in login mails and codes"`
	// TLSCert and TLSKey are PEM files; with both set the public listener
	// speaks HTTPS.
	TLSCert string `flag:"tls-cert" cmd:"serve,healthcheck" usage:"PEM certificate chain; with --tls-key, serve HTTPS on --listen"`
	// TLSKey is the certificate's private key (PEM).
	TLSKey string `flag:"tls-key" cmd:"serve" usage:"PEM private key for --tls-cert"`
	// KEKFile is the keyring file of key-encryption keys for the outer
	// wrap, created 0600 with one key on first start. Unused when KEK is
	// set.
	KEKFile string `flag:"kek-file" shown:"<data-dir>/kek" cmd:"serve,kek,backup" usage:"KEK keyring file (outer wrap keys), created 0600 on first start; not used when CAPYD_KEK is set"`
	// KEK is the keyring text itself ("capyd-kek 1 <id> <hex>" entries,
	// separated by ';' or newlines).
	KEK string `env:"CAPYD_KEK" cmd:"serve,kek,backup" usage:"KEK keyring text ('capyd-kek 1 <id> <64 hex>' entries separated by ';'); replaces --kek-file"`
	// PepperFile holds the login-code HMAC key (hex), created 0600 with 32
	// random bytes on first start. Unused when Pepper is set.
	PepperFile string `flag:"pepper-file" shown:"<data-dir>/pepper" cmd:"serve,backup" usage:"login-code HMAC key (hex), 32 random bytes created 0600 on first start; not used when CAPYD_PEPPER is set"`
	// Pepper is the login-code HMAC key in hex (at least 16 bytes).
	Pepper string `env:"CAPYD_PEPPER" cmd:"serve,backup" usage:"login-code HMAC key in hex (at least 32 hex digits); replaces --pepper-file"`
	// SMTPURL configures real mail; empty selects the development mailer.
	SMTPURL string `flag:"smtp-url" shown:"development mailer: codes go to the log and <data-dir>/mail.log" cmd:"serve" usage:"smtp://user:pass@host:587?from=capy@example.com (STARTTLS) or smtps://…:465 (prefer the env var)"`
	// SessionIdle ends a session this long after its last use.
	SessionIdle time.Duration `flag:"session-idle" default:"30d" cmd:"serve" usage:"a session ends this long after its last use (Go duration or <n>d)"`
	// SessionAbsolute ends a session this long after login.
	SessionAbsolute time.Duration `flag:"session-absolute" default:"90d" cmd:"serve" usage:"a session ends this long after login, however busy"`
	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix `flag:"trusted-proxy" cmd:"serve" usage:"CIDR (or IP) of a reverse proxy whose X-Forwarded-For is believed for client IPs; repeat, or comma-separate in the env var"`
	// ShutdownTimeout bounds how long in-flight requests may take to
	// finish after SIGTERM.
	ShutdownTimeout time.Duration `flag:"shutdown-timeout" default:"20s" cmd:"serve" usage:"after SIGINT/SIGTERM, how long in-flight requests get to finish"`
	// DrainDelay keeps serving (with /readyz failing) this long after
	// SIGTERM before the listeners close, so a load balancer can notice.
	DrainDelay time.Duration `flag:"drain-delay" default:"0s" cmd:"serve" usage:"after SIGINT/SIGTERM, keep serving this long with /readyz answering 503 before closing the listeners"`
	// LogFormat is text or json.
	LogFormat string `flag:"log-format" default:"text" cmd:"serve" usage:"log format: text or json"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `flag:"log-level" default:"info" cmd:"serve" usage:"log level: debug, info, warn or error"`
	// UnsafeDisableRateLimits turns every rate limit off (the in-memory
	// per-IP and per-user buckets and the per-e-mail login-start limits in
	// the database): server.Config.DisableRateLimits. It exists so that a
	// load test can measure the shipped binary; in production it leaves
	// login-code guessing and co-decrypt flooding unbounded. capyd warns at
	// start when it is set.
	UnsafeDisableRateLimits bool `flag:"unsafe-disable-rate-limits" default:"false" cmd:"serve" usage:"turn every rate limit off, for load tests only: never where real people sign in (login-code guessing and co-decrypt flooding become unbounded)"`

	// AllowEmailDomain and AllowEmail limit who may sign in
	// (server.Access); both empty: every address.
	AllowEmailDomain []string `flag:"allow-email-domain" shown:"every address may sign in" cmd:"serve" usage:"let only addresses at this domain sign in (the whole part after '@': no subdomains), besides --allow-email; repeat, or comma-separate in the env var"`
	// AllowEmail lets single addresses sign in besides the domains.
	AllowEmail []string `flag:"allow-email" cmd:"serve" usage:"let this address sign in, besides --allow-email-domain; repeat, or comma-separate in the env var"`
	// OrgCreation is who may create organisations.
	OrgCreation string `flag:"org-creation" default:"anyone" cmd:"serve" usage:"who may create organisations: anyone (signed in), allowed (the --org-creator addresses) or none (people join by invite only)"`
	// OrgCreator lists the addresses --org-creation allowed lets.
	OrgCreator []string `flag:"org-creator" cmd:"serve" usage:"an address that may create organisations under --org-creation allowed; repeat, or comma-separate in the env var"`

	// set records the settings given explicitly (flag or env), by flag
	// name or env name.
	set map[string]bool
}

// setting is one Config field as its tags describe it.
type setting struct {
	index  int    // field index in Config
	flag   string // flag name, "" for env-only
	env    string // environment variable
	def    string // default, as a flag value
	shown  string // default as shown in help when computed
	usage  string
	cmds   []string
	kind   reflect.Type
	isBool bool
}

// settings returns Config's fields, in declaration order.
func settings() []setting {
	t := reflect.TypeFor[Config]()
	var out []setting
	for i := range t.NumField() {
		f := t.Field(i)
		name, env := f.Tag.Get("flag"), f.Tag.Get("env")
		if name == "" && env == "" {
			continue
		}
		if env == "" {
			env = EnvName(name)
		}
		out = append(out, setting{
			index: i, flag: name, env: env,
			def: f.Tag.Get("default"), shown: f.Tag.Get("shown"), usage: f.Tag.Get("usage"),
			cmds: strings.Split(f.Tag.Get("cmd"), ","), kind: f.Type, isBool: f.Type.Kind() == reflect.Bool,
		})
	}
	return out
}

// EnvName is the environment variable for a flag: CAPYD_ + upper case,
// '-' becoming '_'.
func EnvName(flag string) string {
	return "CAPYD_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

func (s setting) forCommand(cmd string) bool {
	for _, c := range s.cmds {
		if c == cmd {
			return true
		}
	}
	return false
}

// flags returns fresh cli flags for the settings a command takes. Fresh
// instances per command, because urfave/cli records "set from the
// environment" on the flag value.
func flags(cmd string) []cli.Flag {
	var out []cli.Flag
	for _, s := range settings() {
		if s.flag == "" || !s.forCommand(cmd) {
			continue
		}
		shown := s.shown
		switch {
		case s.kind.Kind() == reflect.Slice:
			out = append(out, &cli.StringSliceFlag{Name: s.flag, EnvVars: []string{s.env}, Usage: s.usage, DefaultText: shown})
		case s.isBool:
			v, _ := strconv.ParseBool(s.def)
			out = append(out, &cli.BoolFlag{Name: s.flag, EnvVars: []string{s.env}, Usage: s.usage, Value: v, DefaultText: s.def})
		default:
			if shown == "" && s.def == "" {
				shown = "none"
			}
			out = append(out, &cli.StringFlag{Name: s.flag, EnvVars: []string{s.env}, Usage: s.usage, Value: s.def, DefaultText: shown})
		}
	}
	return out
}

// configError is a setting that cannot be used; it exits 2.
type configError struct {
	msg   string
	hints []string
}

func (e *configError) Error() string { return e.msg }

func badSetting(s setting, format string, args ...any) error {
	name := s.env
	if s.flag != "" {
		name = "--" + s.flag + " (" + s.env + ")"
	}
	return &configError{msg: name + ": " + fmt.Sprintf(format, args...)}
}

// loadConfig reads the settings a command takes: from the innermost
// context where the flag was given (command line or environment), so
// `capyd --data-dir x migrate` and `capyd migrate --data-dir x` agree, and
// otherwise the default. Env-only settings come from getenv.
func loadConfig(c *cli.Context, cmd string, getenv func(string) string) (Config, error) {
	cfg := Config{set: map[string]bool{}}
	v := reflect.ValueOf(&cfg).Elem()
	for _, s := range settings() {
		if !s.forCommand(cmd) {
			continue
		}
		raw, list, given := s.def, []string(nil), false
		if s.flag == "" {
			if e := getenv(s.env); e != "" {
				raw, given = e, true
			}
		} else {
		lineage:
			for _, cc := range c.Lineage() {
				if cc.Command == nil && cc.App == nil {
					continue
				}
				if !contains(cc.LocalFlagNames(), s.flag) {
					continue
				}
				given = true
				switch {
				case s.kind.Kind() == reflect.Slice:
					list = cc.StringSlice(s.flag)
				case s.isBool:
					raw = strconv.FormatBool(cc.Bool(s.flag))
				default:
					raw = cc.String(s.flag)
				}
				break lineage
			}
		}
		if given {
			cfg.set[s.flag] = true
			cfg.set[s.env] = true
		}
		if err := assign(v.Field(s.index), s, raw, list); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// assign parses raw (or list) into the field.
func assign(f reflect.Value, s setting, raw string, list []string) error {
	switch {
	case s.kind == reflect.TypeFor[time.Duration]():
		d, err := parseDuration(raw)
		if err != nil {
			return badSetting(s, "%v", err)
		}
		f.SetInt(int64(d))
	case s.kind == reflect.TypeFor[[]netip.Prefix]():
		var ps []netip.Prefix
		for _, item := range list {
			for _, one := range strings.Split(item, ",") {
				one = strings.TrimSpace(one)
				if one == "" {
					continue
				}
				p, err := parsePrefix(one)
				if err != nil {
					return badSetting(s, "%q is not a CIDR such as 10.0.0.0/8 or an IP address", one)
				}
				ps = append(ps, p)
			}
		}
		f.Set(reflect.ValueOf(ps))
	case s.kind == reflect.TypeFor[[]string]():
		var items []string
		for _, item := range list {
			for _, one := range strings.Split(item, ",") {
				if one = strings.TrimSpace(one); one != "" {
					items = append(items, one)
				}
			}
		}
		f.Set(reflect.ValueOf(items))
	case s.isBool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return badSetting(s, "%q is not true or false", raw)
		}
		f.SetBool(b)
	default:
		f.SetString(raw)
	}
	return nil
}

// parseDuration accepts Go durations ("720h", "90m") and whole days ("30d").
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.ParseUint(n, 10, 16)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration such as 30d, 12h or 90s", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration such as 30d, 12h or 90s", s)
	}
	return d, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// isSet reports whether a setting was given explicitly (by flag name or
// environment variable name).
func (c Config) isSet(name string) bool { return c.set[name] }

// withDefaults fills the defaults that depend on other settings (paths
// inside the data directory) and checks what can be checked before
// anything is opened.
func (c Config) withDefaults(cmd string) (Config, error) {
	if c.DataDir == "" {
		return c, &configError{msg: "--data-dir (CAPYD_DATA_DIR) must not be empty"}
	}
	if c.Database == "" {
		c.Database = filepath.Join(c.DataDir, "capyd.db")
	}
	if kind, conn := storeopen.Parse(c.Database); kind == storeopen.SQLite && looksLikeDSN(conn) {
		return c, &configError{msg: "--database (CAPYD_DATABASE) looks like a PostgreSQL key=value string; it would be taken as a SQLite file name",
			hints: []string{"give PostgreSQL as a URL: postgres://user:password@host:5432/dbname?sslmode=verify-full"}}
	}
	if c.KEKFile == "" {
		c.KEKFile = filepath.Join(c.DataDir, "kek")
	}
	if c.PepperFile == "" {
		c.PepperFile = filepath.Join(c.DataDir, "pepper")
	}
	if cmd != "serve" {
		return c, nil
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return c, &configError{msg: fmt.Sprintf("--log-format (CAPYD_LOG_FORMAT): %q is neither text nor json", c.LogFormat)}
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return c, err
	}
	if c.KEK != "" && c.isSet("kek-file") {
		return c, &configError{msg: "both CAPYD_KEK and --kek-file (CAPYD_KEK_FILE) are set",
			hints: []string{"give the keyring one way: unset CAPYD_KEK to use the file, or drop --kek-file"}}
	}
	if c.Pepper != "" && c.isSet("pepper-file") {
		return c, &configError{msg: "both CAPYD_PEPPER and --pepper-file (CAPYD_PEPPER_FILE) are set",
			hints: []string{"give the pepper one way: unset CAPYD_PEPPER to use the file, or drop --pepper-file"}}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return c, &configError{msg: "--tls-cert and --tls-key go together: set both or neither"}
	}
	if c.SessionIdle <= 0 || c.SessionAbsolute <= 0 {
		return c, &configError{msg: "--session-idle and --session-absolute must be positive"}
	}
	if c.SessionIdle > c.SessionAbsolute {
		return c, &configError{msg: fmt.Sprintf("--session-idle (%v) is longer than --session-absolute (%v)", c.SessionIdle, c.SessionAbsolute)}
	}
	if c.Listen == "" {
		return c, &configError{msg: "--listen (CAPYD_LISTEN) must not be empty"}
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return c, &configError{msg: fmt.Sprintf("--listen (CAPYD_LISTEN): %q is not host:port", c.Listen)}
	}
	if c.OpsListen != "" {
		if _, _, err := net.SplitHostPort(c.OpsListen); err != nil {
			return c, &configError{msg: fmt.Sprintf("--ops-listen (CAPYD_OPS_LISTEN): %q is not host:port", c.OpsListen)}
		}
	}
	if err := c.checkAccess(); err != nil {
		return c, err
	}
	if c.PublicURL != "" {
		u, err := checkPublicURL(c.PublicURL)
		if err != nil {
			return c, err
		}
		c.PublicURL = u
	} else if host, _, _ := net.SplitHostPort(c.Listen); !isLoopbackHost(host) {
		return c, &configError{
			msg: fmt.Sprintf("--public-url (CAPYD_PUBLIC_URL) is required when --listen (%s) is not a loopback address", c.Listen),
			hints: []string{"set the https:// URL clients use, e.g. --public-url https://capy.example.com",
				"plain http is accepted only on loopback (127.0.0.1, ::1, localhost)"},
		}
	}
	return c, nil
}

// looksLikeDSN reports whether a --database value is a libpq key=value
// string ("host=db user=capy …") rather than a file name.
func looksLikeDSN(s string) bool {
	for _, k := range []string{"host=", "dbname=", "user=", "sslmode="} {
		if strings.HasPrefix(s, k) || strings.Contains(s, " "+k) {
			return true
		}
	}
	return false
}

// checkPublicURL returns the canonical form of a public URL and refuses
// plain http on anything but loopback.
func checkPublicURL(raw string) (string, error) {
	u, err := ident.CanonicalURL(raw)
	if err != nil {
		return "", &configError{msg: fmt.Sprintf("--public-url (CAPYD_PUBLIC_URL) %q: %v", raw, err)}
	}
	if strings.HasPrefix(u, "http://") && !ident.IsLoopbackURL(u) {
		return "", &configError{
			msg: fmt.Sprintf("--public-url (CAPYD_PUBLIC_URL) %s uses plain http on a non-loopback host", u),
			hints: []string{"clients refuse http:// except on loopback: use https://, with --tls-cert/--tls-key or a TLS-terminating proxy in front",
				"see docs/server.md, \"TLS\""},
		}
	}
	return u, nil
}

// defaultPublicURL is the public URL when none is configured: the bound
// listener's address, https when capyd serves TLS itself. withDefaults has
// already refused a non-loopback listener without --public-url.
func (c Config) defaultPublicURL(bound net.Addr) (string, error) {
	scheme := "http"
	if c.TLSCert != "" {
		scheme = "https"
	}
	host, _, _ := net.SplitHostPort(c.Listen)
	_, port, err := net.SplitHostPort(bound.String())
	if err != nil {
		return "", err
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return checkPublicURL(scheme + "://" + net.JoinHostPort(host, port))
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.IsLoopback()
}

// databaseDescription names the database for logs and messages without
// its password or query: "sqlite", path or "postgres", host/db.
func databaseDescription(database string) (kind storeopen.Kind, where string) {
	kind, conn := storeopen.Parse(database)
	if kind == storeopen.SQLite {
		return kind, conn
	}
	u, err := url.Parse(conn)
	if err != nil {
		return kind, "(unparsable URL)"
	}
	return kind, u.Host + u.Path
}

// mdText escapes what Markdown would take for a table border or an HTML
// tag, outside code spans.
func mdText(s string) string {
	var b strings.Builder
	code := false
	for _, r := range s {
		switch {
		case r == '`':
			code = !code
		case !code && (r == '<' || r == '|'):
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ConfigTable returns the Markdown table of every setting (flag,
// environment variable, default, meaning) that docs/server.md carries.
func ConfigTable() string {
	var b strings.Builder
	b.WriteString("| flag | environment | default | meaning |\n| --- | --- | --- | --- |\n")
	for _, s := range settings() {
		flag := "—"
		if s.flag != "" {
			flag = "`--" + s.flag + "`"
		}
		def := s.shown
		switch {
		case def != "":
		case s.def != "":
			def = "`" + s.def + "`"
		default:
			def = "none"
		}
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s |\n", flag, s.env, mdText(def), mdText(s.usage))
	}
	return b.String()
}

// EnvVars returns every environment variable capyd reads, in the order
// of Config's fields.
func EnvVars() []string {
	var out []string
	for _, s := range settings() {
		out = append(out, s.env)
	}
	return out
}

// The --org-creation rules (server.OrgCreation).
const (
	orgCreationAnyone  = "anyone"
	orgCreationAllowed = "allowed"
	orgCreationNone    = "none"
)

// checkAccess puts the operator controls in the form the server compares
// with (lower-case domains, canonical addresses, no duplicates) and
// refuses what cannot be meant.
func (c *Config) checkAccess() error {
	domains := c.AllowEmailDomain[:0:0]
	for _, d := range c.AllowEmailDomain {
		d = strings.ToLower(strings.TrimPrefix(d, "@"))
		if e, err := ident.CanonicalEmail("x@" + d); err != nil || e != "x@"+d {
			return &configError{msg: fmt.Sprintf("--allow-email-domain (CAPYD_ALLOW_EMAIL_DOMAIN): %q is not a domain", d),
				hints: []string{"give the part after '@', e.g. --allow-email-domain example.com"}}
		}
		if !contains(domains, d) {
			domains = append(domains, d)
		}
	}
	c.AllowEmailDomain = domains
	var err error
	if c.AllowEmail, err = canonicalEmails("--allow-email (CAPYD_ALLOW_EMAIL)", c.AllowEmail); err != nil {
		return err
	}
	if c.OrgCreator, err = canonicalEmails("--org-creator (CAPYD_ORG_CREATOR)", c.OrgCreator); err != nil {
		return err
	}
	if c.OrgCreation == "" { // an empty variable: the default
		c.OrgCreation = orgCreationAnyone
	}
	switch c.OrgCreation {
	case orgCreationAnyone, orgCreationNone:
		if len(c.OrgCreator) > 0 {
			return &configError{msg: fmt.Sprintf("--org-creator (CAPYD_ORG_CREATOR) is set, but --org-creation is %s", c.OrgCreation),
				hints: []string{"org creators apply to --org-creation allowed; set it, or drop --org-creator"}}
		}
	case orgCreationAllowed:
		if len(c.OrgCreator) == 0 {
			return &configError{msg: "--org-creation allowed needs at least one --org-creator (CAPYD_ORG_CREATOR) address",
				hints: []string{"name who may create organisations, e.g. --org-creator ops@example.com; or use --org-creation none"}}
		}
	default:
		return &configError{msg: fmt.Sprintf("--org-creation (CAPYD_ORG_CREATION): %q is not anyone, allowed or none", c.OrgCreation)}
	}
	return nil
}

// canonicalEmails returns the canonical form of each address, without
// duplicates.
func canonicalEmails(setting string, list []string) ([]string, error) {
	var out []string
	for _, e := range list {
		c, err := ident.CanonicalEmail(e)
		if err != nil {
			return nil, &configError{msg: fmt.Sprintf("%s: %q is not an e-mail address", setting, e)}
		}
		if !contains(out, c) {
			out = append(out, c)
		}
	}
	return out, nil
}

// signInRule describes who may sign in, for the start-up log.
func (c Config) signInRule() string {
	if len(c.AllowEmailDomain)+len(c.AllowEmail) == 0 {
		return "anyone"
	}
	addresses := fmt.Sprintf("%d addresses", len(c.AllowEmail))
	if len(c.AllowEmail) == 1 {
		addresses = "1 address"
	}
	return fmt.Sprintf("allow list (%s, %s)", count(int64(len(c.AllowEmailDomain)), "domain"), addresses)
}
