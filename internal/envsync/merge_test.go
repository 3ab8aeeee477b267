package envsync

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// state of one name on one side: "" = absent, otherwise its value.
type state string

func side(name string, s state, snippet string) Side {
	out := NewSide()
	if s != "" {
		out.Set(name, Value{Text: string(s)}, snippet)
	}
	return out
}

// TestMergeRules is DESIGN §3's merge table, row by row, plus the cases it
// implies (both deleted, both added equal, first sync).
func TestMergeRules(t *testing.T) {
	const (
		absent   = ""
		conflict = "CONFLICT"
	)
	rows := []struct {
		rule                string
		base, local, remote state
		want                string // resulting value, absent, or conflict
	}{
		{"local unchanged, remote unchanged", "a", "a", "a", "a"},
		{"local unchanged, remote changed → remote", "a", "a", "b", "b"},
		{"local unchanged, remote deleted → remote", "a", "a", absent, absent},
		{"local never had, remote added → remote", absent, absent, "b", "b"},
		{"local changed, remote unchanged → local", "a", "x", "a", "x"},
		{"local added, remote absent → local", absent, "x", absent, "x"},
		{"local deleted, remote unchanged → delete", "a", absent, "a", absent},
		{"both changed to different values → conflict", "a", "x", "y", conflict},
		{"both added different values → conflict", absent, "x", "y", conflict},
		{"both changed to the same value → no conflict", "a", "x", "x", "x"},
		{"both added the same value → no conflict", absent, "x", "x", "x"},
		{"local changed, remote deleted → conflict", "a", "x", absent, conflict},
		{"local deleted, remote changed → conflict", "a", absent, "y", conflict},
		{"both deleted → deleted", "a", absent, absent, absent},
	}
	for _, r := range rows {
		t.Run(r.rule, func(t *testing.T) {
			res := Merge(side("K", r.base, ""), side("K", r.local, ""), side("K", r.remote, ""), PreferNone)
			got := string(res.Merged.Values["K"].Text)
			if _, ok := res.Merged.Values["K"]; !ok {
				got = absent
			}
			if len(res.Conflicts) > 0 {
				got = conflict
			}
			if got != r.want {
				t.Fatalf("base %q local %q remote %q: got %q, want %q", r.base, r.local, r.remote, got, r.want)
			}
			if r.want == conflict {
				// The policies settle it toward their side.
				for _, p := range []struct {
					prefer Prefer
					want   state
				}{{PreferLocal, r.local}, {PreferRemote, r.remote}} {
					res := Merge(side("K", r.base, ""), side("K", r.local, ""), side("K", r.remote, ""), p.prefer)
					v, ok := res.Merged.Values["K"]
					if len(res.Conflicts) != 0 || (p.want == absent) == ok || (ok && state(v.Text) != p.want) {
						t.Errorf("prefer %d: got %+v (present %v), want %q", p.prefer, v, ok, p.want)
					}
				}
			}
		})
	}
}

func TestLiteralFlagIsPartOfTheValue(t *testing.T) {
	base := NewSide()
	base.Set("K", Value{Text: "${X}"}, "capy:aaaaa:old")
	local := NewSide()
	local.Set("K", Value{Text: "${X}", Literal: true}, "")
	res := Merge(base, local, base, PreferNone)
	if v := res.Merged.Values["K"]; !v.Literal || res.Merged.Snippets["K"] != "" || !res.RemoteChanged {
		t.Fatalf("a change of quoting alone must be taken and re-encrypted: %+v %q", v, res.Merged.Snippets["K"])
	}
}

func TestUnchangedValuesKeepTheirSnippets(t *testing.T) {
	base, local, remote := NewSide(), NewSide(), NewSide()
	base.Set("A", Value{Text: "1"}, "capy:aaaaa:base")
	local.Set("A", Value{Text: "1"}, "") // pasted back as plaintext, same value
	remote.Set("A", Value{Text: "1"}, "capy:aaaaa:base")
	local.Set("B", Value{Text: "new"}, "") // plaintext edit
	remote.Set("C", Value{Text: "3"}, "capy:ccccc:remote")
	res := Merge(base, local, remote, PreferNone)
	if res.Merged.Snippets["A"] != "capy:aaaaa:base" {
		t.Errorf("A lost its snippet: %q", res.Merged.Snippets["A"])
	}
	if _, ok := res.Merged.Snippets["B"]; ok {
		t.Error("B is new plaintext and must be encrypted, not given a snippet")
	}
	if res.Merged.Snippets["C"] != "capy:ccccc:remote" {
		t.Errorf("C: %q", res.Merged.Snippets["C"])
	}
	if !res.LocalChanged || !res.RemoteChanged {
		t.Errorf("changed flags: local %v remote %v", res.LocalChanged, res.RemoteChanged)
	}
}

func TestNoChangeMeansNoPush(t *testing.T) {
	s := NewSide()
	s.Set("A", Value{Text: "1"}, "capy:aaaaa:x")
	res := Merge(s, s, s, PreferNone)
	if res.LocalChanged || res.RemoteChanged || len(res.Conflicts) != 0 {
		t.Fatalf("%+v", res)
	}
}

// TestMergeProperties checks invariants over random three-way states:
// a side that did nothing never wins a conflict, nothing appears from
// nowhere, and the merge is symmetric up to which side wins a policy.
func TestMergeProperties(t *testing.T) {
	vals := []state{"", "a", "b", "c"}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 5000; i++ {
		base, local, remote := NewSide(), NewSide(), NewSide()
		for n := 0; n < 4; n++ {
			name := fmt.Sprintf("V%d", n)
			for _, s := range []Side{base, local, remote} {
				if v := vals[r.IntN(len(vals))]; v != "" {
					s.Set(name, Value{Text: string(v)}, "")
				}
			}
		}
		res := Merge(base, local, remote, PreferNone)
		swapped := Merge(base, remote, local, PreferNone)
		if len(res.Conflicts) != len(swapped.Conflicts) {
			t.Fatalf("conflicts not symmetric")
		}
		if len(res.Conflicts) == 0 && !sameValues(res.Merged, swapped.Merged) {
			t.Fatalf("merge not symmetric without conflicts")
		}
		for name, v := range res.Merged.Values {
			lv, lok := local.Values[name]
			rv, rok := remote.Values[name]
			if !(lok && lv == v) && !(rok && rv == v) {
				t.Fatalf("%s=%q came from neither side", name, v.Text)
			}
		}
		for _, c := range res.Conflicts {
			if c.Local == Unchanged || c.Remote == Unchanged {
				t.Fatalf("%s: a side that did nothing cannot conflict", c.Name)
			}
		}
		if sameValues(local, remote) && (len(res.Conflicts) != 0 || !sameValues(res.Merged, local)) {
			t.Fatalf("equal sides must merge to themselves")
		}
	}
}
