// Package sync holds capy's three-way merge of environment variables
// (DESIGN §3 Sync) and the sync loop that drives it against the service.
// The merge is pure: it sees decrypted values in memory and decides, per
// name, what the merged environment holds and what conflicts.
package envsync

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

// newSideSize returns an empty side with room for n variables.
func newSideSize(n int) Side {
	return Side{Values: make(map[string]Value, n), Snippets: make(map[string]string, n)}
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

// String names the change for messages.
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
//
// Each name is looked up once per side: local's names, then remote's not
// in local, then base's in neither (a sync of thousands of variables
// spends its time here otherwise).
func Merge(base, local, remote Side, prefer Prefer) Result {
	n := max(len(base.Values), len(local.Values), len(remote.Values))
	res := Result{Merged: Side{Values: make(map[string]Value, n), Snippets: make(map[string]string, n)}}
	visit := func(name string) {
		b, inBase := base.Values[name]
		l, inLocal := local.Values[name]
		r, inRemote := remote.Values[name]
		lc, rc := changeOf(b, inBase, l, inLocal), changeOf(b, inBase, r, inRemote)
		// from: which side's outcome the merged environment takes.
		var from Side
		var v Value
		var present bool
		switch {
		case lc == Unchanged || lc == Absent:
			from, v, present = remote, r, inRemote
		case rc == Unchanged || rc == Absent:
			from, v, present = local, l, inLocal
		case inLocal == inRemote && l == r: // both did the same thing
			from, v, present = remote, r, inRemote
		case prefer == PreferLocal:
			from, v, present = local, l, inLocal
		case prefer == PreferRemote:
			from, v, present = remote, r, inRemote
		default:
			res.Conflicts = append(res.Conflicts, Conflict{Name: name, Local: lc, Remote: rc})
			// Not in Merged: it differs from a side that holds it.
			res.LocalChanged = res.LocalChanged || inLocal
			res.RemoteChanged = res.RemoteChanged || inRemote
			return
		}
		if present {
			// Reuse a snippet for this exact value from whichever side has
			// one, so an unchanged value keeps its ciphertext.
			snip := ""
			for _, c := range [...]struct {
				s  Side
				v  Value
				ok bool
			}{{from, v, true}, {remote, r, inRemote}, {local, l, inLocal}, {base, b, inBase}} {
				if c.ok && c.v == v {
					if sn := c.s.Snippets[name]; sn != "" {
						snip = sn
						break
					}
				}
			}
			res.Merged.Set(name, v, snip)
		}
		res.LocalChanged = res.LocalChanged || present != inLocal || (present && v != l)
		res.RemoteChanged = res.RemoteChanged || present != inRemote || (present && v != r)
	}
	for name := range local.Values {
		visit(name)
	}
	for name := range remote.Values {
		if _, ok := local.Values[name]; !ok {
			visit(name)
		}
	}
	for name := range base.Values {
		if _, ok := local.Values[name]; ok {
			continue
		}
		if _, ok := remote.Values[name]; !ok {
			visit(name)
		}
	}
	sort.Slice(res.Conflicts, func(i, j int) bool { return res.Conflicts[i].Name < res.Conflicts[j].Name })
	return res
}

// changeOf is change for values already looked up.
func changeOf(b Value, inBase bool, v Value, inSide bool) Change {
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
