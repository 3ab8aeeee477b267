package main

import (
	"encoding/json"
	"os"

	"github.com/rogpeppe/go-internal/testscript"
)

// pin drop FILE ENV | pin swap FILE ENV FROM | pin print FILE ENV |
// pin service FILE URL: edit or print the age recipient pinned for ENV in
// a project.json (drop: a project from before the pin; swap: a commit that
// puts FROM's recipient on ENV), or point it at another service URL.
func cmdPin(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 3 {
		ts.Fatalf("usage: pin drop|swap|print FILE ENV [FROM]")
	}
	var p map[string]any
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[1])), &p))
	if args[0] == "service" {
		p["service"] = args[2]
		out, err := json.MarshalIndent(p, "", "  ")
		ts.Check(err)
		ts.Check(os.WriteFile(ts.MkAbs(args[1]), out, 0o644))
		return
	}
	envs, _ := p["environments"].(map[string]any)
	env, ok := envs[args[2]].(map[string]any)
	if !ok {
		ts.Fatalf("no environment %s in %s", args[2], args[1])
	}
	switch args[0] {
	case "drop":
		delete(env, "recipient")
	case "swap":
		from, ok := envs[args[3]].(map[string]any)
		if !ok {
			ts.Fatalf("no environment %s", args[3])
		}
		env["recipient"] = from["recipient"]
	case "print":
		r, _ := env["recipient"].(string)
		ts.Stdout().Write([]byte(r + "\n"))
		return
	default:
		ts.Fatalf("pin: unknown operation %s", args[0])
	}
	out, err := json.MarshalIndent(p, "", "  ")
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), out, 0o644))
}
