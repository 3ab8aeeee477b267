package envsync

import (
	"context"
	"errors"
	"os"
	"reflect"
	"testing"
	"time"
)

// The push names what it changes, and ConfirmPush sees exactly those
// names before anything is pushed or written; a refusal changes nothing.
func TestPushNamesAndConfirmPush(t *testing.T) {
	r := &memRemote{}
	a := newMachine(t, r, memberKeys(t), "KEEP=1\nGONE=2\nEDIT=3\n")
	a.mustSync()
	b := newMachine(t, r, memberKeys(t), "")
	b.mustSync()
	if err := os.WriteFile(b.file, []byte("KEEP=1\nEDIT=changed\nNEW=4\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := b.read()
	want := PushNames{Added: []string{"NEW"}, Changed: []string{"EDIT"}, Removed: []string{"GONE"}}
	refused := errors.New("no")
	var asked []PushNames
	opt := Options{Backoff: func(int) time.Duration { return 0 }, ConfirmPush: func(n PushNames) error {
		asked = append(asked, n)
		return refused
	}}
	se := Env{ProjectID: prj, EnvID: env, File: plainFile(b.file), PinnedEpoch: 1, State: b.state}
	if _, err := Sync(context.Background(), r, b.kr, se, opt); !errors.Is(err, refused) {
		t.Fatalf("refused push: %v", err)
	}
	if len(asked) != 1 || !reflect.DeepEqual(asked[0], want) {
		t.Fatalf("asked %+v, want %+v", asked, want)
	}
	if len(r.versions) != 1 || b.read() != before {
		t.Fatalf("a refused push changed something: %d versions", len(r.versions))
	}
	// A dry run names the same and never asks.
	opt.DryRun = true
	rep, err := Sync(context.Background(), r, b.kr, se, opt)
	if err != nil || !reflect.DeepEqual(rep.Push, want) || rep.PushedChanges != 3 || len(asked) != 1 {
		t.Fatalf("dry run: %+v %v (asked %d)", rep, err, len(asked))
	}
	opt.DryRun = false
	opt.ConfirmPush = func(n PushNames) error { asked = append(asked, n); return nil }
	rep, err = Sync(context.Background(), r, b.kr, se, opt)
	if err != nil || !rep.Pushed || !reflect.DeepEqual(rep.Push, want) || len(r.versions) != 2 {
		t.Fatalf("agreed push: %+v %v", rep, err)
	}
	// Nothing to push: not asked.
	se.State = rep.State
	n := len(asked)
	if rep, err = Sync(context.Background(), r, b.kr, se, opt); err != nil || rep.Pushed || rep.Push.Len() != 0 || len(asked) != n {
		t.Fatalf("no-op sync: %+v %v", rep, err)
	}
}

func TestPushNamesWithoutAndUnion(t *testing.T) {
	n := PushNames{Added: []string{"A", "B"}, Changed: []string{"C"}, Removed: []string{"D"}}
	got := n.Without(map[string]bool{"B": true, "D": true})
	if !reflect.DeepEqual(got, PushNames{Added: []string{"A"}, Changed: []string{"C"}}) {
		t.Fatalf("Without: %+v", got)
	}
	u := got.union(PushNames{Added: []string{"A", "Z"}, Removed: []string{"D"}})
	if !reflect.DeepEqual(u, PushNames{Added: []string{"A", "Z"}, Changed: []string{"C"}, Removed: []string{"D"}}) {
		t.Fatalf("union: %+v", u)
	}
}
