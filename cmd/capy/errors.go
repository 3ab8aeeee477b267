package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/checkout"
	"github.com/capy-oss/capy/internal/client"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/member"
	"github.com/capy-oss/capy/internal/recovery"
	"github.com/capy-oss/capy/internal/workspace"
)

// Exit statuses (docs/cli.md).
const (
	exitOK        = 0
	exitError     = 1
	exitUsage     = 2
	exitConflict  = 3
	exitForbidden = 4
	// The statuses shells give a command that cannot be run.
	exitNotExecutable = 126
	exitNotFound      = 127
)

const notExecutableHint = "check that the file is an executable program or a script with a #! line, and that you may run it"

// cliError is an error with its stable code, exit status and hint.
type cliError struct {
	code string // stable, listed in docs/cli.md
	exit int
	msg  string
	hint string
	err  error
}

func (e *cliError) Error() string { return e.msg }
func (e *cliError) Unwrap() error { return e.err }

func usageError(format string, a ...any) error {
	return &cliError{code: "usage", exit: exitUsage, msg: fmt.Sprintf(format, a...), hint: "see `capy COMMAND --help`"}
}

func withHint(err error, code, hint string) error {
	return &cliError{code: code, exit: exitError, msg: err.Error(), hint: hint, err: err}
}

// refusalExit is the exit status of a use-case's refusal (checkout.Error)
// by its code; any other code exits 1.
var refusalExit = map[string]int{
	"usage":         exitUsage,
	"tracked-file":  exitForbidden,
	"code-mismatch": exitForbidden,
	// A request whose public key does not match its code: a typo, or a
	// service that swapped the key. Nothing was read or uploaded.
	"share-key-mismatch": exitForbidden,
}

// classify maps any error to what the user sees: the one table of codes,
// exit statuses and hints. Nothing deeper prints errors or exits. Errors
// of the key, format and merge packages arrive sorted by checkout.KindOf,
// so that this package needs none of them.
func classify(err error) *cliError {
	var ce *cliError
	if errors.As(err, &ce) {
		return ce
	}
	var refusal *checkout.Error
	if errors.As(err, &refusal) {
		exit, ok := refusalExit[refusal.Code]
		if !ok {
			exit = exitError
		}
		return &cliError{code: refusal.Code, exit: exit, msg: refusal.Error(), hint: refusal.Hint, err: err}
	}
	mk := func(code string, exit int, hint string) *cliError {
		return &cliError{code: code, exit: exit, msg: err.Error(), hint: hint, err: err}
	}
	kind := checkout.KindOf(err)
	switch {
	case kind == checkout.KindConflict:
		return mk("conflict", exitConflict, "nothing was changed; resolve with `capy sync --prefer local` or `--prefer remote`")
	case errors.As(err, new(*client.TimeoutError)), errors.Is(err, context.DeadlineExceeded):
		return timeoutError(err)
	case errors.As(err, new(*client.UnreachableError)):
		return mk("unreachable", exitError, "check the service URL and your network, then try `capy doctor`")
	case errors.Is(err, context.Canceled):
		return mk("interrupted", exitError, "")
	case errors.Is(err, member.ErrNotSignedIn):
		if inCI() {
			return mk("not-signed-in", exitError, "in CI capy reads with a deploy code: set CAPY_DEPLOY_CODE (from `capy deploy`) and run `capy ci`, or `capy run -- CMD`")
		}
		return mk("not-signed-in", exitError, "run `capy login`")
	case errors.Is(err, member.ErrNoKeyEnc):
		return mk("no-key", exitError, "redeem an invite code (`capy redeem CODE`), add this machine from another (`capy device add`), or `capy recover` with the phrase")
	case errors.Is(err, recovery.ErrWrongPassphrase):
		return mk("wrong-passphrase", exitError, "type the passphrase the shares were made with (--passphrase); nothing was written")
	case errors.Is(err, recovery.ErrIncomplete):
		return mk("shares-incomplete", exitError, "give more shares of the same set; nothing was written")
	case errors.Is(err, recovery.ErrDigest):
		return mk("shares-mismatch", exitError, "one of the shares was altered or is not of this split; try other shares of the set, and check each with `capy recovery check`")
	case errors.Is(err, recovery.ErrLength), errors.Is(err, recovery.ErrUnknownWord), errors.Is(err, recovery.ErrChecksum),
		errors.Is(err, recovery.ErrPadding), errors.Is(err, recovery.ErrParameters):
		return mk("bad-share", exitUsage, "check the share word by word against its paper (`capy recovery check`); nothing was written")
	case errors.Is(err, recovery.ErrOtherSet), errors.Is(err, recovery.ErrDuplicate), errors.Is(err, recovery.ErrNotNeeded):
		return mk("bad-share", exitUsage, "give each share once, all of one split (the same set id), and only as many as it needs; nothing was written")
	case errors.Is(err, recovery.ErrPassphrase):
		return mk("usage", exitUsage, "")
	case kind == checkout.KindWrongKey:
		return mk("wrong-key", exitError, "the phrase or invite does not belong to this organisation; check the phrase word by word")
	case errors.Is(err, workspace.ErrNoProject):
		return mk("no-project", exitError, "run `capy init` to start, or `capy link` in a clone of a project")
	case errors.Is(err, workspace.ErrInsecure), kind == checkout.KindInsecureFile:
		return mk("insecure-file", exitError, "fix the permissions as the message says; capy never repairs a key file that others could have read")
	case errors.Is(err, workspace.ErrUnsafePath):
		return mk("unsafe-path", exitError, "replace the link (or pipe, device) with the file or directory itself; capy follows no link in a checkout, where one could point at another project's secrets")
	case errors.Is(err, workspace.ErrTooLarge):
		return mk("file-too-large", exitError, "check that it is the right file: an environment holds at most 8 MiB, project.json and state.json 1 MiB")
	case errors.Is(err, workspace.ErrAuditFork):
		return mk("audit-fork", exitError, "the service rewrote audit history you had seen; report this to your administrator")
	case errors.Is(err, workspace.ErrAuditHead):
		return mk("tampered", exitError, "the service's answer names an audit entry it cannot have written; it was not recorded. Tell your administrator")
	case kind == checkout.KindOuterAnswer:
		return mk("tampered", exitError, "the service did not wrap this machine's key; key.enc was left as it was. Tell your administrator")
	case kind == checkout.KindReadOnly:
		return mk("read-only", exitForbidden, "sign in as a member (`capy login`) to change values")
	case kind == checkout.KindTampered:
		return mk("tampered", exitError, "the service returned data that fails verification; nothing was changed. Tell your administrator")
	case errors.Is(err, client.ErrPagination):
		return mk("service", exitError, "the service's listing never ends; tell your administrator")
	case kind == checkout.KindStateDamaged:
		return mk("state-damaged", exitError, "restore .capy/state.json from a backup, or remove it (this checkout then forgets which versions it saw) and run `capy`")
	case kind == checkout.KindSnippetMoved:
		return mk("snippet-moved", exitError, "a snippet was copied onto another variable; set the value again with `capy set NAME`")
	case kind == checkout.KindCodeMistyped:
		return mk("bad-code", exitUsage, "copy the whole code again; it starts with capy-redeem- or capy-deploy-")
	case kind == checkout.KindBadCode:
		return mk("bad-code", exitUsage, "")
	case errors.Is(err, ident.ErrBadURL):
		return mk("bad-url", exitUsage, "use https://host (plain http only for localhost)")
	case errors.Is(err, ident.ErrBadEmail):
		return mk("bad-email", exitUsage, "")
	case kind == checkout.KindBadPhrase:
		return mk("bad-phrase", exitUsage, "type the 24 words separated by spaces")
	case errors.Is(err, member.ErrCodeMismatch), errors.Is(err, member.ErrCodeOrg):
		return mk("code-mismatch", exitForbidden, "")
	case errors.Is(err, fs.ErrNotExist):
		return mk("not-found", exitError, "")
	case kind == checkout.KindEnvSyntax:
		return mk("env-syntax", exitError, "fix that line of the .env file; capy changed nothing")
	}
	if p := client.ProblemOf(err); p != nil {
		return fromProblem(err, p)
	}
	var re *client.RedirectError
	if errors.As(err, &re) {
		return mk("redirect", exitError, "capy sends nothing to a redirect's target; if the service moved, update the service URL (project.json, --service)")
	}
	var he *client.HTTPError
	if errors.As(err, &he) {
		return mk("service", exitError, "is the service URL right? a proxy answered instead of capyd")
	}
	return mk("error", exitError, "")
}

// What capy says when the operator does not let this account create
// organisations: from the service's refusal, or before the phrase is
// shown when GET /v1/auth/me already says so.
const (
	orgCreationRefused = "the operator of this service does not let this account create organisations; nothing was created"
	orgCreationHint    = "join an existing organisation with an invite code (`capy redeem CODE`), or ask the service's operator"
)

// inCI says whether capy runs in a CI job: every common CI service sets
// CI (GitHub Actions, GitLab, CircleCI, Buildkite, Travis, …).
func inCI() bool {
	v := os.Getenv("CI")
	return v != "" && v != "false" && v != "0"
}

func fromProblem(err error, p *api.Problem) *cliError {
	ce := &cliError{code: string(p.Slug()), exit: exitError, msg: p.Error(), err: err}
	switch p.Slug() {
	case api.PMembershipRevoked:
		ce.exit, ce.msg = exitForbidden, "your membership of this organisation was revoked"
		ce.hint = "ask an admin to invite you again"
	case api.PNotAMember:
		ce.exit, ce.msg = exitForbidden, "you are not a member of this organisation"
		ce.hint = "ask an admin for an invite, then `capy redeem CODE`"
	case api.PForbidden:
		ce.exit, ce.hint = exitForbidden, "ask an admin or owner to do it, or to give you that role (`capy members` lists them)"
	case api.PEmailNotAllowed:
		ce.exit, ce.msg = exitForbidden, "this service does not let this e-mail address sign in: its operator allows only some addresses"
		ce.hint = "sign in with your organisation's address, or ask the service's operator to allow this one"
	case api.PAccountDisabled:
		ce.exit, ce.msg = exitForbidden, "the operator of this service has disabled this account"
		ce.hint = "ask the service's operator"
	case api.POrgCreationNotAllowed:
		ce.exit, ce.msg = exitForbidden, orgCreationRefused
		ce.hint = orgCreationHint
	case api.PInviteEmailMismatch:
		ce.exit, ce.hint = exitForbidden, "sign in with the e-mail the invite was sent to (`capy logout`, then redeem again)"
	case api.PInviteRevoked, api.PInviteConsumed, api.PInviteExpired:
		ce.exit, ce.hint = exitForbidden, "ask for a new invite code"
	case api.PDeployDenied, api.PDeployRevoked, api.PDeployExpired:
		ce.exit, ce.hint = exitForbidden, "ask an admin for a new deploy code (`capy deploy`)"
	case api.PUnauthenticated, api.PSessionExpired:
		ce.hint = "run `capy login`"
	case api.PCodeInvalid:
		ce.hint = "check the code in the newest mail, or run `capy login` again for a new one"
	case api.PCodeLocked:
		ce.hint = "too many wrong codes: run `capy login` again for a new one"
	case api.PRateLimited:
		if p.RetryAfter > 0 {
			// The budget that ran out may be any of api.md §1.8's (a
			// login's, a redeem's, an unlock's): the hint names none.
			ce.hint = fmt.Sprintf("run it again in %d s", int64(p.RetryAfter/time.Second))
		} else {
			ce.hint = "wait a little and try again"
		}
	case api.PVersionConflict:
		ce.hint = "someone else changed the environment; run `capy` again"
	case api.PUnavailable:
		ce.hint = "the service is unavailable; try again shortly"
	case api.PEpochMismatch:
		ce.hint = "the environment's key was rotated; run `capy` to update"
	}
	return ce
}
