package main

import (
	"reflect"
	"testing"

	"github.com/capy-oss/capy/internal/checkout"
	"github.com/urfave/cli/v2"
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
		// --preserve-env alone never takes the next argument as its value
		{[]string{"capy", "run", "--preserve-env", "--", "env"}, []string{"capy", "run", "--preserve-env", "--", "env"}},
		{[]string{"capy", "run", "env", "--preserve-env"}, []string{"capy", "run", "--preserve-env", "env"}},
		{[]string{"capy", "run", "--preserve-env=A,B", "env"}, []string{"capy", "run", "--preserve-env=A,B", "env"}},
	}
	for _, c := range cases {
		if got := reorderArgs(app, c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("reorderArgs(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestPreserveEnv(t *testing.T) {
	vars := []checkout.Variable{{Name: "A", Value: "a"}, {Name: "B", Value: "b"}, {Name: "C", Value: "c"}, {Name: "CAPY_X", Value: "x"}}
	set := map[string]bool{"A": true, "C": true, "CAPY_X": true}
	lookup := func(n string) (string, bool) { return "caller", set[n] }
	names := func(vs []checkout.Variable) []string {
		var out []string
		for _, v := range vs {
			out = append(out, v.Name)
		}
		return out
	}
	all := &preserveEnv{}
	if err := all.Set("true"); err != nil {
		t.Fatal(err)
	}
	if got := names(preserved(vars, all, lookup)); !reflect.DeepEqual(got, []string{"B", "CAPY_X"}) {
		t.Errorf("all: %q", got)
	}
	some := &preserveEnv{}
	if err := some.Set("C,B"); err != nil {
		t.Fatal(err)
	}
	if got := names(preserved(vars, some, lookup)); !reflect.DeepEqual(got, []string{"A", "B", "CAPY_X"}) {
		t.Errorf("C,B: %q", got)
	}
	if got := names(preserved(vars, nil, lookup)); len(got) != 4 {
		t.Errorf("none: %q", got)
	}
	for _, bad := range []string{"A=B", "A,,B", "A B"} {
		if err := (&preserveEnv{}).Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
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

// flagHasName finds the names urfave/cli's Names() computes, and no other,
// for every flag of every command.
func TestFlagHasNameMatchesUrfave(t *testing.T) {
	app := newApp(newUI(false))
	var walk func(cmds []*cli.Command)
	n := 0
	walk = func(cmds []*cli.Command) {
		for _, c := range cmds {
			for _, f := range append(c.Flags, app.Flags...) {
				for _, name := range f.Names() {
					if !flagHasName(f, name) {
						t.Errorf("capy %s: flagHasName(%q) is false", c.Name, name)
					}
				}
				if flagHasName(f, "no-such-flag") || flagHasName(f, "") {
					t.Errorf("capy %s: flagHasName finds a name %q does not have", c.Name, f.Names())
				}
				n++
			}
			walk(c.Subcommands)
		}
	}
	walk(app.Commands)
	if n < 100 {
		t.Fatalf("only %d flags seen", n)
	}
}
