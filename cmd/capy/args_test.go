package main

import (
	"reflect"
	"testing"
)

func TestReorderArgs(t *testing.T) {
	app := newApp(newUI(false))
	cases := []struct{ in, want []string }{
		{[]string{"capy", "kick", "bob@x.io", "--yes"}, []string{"capy", "kick", "--yes", "bob@x.io"}},
		{[]string{"capy", "get", "A", "--env", "prod", "--json"}, []string{"capy", "get", "--env", "prod", "--json", "A"}},
		{[]string{"capy", "run", "--env", "prod", "--", "sh", "-c", "x --yes"}, []string{"capy", "run", "--env", "prod", "--", "sh", "-c", "x --yes"}},
		{[]string{"capy", "run", "ls", "-la"}, []string{"capy", "run", "--", "ls", "-la"}},
		{[]string{"capy", "env", "rotate", "production", "--yes"}, []string{"capy", "env", "rotate", "--yes", "production"}},
		{[]string{"capy", "--json", "members", "--all"}, []string{"capy", "--json", "members", "--all"}},
		{[]string{"capy", "redeem", "-", "--yes"}, []string{"capy", "redeem", "--yes", "-"}},
		{[]string{"capy", "kick", "bob@x.io", "--help"}, []string{"capy", "kick", "--help", "bob@x.io"}},
		{[]string{"capy"}, []string{"capy"}},
	}
	for _, c := range cases {
		if got := reorderArgs(app, c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("reorderArgs(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestChildEnvDropsCapyVariables(t *testing.T) {
	got := childEnv([]string{"PATH=/bin", "CAPY_KEY=secret", "CAPY_DEPLOY_CODE=x", "A=old", "CAPYBARA=ok"}, map[string]string{"A": "new", "B": "b"})
	want := []string{"PATH=/bin", "CAPYBARA=ok", "A=new", "B=b"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("childEnv = %q, want %q", got, want)
	}
	// execve passes duplicate names on; the last one wins, as with os/exec.
	got = childEnv([]string{"X=1", "PATH=/bin", "X=2", "CAPY_KEY=a", "CAPY_KEY=b"}, map[string]string{})
	want = []string{"PATH=/bin", "X=2"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("childEnv with duplicates = %q, want %q", got, want)
	}
}

func TestCommandName(t *testing.T) {
	app := newApp(newUI(false))
	cases := []struct {
		in   []string
		want string
	}{
		{[]string{"capy", "run", "--", "true"}, "run"},
		{[]string{"capy", "--json", "run", "--env", "prod", "--", "sh"}, "run"},
		{[]string{"capy", "sync"}, "sync"},
		{[]string{"capy"}, ""},
		{[]string{"capy", "--json"}, ""},
		{[]string{"capy", "runx"}, ""},
		{[]string{"capy", "--", "run"}, ""},
		{[]string{"capy", "env", "ls"}, "env"},
		{[]string{"capy", "-", "run"}, ""},
	}
	for _, c := range cases {
		if got := commandName(app, c.in); got != c.want {
			t.Errorf("commandName(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
