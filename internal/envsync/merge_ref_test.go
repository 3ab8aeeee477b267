package envsync

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"
)

// referenceMerge is the first, straightforward Merge (a union of names,
// then per name: classify, take, look for a snippet), kept to check the
// faster one against it.
func referenceMerge(base, local, remote Side, prefer Prefer) Result {
	change := func(side Side, name string) Change {
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
			return
		}
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
		lc, rc := change(local, name), change(remote, name)
		lv, lok := local.Values[name]
		rv, rok := remote.Values[name]
		switch {
		case lc == Unchanged || lc == Absent:
			take(remote, name)
		case rc == Unchanged || rc == Absent:
			take(local, name)
		case lok == rok && lv == rv:
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

// TestMergeMatchesReference compares Merge with referenceMerge over random
// states with values, literal flags, snippets and every policy.
func TestMergeMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	vals := []Value{{Text: "a"}, {Text: "b"}, {Text: "a", Literal: true}, {Text: ""}}
	for i := 0; i < 20000; i++ {
		sides := [3]Side{NewSide(), NewSide(), NewSide()}
		for n := 0; n < 1+r.IntN(5); n++ {
			name := fmt.Sprintf("V%d", n)
			for si, s := range sides {
				if r.IntN(4) == 0 {
					continue // absent on this side
				}
				v := vals[r.IntN(len(vals))]
				snip := ""
				if r.IntN(2) == 0 {
					snip = fmt.Sprintf("capy:%s:%d%d", v.Text, si, r.IntN(2))
				}
				s.Set(name, v, snip)
			}
		}
		prefer := Prefer(r.IntN(3))
		got := Merge(sides[0], sides[1], sides[2], prefer)
		want := referenceMerge(sides[0], sides[1], sides[2], prefer)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("case %d, prefer %d:\nbase %v\nlocal %v\nremote %v\ngot  %+v\nwant %+v", i, prefer, sides[0], sides[1], sides[2], got, want)
		}
	}
}
