package main

import (
	"time"

	"github.com/urfave/cli/v2"
)

func commands(u *ui, envFlag, jsonFlag cli.Flag) []*cli.Command {
	yes := &cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "do not ask for confirmation (for scripts)"}
	serviceFlag := &cli.StringFlag{Name: "service", EnvVars: []string{"CAPY_SERVICE"}, Usage: "capyd `URL` (https, or http on localhost)"}
	keyFile := &cli.StringFlag{Name: "key-file", Usage: "read the environment key from `PATH` (default .capy/decrypt when present)"}
	return append([]*cli.Command{
		{
			Name: "login", Usage: "sign in with an e-mail code", ArgsUsage: "[EMAIL]",
			Description: "Example: capy login --service https://capy.example.com alice@example.com\n" +
				"The code is read from a prompt, or from stdin when stdin is not a terminal.",
			Flags: []cli.Flag{serviceFlag, jsonFlag,
				&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "sign in to the service project.json names without asking, even the first time"}},
			Action: func(c *cli.Context) error { return cmdLogin(u, c) },
		},
		{
			Name: "logout", Usage: "sign out of the service (revokes this machine's session)",
			Description: "Example: capy logout",
			Flags:       []cli.Flag{serviceFlag},
			Action:      func(c *cli.Context) error { return cmdLogout(u, c) },
		},
		{
			Name: "whoami", Usage: "show who you are signed in as", Description: "Example: capy whoami --json",
			Flags: []cli.Flag{serviceFlag, jsonFlag}, Action: func(c *cli.Context) error { return cmdWhoami(u, c) },
		},
		{
			Name: "sessions", Usage: "list this account's sessions; revoke one or all others",
			Description: "Example: capy sessions --revoke-others\nA lost laptop: revoke its session from another machine (`capy sessions`, then --revoke ID).",
			Flags: []cli.Flag{serviceFlag, jsonFlag,
				&cli.StringFlag{Name: "revoke", Usage: "revoke session `ID` (this machine's own: a logout)"},
				&cli.BoolFlag{Name: "revoke-others", Usage: "revoke every session but this machine's"}},
			Action: func(c *cli.Context) error { return cmdSessions(u, c) },
		},
		{
			Name: "init", Usage: "create a project for this repository (in one of your organisations, or a new one) and encrypt .env",
			Description: "Example: capy init --org Acme --project web      (a project in your organisation Acme)\n" +
				"         capy init --new-org Acme --project web  (a new organisation, with its recovery phrase)\n" +
				"With --org the project's keys derive from the organisation's key: no new phrase, and every\n" +
				"member reaches it with `capy link PROJECT`. Without --org or --new-org a terminal lists your\n" +
				"organisations to choose from. Writes .capy/project.json and ignore entries, then syncs.",
			Flags: []cli.Flag{serviceFlag, yes, jsonFlag,
				&cli.StringFlag{Name: "org", Usage: "an organisation you belong to, by `NAME|ID` (see capy orgs)"},
				&cli.StringFlag{Name: "new-org", Usage: "create a new organisation `NAME` (shows its recovery phrase)"},
				&cli.StringFlag{Name: "project", Usage: "project `NAME` (default: the directory name)"},
				&cli.StringFlag{Name: "file", Value: ".env", Usage: "the development environment's `FILE`"},
				&cli.StringFlag{Name: "split", Usage: "with --new-org: show the recovery phrase as `K-of-N` SLIP-39 shares instead (see capy recovery split)"}},
			Action: func(c *cli.Context) error { return cmdInit(u, c) },
		},
		{
			Name: "recover", Usage: "rebuild this machine's key from the recovery phrase, or from recovery shares (owners)",
			Description: "Example: capy recover < phrase.txt\n         cat share1.txt share3.txt | capy recover --shares --org org_…\n" +
				"The phrase or shares are read from a hidden prompt or stdin, never from an argument.",
			Flags: []cli.Flag{serviceFlag, &cli.StringFlag{Name: "org", Usage: "organisation `ID` (default: this repository's)"},
				&cli.BoolFlag{Name: "shares", Usage: "combine SLIP-39 recovery shares instead of typing the phrase"},
				&cli.BoolFlag{Name: "passphrase", Usage: "the shares were made with a passphrase: ask for it after them"}},
			Action: func(c *cli.Context) error { return cmdRecover(u, c) },
		},
		{
			Name: "recovery", Usage: "the recovery kit: split the recovery phrase into k-of-n shares, check a share",
			Subcommands: []*cli.Command{
				{Name: "split", Usage: "split the organisation's recovery phrase into SLIP-39 shares (admins and owners)",
					Description: "Example: capy recovery split --threshold 2 --shares 3 --out shares/\n" +
						"         capy recovery split --group 2-of-3 --group 1-of-1 --groups-needed 2\n" +
						"The phrase is read from a hidden prompt or stdin and checked with the service; the split is audited.\n" +
						"To a terminal the shares are shown one at a time; --out writes one 0600 file per share instead.",
					Flags: []cli.Flag{serviceFlag, jsonFlag, &cli.StringFlag{Name: "org", Usage: "organisation `ID` (default: this repository's)"},
						&cli.IntFlag{Name: "threshold", Usage: "`K`: any K of the shares recover the organisation"},
						&cli.IntFlag{Name: "shares", Usage: "`N`: how many shares to make"},
						&cli.StringSliceFlag{Name: "group", Usage: "a group of shares, `K-of-N`; repeat for several groups"},
						&cli.IntFlag{Name: "groups-needed", Usage: "`G`: how many groups must take part (with several --group)"},
						&cli.BoolFlag{Name: "passphrase", Usage: "protect the shares with a passphrase too (asked for; needed with the shares)"},
						&cli.StringFlag{Name: "out", Usage: "write one 0600 share file per share into `DIR` instead of showing them"}},
					Action: func(c *cli.Context) error { return cmdRecoverySplit(u, c) }},
				{Name: "check", Usage: "check one share alone, offline: checksum, set, group and threshold", ArgsUsage: "[SHARE_FILE]",
					Description: "Example: capy recovery check capy-share-5e1a-2.txt\nWithout a file the share is read from a hidden prompt or stdin.",
					Flags:       []cli.Flag{jsonFlag},
					Action:      func(c *cli.Context) error { return cmdRecoveryCheck(u, c) }},
			},
		},
		{
			Name: "link", Usage: "attach this repository to an existing project", ArgsUsage: "PROJECT",
			Description: "Example: capy link web --org Acme\nPROJECT is a project name or id (see capy projects).",
			Flags: []cli.Flag{serviceFlag, yes, jsonFlag,
				&cli.StringFlag{Name: "org", Usage: "organisation `NAME|ID` (default: your only one; see capy orgs)"}},
			Action: func(c *cli.Context) error { return cmdLink(u, c) },
		},
		{
			Name: "orgs", Usage: "list the organisations you belong to", Description: "Example: capy orgs --json",
			Flags: []cli.Flag{serviceFlag, jsonFlag}, Action: func(c *cli.Context) error { return cmdOrgs(u, c) },
		},
		{
			Name: "org", Usage: "an organisation's settings",
			Subcommands: []*cli.Command{
				{Name: "policy", Usage: "show or set the organisation's policy: its offline grace (admins and owners set it)",
					Description: "Example: capy org policy --offline-grace 8h\n         capy org policy --offline-grace off\n" +
						"While the offline grace is on, members' machines keep the environment keys they last unlocked (sealed\n" +
						"under their device key) and `capy run`/`get`/`export` use them for that long only when the service\n" +
						"cannot be reached. Off by default; at most 7 days (168h, or 7d). Audited.",
					Flags: []cli.Flag{serviceFlag, jsonFlag, &cli.StringFlag{Name: "org", Usage: "organisation `NAME|ID` (default: this repository's)"},
						&cli.StringFlag{Name: "offline-grace", Usage: "set the offline grace to `DURATION` (30m, 8h, 2d; at most 7d); 0 or off: off"}},
					Action: func(c *cli.Context) error { return cmdOrgPolicy(u, c) }},
			},
		},
		{
			Name: "projects", Usage: "list the projects of your organisations",
			Description: "Example: capy projects --org Acme\nDefault: this repository's organisation, or every one of yours outside a repository.",
			Flags:       []cli.Flag{serviceFlag, jsonFlag, &cli.StringFlag{Name: "org", Usage: "organisation `NAME|ID`"}},
			Action:      func(c *cli.Context) error { return cmdProjects(u, c) },
		},
		{
			Name: "redeem", Usage: "join an organisation (or add this machine) with a code", ArgsUsage: "CODE (or - to read it from stdin)",
			Description: "Example: capy redeem capy-redeem-AQAY…\nShows the service's host and asks before contacting it.",
			Flags:       []cli.Flag{yes, jsonFlag, &cli.StringFlag{Name: "email", Usage: "sign in as `EMAIL` if not signed in"}},
			Action:      func(c *cli.Context) error { return cmdRedeem(u, c) },
		},
		{
			Name: "sync", Usage: "pull, merge, push and rewrite .env (what `capy` alone does)",
			Description: "Example: capy sync --prefer local\nConflicts exit 3 and change nothing.",
			Flags: []cli.Flag{envFlag, jsonFlag, &cli.BoolFlag{Name: "dry-run", Usage: "show what would change, change nothing"},
				&cli.StringFlag{Name: "prefer", Usage: "settle conflicts: local or remote wins"},
				&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "push deletions from a file that changed outside capy without asking"}},
			Action: func(c *cli.Context) error {
				return cmdSync(u, c, envFlagValue(c), c.String("prefer"), c.Bool("dry-run"))
			},
		},
		{
			Name: "status", Usage: "show local and remote changes without changing anything",
			Description: "Example: capy status", Flags: []cli.Flag{envFlag, jsonFlag},
			Action: func(c *cli.Context) error { return cmdStatus(u, c) },
		},
		{
			Name: "get", Usage: "print one value", ArgsUsage: "NAME", Description: "Example: capy get DATABASE_URL",
			Flags:  []cli.Flag{envFlag, jsonFlag, keyFile, &cli.BoolFlag{Name: "pull", Usage: "read the service's newest version"}},
			Action: func(c *cli.Context) error { return cmdGet(u, c) },
		},
		{
			Name: "set", Usage: "set a value (read from stdin or a hidden prompt) and sync", ArgsUsage: "NAME [or NAME=VALUE]",
			Description: "Example: printf %s \"$TOKEN\" | capy set API_TOKEN\nNAME=VALUE works but leaves the value in your shell history.",
			Flags: []cli.Flag{envFlag, &cli.BoolFlag{Name: "literal", Usage: "never expand ${…} in this value"},
				&cli.BoolFlag{Name: "no-sync", Usage: "only write .env; the next sync (capy alone) pushes it"},
				&cli.BoolFlag{Name: "public", Usage: "encrypt to the environment's pinned age recipient, offline, without an account (contributors; see capy encrypt)"},
				&cli.BoolFlag{Name: "allow-empty", Usage: "set an empty value when stdin gives nothing (refused otherwise)"}},
			Action: func(c *cli.Context) error { return cmdSet(u, c) },
		},
		{
			Name: "unset", Usage: "remove a variable and sync", ArgsUsage: "NAME", Description: "Example: capy unset OLD_TOKEN",
			Flags:  []cli.Flag{envFlag, &cli.BoolFlag{Name: "no-sync", Usage: "only edit .env"}},
			Action: func(c *cli.Context) error { return cmdUnset(u, c) },
		},
		{
			Name: "ls", Usage: "list variable names (no values, no network)", Description: "Example: capy ls --json",
			Flags: []cli.Flag{envFlag, jsonFlag}, Action: func(c *cli.Context) error { return cmdLs(u, c) },
		},
		{
			Name: "share", Usage: "share values once with someone's browser: to their request code, or as a link", ArgsUsage: "NAME [NAME…]",
			Description: "Example: capy share DATABASE_URL API_TOKEN --to abcde-fghij-…   (the code the recipient's <service>/share page shows)\n" +
				"         capy share DATABASE_URL --link --views 1 --expires 2h\n" +
				"The values are encrypted here; the service keeps only ciphertext and forgets it on the first fetch or at expiry.",
			Flags: []cli.Flag{envFlag, jsonFlag,
				&cli.StringFlag{Name: "to", Usage: "the recipient's request `CODE` (their browser holds the only key)"},
				&cli.BoolFlag{Name: "link", Usage: "print a link whose #fragment holds the key (anyone with the link can open it)"},
				&cli.IntFlag{Name: "views", Usage: "how many times a --link opens (1 to 100; default 1)"},
				&cli.DurationFlag{Name: "expires", Usage: "how long the share lives (1m to 168h; default 24h)"}},
			Action: func(c *cli.Context) error { return cmdShare(u, c) },
		},
		{
			Name: "export", Usage: "print decrypted values as dotenv, json, yaml, shell or a Kubernetes Secret",
			Description: "Example: capy export --format shell > /dev/shm/env && . /dev/shm/env\n         capy export --format k8s --name web | kubectl apply -f -",
			Flags: []cli.Flag{envFlag, keyFile, &cli.StringFlag{Name: "format", Value: "dotenv", Usage: "`FORMAT`: dotenv, json, yaml, shell or k8s"},
				&cli.StringFlag{Name: "name", Usage: "k8s: the Secret's `NAME` (default: the environment's name)"},
				&cli.BoolFlag{Name: "pull", Usage: "read the service's newest version"}},
			Action: func(c *cli.Context) error { return cmdExport(u, c) },
		},
		{
			Name: "import", Usage: "encrypt the values of a plaintext .env file into this environment", ArgsUsage: "FILE (or - for stdin)",
			Description: "Example: capy import .env.plain && shred -u .env.plain\n         vault kv get -format=json … | jq .data.data | capy import --format json -\n         capy import --from dotenvx .env.production   (reads .env.keys beside it)",
			Flags: []cli.Flag{envFlag, &cli.BoolFlag{Name: "no-sync", Usage: "only write .env"},
				&cli.StringFlag{Name: "format", Value: "dotenv", Usage: "`FORMAT` of the input: dotenv, json or yaml (one object of names to string values)"},
				&cli.StringFlag{Name: "from", Usage: "`TOOL` whose encrypted file FILE is: dotenvx (with its .env.keys) or sops (runs `sops decrypt`)"},
				&cli.StringFlag{Name: "keys", Usage: "dotenvx's keys `FILE` (default: .env.keys beside FILE)"}},
			Action: func(c *cli.Context) error { return cmdImport(u, c) },
		},
		{
			Name: "run", Usage: "run a command with the decrypted values in its environment", ArgsUsage: "-- CMD [ARGS…]",
			Description: "Example: capy run -- npm start\nValues go only into the command's environment (capy becomes the command); every CAPY_* variable is removed from it.\n" +
				"Key source, in order: CAPY_KEY, the key file, CAPY_DEPLOY_CODE, your member key.",
			Flags: []cli.Flag{envFlag, keyFile, &cli.BoolFlag{Name: "pull", Usage: "use the service's newest version instead of .env"},
				&cli.StringSliceFlag{Name: "allow-name", Usage: "let a value set `NAME` although it can run code (PATH, LD_PRELOAD, NODE_OPTIONS, …); repeatable"},
				&cli.BoolFlag{Name: "decrypt-args", Usage: "also decrypt arguments that are whole sealed values (capy:age:…). " +
					"Warning: a command's arguments are visible to other processes of the same user (ps, /proc); prefer the environment"},
				&cli.GenericFlag{Name: "preserve-env", Value: &preserveEnv{}, Usage: "names already set in your environment keep their value (`[=NAME,…]`: only those names)"}},
			SkipFlagParsing: false,
			Action:          func(c *cli.Context) error { return cmdRun(u, c) },
		},
		{
			Name: "env", Usage: "list, create, switch and rotate environments", Description: "Example: capy env",
			Flags:  []cli.Flag{jsonFlag},
			Action: func(c *cli.Context) error { return cmdEnvList(u, c) },
			Subcommands: []*cli.Command{
				{Name: "ls", Usage: "list environments", Flags: []cli.Flag{jsonFlag}, Action: func(c *cli.Context) error { return cmdEnvList(u, c) }},
				{Name: "create", Usage: "create an environment", ArgsUsage: "NAME", Description: "Example: capy env create production --file .env.production",
					Flags:  []cli.Flag{&cli.StringFlag{Name: "file", Usage: "its `FILE` (default .env.NAME)"}},
					Action: func(c *cli.Context) error { return cmdEnvCreate(u, c) }},
				{Name: "switch", Usage: "make an environment the current one", ArgsUsage: "NAME", Description: "Example: capy env switch staging",
					Action: func(c *cli.Context) error { return cmdEnvSwitch(u, c) }},
				{Name: "rotate", Usage: "move an environment to a new key epoch (revokes its deploy codes)", ArgsUsage: "[NAME]",
					Description: "Example: capy env rotate production", Flags: []cli.Flag{yes},
					Action: func(c *cli.Context) error { return cmdEnvRotate(u, c) }},
			},
		},
		{
			Name: "invite", Usage: "invite someone; prints a one-time redeem code", ArgsUsage: "EMAIL",
			Description: "Example: capy invite bob@example.com --role member\nSend the code over a channel you trust; it is shown once.",
			Flags: []cli.Flag{jsonFlag, &cli.StringFlag{Name: "role", Value: "member", Usage: "`ROLE`: member, admin or owner"},
				&cli.DurationFlag{Name: "ttl", Value: 7 * 24 * time.Hour, Usage: "how long the code stays valid"}},
			Action: func(c *cli.Context) error { return cmdInvite(u, c, "member") },
		},
		{
			Name: "invites", Usage: "list open invites", Description: "Example: capy invites --all",
			Flags:  []cli.Flag{jsonFlag, &cli.BoolFlag{Name: "all", Usage: "include used, revoked and expired ones"}},
			Action: func(c *cli.Context) error { return cmdInvites(u, c) },
			Subcommands: []*cli.Command{
				{Name: "revoke", Usage: "revoke an invite", ArgsUsage: "INVITE_ID", Description: "Example: capy invites revoke inv_…",
					Action: func(c *cli.Context) error { return cmdInviteRevoke(u, c) }},
			},
		},
		{
			Name: "members", Usage: "list the organisation's members", Description: "Example: capy members --all",
			Flags:  []cli.Flag{jsonFlag, &cli.BoolFlag{Name: "all", Usage: "include revoked members"}},
			Action: func(c *cli.Context) error { return cmdMembers(u, c) },
		},
		{
			Name: "kick", Usage: "revoke a member now (their invites and deploy codes with them)", ArgsUsage: "EMAIL",
			Description: "Example: capy kick bob@example.com",
			Flags:       []cli.Flag{yes, jsonFlag, &cli.BoolFlag{Name: "keep-deploys", Usage: "keep the deploy codes they minted"}},
			Action:      func(c *cli.Context) error { return cmdKick(u, c) },
		},
		{
			Name: "role", Usage: "change a member's role (owners)", ArgsUsage: "EMAIL ROLE", Description: "Example: capy role bob@example.com admin",
			Action: func(c *cli.Context) error { return cmdRole(u, c) },
		},
		{
			Name: "device", Usage: "add another machine of yours", Description: "Example: capy device add",
			Subcommands: []*cli.Command{
				{Name: "add", Usage: "print a one-time code for your next machine", Flags: []cli.Flag{jsonFlag,
					&cli.DurationFlag{Name: "ttl", Value: 24 * time.Hour, Usage: "how long the code stays valid"}},
					Description: "Example: capy device add   (then on the new machine: capy redeem CODE)",
					Action:      func(c *cli.Context) error { return cmdInvite(u, c, "device") }},
			},
		},
		{
			Name: "deploy", Usage: "mint a deploy code for CI (read-only, one environment)",
			Description: "Example: capy deploy --env production --name prod-ci\nPaste the code into your CI's secret store as CAPY_DEPLOY_CODE.",
			Flags: []cli.Flag{envFlag, jsonFlag, &cli.StringFlag{Name: "name", Value: "ci", Usage: "a `NAME` for the code"},
				&cli.DurationFlag{Name: "expires", Value: 365 * 24 * time.Hour, Usage: "lifetime"}},
			Action: func(c *cli.Context) error { return cmdDeploy(u, c) },
			Subcommands: []*cli.Command{
				{Name: "ls", Usage: "list deploy codes", Flags: []cli.Flag{envFlag, jsonFlag, &cli.BoolFlag{Name: "all", Usage: "include revoked"}},
					Description: "Example: capy deploy ls", Action: func(c *cli.Context) error { return cmdDeployList(u, c) }},
				{Name: "revoke", Usage: "revoke a deploy code", ArgsUsage: "DEPLOY_ID", Description: "Example: capy deploy revoke dep_…",
					Action: func(c *cli.Context) error { return cmdDeployRevoke(u, c) }},
			},
		},
		{
			Name: "ci", Usage: "set up a CI runner from CAPY_DEPLOY_CODE",
			Description: "Example: CAPY_DEPLOY_CODE=… capy ci && capy run -- ./start\nWrites .env (snippets) and the key file .capy/decrypt.",
			Flags: []cli.Flag{keyFile, &cli.BoolFlag{Name: "no-write", Usage: "write nothing; print nothing secret (checks the code)"},
				&cli.StringFlag{Name: "env", Aliases: []string{"e"}, Usage: "refuse a code for any environment but `NAME` (the code names its environment)"},
				&cli.StringFlag{Name: "url-override", Usage: "accept a code for this service `URL` even if project.json names another"}},
			Action: func(c *cli.Context) error { return cmdCI(u, c) },
		},
		{
			Name: "history", Usage: "list an environment's versions and the names each changed", Description: "Example: capy history --names 5\nNames are computed on this machine by decrypting each version and the one before it.",
			Flags:  []cli.Flag{envFlag, jsonFlag, &cli.IntFlag{Name: "names", Value: 20, Usage: "name what the newest `N` versions changed (0: none)"}},
			Action: func(c *cli.Context) error { return cmdHistory(u, c) },
		},
		{
			Name: "diff", Usage: "names that differ between the environment's file and the service (values masked)", ArgsUsage: "[VERSION]",
			Description: "Example: capy diff            (the file against the service's newest version)\n         capy diff 12 --show  (against version 12, values shown)",
			Flags:       []cli.Flag{envFlag, jsonFlag, &cli.BoolFlag{Name: "show", Usage: "show the values instead of masking them"}},
			Action:      func(c *cli.Context) error { return cmdDiff(u, c) },
		},
		{
			Name: "rollback", Usage: "make an old version the newest again", ArgsUsage: "VERSION", Description: "Example: capy rollback 12",
			Flags: []cli.Flag{envFlag, yes}, Action: func(c *cli.Context) error { return cmdRollback(u, c) },
		},
		{
			Name: "audit", Usage: "show the organisation's audit log (admins)",
			Description: "Example: capy audit --user bob@example.com --since 24h\n         capy audit --verify",
			Flags: []cli.Flag{jsonFlag, &cli.BoolFlag{Name: "verify", Usage: "recompute the hash chain and check it contains what this machine has seen"},
				&cli.IntFlag{Name: "limit", Value: 50, Usage: "show the last `N` entries (after the filters)"},
				&cli.StringFlag{Name: "user", Usage: "only the entries of `EMAIL` (or a usr_/dep_ id)"},
				&cli.StringFlag{Name: "action", Usage: "only entries of `ACTION` (co-decrypt, push, invite, kick, …)"},
				&cli.StringFlag{Name: "since", Usage: "only entries since `WHEN`: a duration back (24h), a day (2026-12-01) or an RFC 3339 time"},
				&cli.StringFlag{Name: "env", Usage: "only entries about environment `NAME` (or an env_ id)"},
				&cli.BoolFlag{Name: "no-fold", Usage: "one line per entry (by default a member's co-decrypts within an hour are one line; --json keeps every row)"}},
			Action: func(c *cli.Context) error { return cmdAudit(u, c) },
		},
		{
			Name: "doctor", Usage: "check this machine and repository, and say how to fix problems", Description: "Example: capy doctor",
			Flags: []cli.Flag{jsonFlag}, Action: func(c *cli.Context) error { return cmdDoctor(u, c) },
		},
		encryptCommand(u, envFlag, jsonFlag),
		{
			Name: "completion", Usage: "print the shell completion script for bash, zsh or fish", ArgsUsage: "bash|zsh|fish",
			Description: "Example: . <(capy completion bash)            (in ~/.bashrc)\n" +
				"         capy completion zsh > \"${fpath[1]}/_capy\"\n" +
				"         capy completion fish > ~/.config/fish/completions/capy.fish",
			Action: func(c *cli.Context) error { return cmdCompletion(u, c) },
		},
		{
			Name: "version", Usage: "print the version, commit, build date and Go version", Description: "Example: capy version --json",
			Flags: []cli.Flag{jsonFlag}, Action: func(c *cli.Context) error {
				if c.NArg() > 0 {
					return usageError("version takes no arguments")
				}
				return cmdVersion(u)
			},
		},
	}, guardCommands(u, envFlag, jsonFlag)...)
}
