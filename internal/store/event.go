package store

import (
	"fmt"
	"strconv"
	"strings"
)

// ClientEvent is an audit event that happens on a member's machine, which
// the service cannot see happen: the split of the recovery phrase into
// SLIP-39 shares, and a recovery of key.enc (from the phrase or from
// shares). The member's client reports it (docs/api.md §4.9). Its fields
// are fixed forms checked here, so no free text and nothing of a share
// enters the chain.
type ClientEvent struct {
	Action string // ActionRecoverySplit or ActionRecover
	Set    string // the share set's identifier: four lowercase hex digits
	Scheme string // ActionRecoverySplit: "2-of-3", or "2:2-of-3,1-of-1" (groups needed: groups)
	From   string // ActionRecover: RecoverFromPhrase or RecoverFromShares
}

// Where a recovery came from.
const (
	RecoverFromPhrase = "phrase"
	RecoverFromShares = "shares"
)

// FieldError is ErrInvalid naming the refused field of a request.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Reason) }
func (e *FieldError) Unwrap() error { return ErrInvalid }

// Check refuses an event whose action is unknown or whose fields are not
// the action's fixed forms (a *FieldError).
func (e ClientEvent) Check() error {
	bad := func(field, reason string) error { return &FieldError{Field: field, Reason: reason} }
	switch e.Action {
	case ActionRecoverySplit:
		if !validSet(e.Set) {
			return bad("set", "must be 4 lowercase hex digits, at most 7fff")
		}
		if !validScheme(e.Scheme) {
			return bad("scheme", `must be "T-of-N" or "G:T-of-N,T-of-N,…" (1 ≤ T ≤ N ≤ 16, 1 ≤ G ≤ groups ≤ 16)`)
		}
		if e.From != "" {
			return bad("from", "only for recover")
		}
	case ActionRecover:
		switch e.From {
		case RecoverFromPhrase:
			if e.Set != "" {
				return bad("set", "only for a recovery from shares")
			}
		case RecoverFromShares:
			if !validSet(e.Set) {
				return bad("set", "must be 4 lowercase hex digits, at most 7fff")
			}
		default:
			return bad("from", `must be "phrase" or "shares"`)
		}
		if e.Scheme != "" {
			return bad("scheme", "only for recovery-split")
		}
	default:
		return bad("action", `must be "recovery-split" or "recover"`)
	}
	return nil
}

// MinRole is the least role that may record the event: a split, which
// hands out the organisation's root, is an admin's or owner's; any member
// who recovers their key.enc records that.
func (e ClientEvent) MinRole() Role {
	if e.Action == ActionRecoverySplit {
		return RoleAdmin
	}
	return RoleMember
}

// Target is the event's audit target (docs/api.md §6) for the member who
// reports it.
func (e ClientEvent) Target(userID string) string {
	switch e.Action {
	case ActionRecoverySplit:
		return userID + " set=" + e.Set + " scheme=" + e.Scheme
	case ActionRecover:
		if e.From == RecoverFromShares {
			return userID + " from=shares set=" + e.Set
		}
		return userID + " from=phrase"
	}
	return userID
}

func validSet(s string) bool {
	if len(s) != 4 || s[0] > '7' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// validScheme accepts "T-of-N", or "G:" and 1–16 comma-separated groups
// with G ≤ groups, each 1 ≤ T ≤ N ≤ 16, numbers without leading zeros.
func validScheme(s string) bool {
	if len(s) > 200 {
		return false
	}
	needed, groups, several := 1, s, strings.Contains(s, ":")
	if several {
		g, rest, _ := strings.Cut(s, ":")
		n, ok := small(g)
		if !ok {
			return false
		}
		needed, groups = n, rest
	}
	list := strings.Split(groups, ",")
	if len(list) > 16 || needed > len(list) || !several && len(list) != 1 {
		return false
	}
	for _, g := range list {
		t, n, ok := strings.Cut(g, "-of-")
		ti, ok1 := small(t)
		ni, ok2 := small(n)
		if !ok || !ok1 || !ok2 || ti > ni {
			return false
		}
	}
	return true
}

// small parses 1–16 written without a sign or leading zero.
func small(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 16 || strconv.Itoa(n) != s {
		return 0, false
	}
	return n, true
}
