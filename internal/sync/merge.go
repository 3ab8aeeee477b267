// Package sync holds capy's three-way merge of environment variables
// (DESIGN §3 Sync) and the sync loop that drives it against the service.
// The merge is pure: it sees decrypted values in memory and decides, per
// name, what the merged environment holds and what conflicts.
package sync

import (
	"sort"
)

// Value is one variable's plaintext value and its literal flag (single
// quoted in .env: never expanded). Two values are equal when both match.
type Value struct {
	Text    string
	Literal bool
}

// Side is one version of an environment: name → value, and for values that
// are already encrypted, the snippet that holds them (so an unchanged value
// keeps its snippet and its line in .env does not churn).
type Side struct {
	Values   map[string]Value
	Snippets map[string]string // absent for plaintext values
}

// NewSide returns an empty side.
func NewSide() Side {
	return Side{Values: map[string]Value{}, Snippets: map[string]string{}}
}

// Set records a value, with its snippet if it is encrypted ("" if not).
func (s Side) Set(name string, v Value, snippet string) {
	s.Values[name] = v
	if snippet != "" {
		s.Snippets[name] = snippet
	} else {
		delete(s.Snippets, name)
	}
}

// Prefer says how to settle conflicts.
type Prefer int

// Conflict policies.
const (
	PreferNone   Prefer = iota // report conflicts, change nothing
	PreferLocal                // the local side wins every conflict
	PreferRemote               // the remote side wins every conflict
)

// Conflict describes one name both sides changed differently.
type Conflict struct {
	Name   string
	Local  Change
	Remote Change
}

// Change says what one side did to a name relative to the base.
type Change int

// Kinds of change.
const (
	Unchanged Change = iota
	Added
	Modified
	Deleted
	Absent // not in base, not on this side
)

func (c Change) String() string {
	return [...]string{"unchanged", "added", "changed", "deleted", "absent"}[c]
}

// Result is the merged environment.
type Result struct {
	// Merged holds every variable of the merged environment. Snippets
	// holds the snippet to reuse for a value that did not change from one
	// of the sides; a name without a snippet must be encrypted.
	Merged Side
	// Conflicts is sorted by name; when non-empty (and Prefer was
	// PreferNone) Merged must not be used.
	Conflicts []Conflict
	// LocalChanged and RemoteChanged report whether Merged differs from
	// the local and the remote side (values or presence): a push is
	// needed when RemoteChanged, a rewrite of .env when LocalChanged or
	// when local held plaintext.
	LocalChanged  bool
	RemoteChanged bool
}

func change(base, side Side, name string) Change {
	b, inBase := base.Values[name]
	v, inSide := side.Values[name]
	switch {
	case !inBase && !inSide:
		return Absent
	case !inBase:
		return Added
	case !inSide:
		return Deleted
	case b == v:
		return Unchanged
	default:
		return Modified
	}
}

// Merge merges local and remote, both descended from base, by the rules of
// DESIGN §3, one name at a time:
//
//	local unchanged                 → remote (whatever it did)
//	remote unchanged or absent      → local  (whatever it did)
//	both did the same thing         → that (equal values are no conflict)
//	otherwise (changed vs changed, changed vs deleted) → conflict
//
// On a first sync base is empty: names on one side only are taken, names
// on both sides with different values conflict.
func Merge(base, local, remote Side, prefer Prefer) Result {
	names := map[string]struct{}{}
	for _, s := range []Side{base, local, remote} {
		for n := range s.Values {
			names[n] = struct{}{}
		}
	}
	res := Result{Merged: NewSide()}
	take := func(from Side, name string) {
		v, ok := from.Values[name]
		if !ok {
			return // deleted
		}
		// Reuse a snippet for this exact value from whichever side has one,
		// so an unchanged value keeps its ciphertext.
		snip := ""
		for _, s := range []Side{from, remote, local, base} {
			if sv, ok := s.Values[name]; ok && sv == v && s.Snippets[name] != "" {
				snip = s.Snippets[name]
				break
			}
		}
		res.Merged.Set(name, v, snip)
	}
	for name := range names {
		lc, rc := change(base, local, name), change(base, remote, name)
		switch {
		case lc == Unchanged || lc == Absent:
			take(remote, name)
		case rc == Unchanged || rc == Absent:
			take(local, name)
		case sameOutcome(local, remote, name):
			take(remote, name)
		default:
			switch prefer {
			case PreferLocal:
				take(local, name)
			case PreferRemote:
				take(remote, name)
			default:
				res.Conflicts = append(res.Conflicts, Conflict{Name: name, Local: lc, Remote: rc})
			}
		}
	}
	sort.Slice(res.Conflicts, func(i, j int) bool { return res.Conflicts[i].Name < res.Conflicts[j].Name })
	res.LocalChanged = !sameValues(res.Merged, local)
	res.RemoteChanged = !sameValues(res.Merged, remote)
	return res
}

// sameOutcome: both sides deleted the name, or both hold the same value.
func sameOutcome(a, b Side, name string) bool {
	av, aok := a.Values[name]
	bv, bok := b.Values[name]
	return aok == bok && av == bv
}

func sameValues(a, b Side) bool {
	if len(a.Values) != len(b.Values) {
		return false
	}
	for n, v := range a.Values {
		if w, ok := b.Values[n]; !ok || w != v {
			return false
		}
	}
	return true
}
