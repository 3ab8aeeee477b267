package ident

import (
	"strings"
	"testing"
)

func TestIsExecControlName(t *testing.T) {
	for _, n := range []string{"PATH", "LD_PRELOAD", "LD_LIBRARY_PATH", "DYLD_INSERT_LIBRARIES", "NODE_OPTIONS", "BASH_ENV",
		"PYTHONPATH", "JAVA_TOOL_OPTIONS", "GIT_SSH_COMMAND", "GIT_CONFIG_KEY_0", "npm_config_script_shell", "NPM_CONFIG_NODE_OPTIONS", "GOFLAGS",
		"GIT_CONFIG_PARAMETERS", "DOTNET_STARTUP_HOOKS", "Path", "ld_preload"} {
		if !IsExecControlName(n) {
			t.Errorf("%s is not flagged", n)
		}
	}
	for _, n := range []string{"DATABASE_URL", "API_KEY", "PATHS", "MY_PATH", "NODE_ENV", "LD", "npm_config", "GIT_AUTHOR_NAME", "HOME"} {
		if IsExecControlName(n) {
			t.Errorf("%s is flagged", n)
		}
	}
}

func TestRefusedExecNames(t *testing.T) {
	values := map[string]string{"PATH": "/x", "NODE_OPTIONS": "-r x", "Path": "y", "API_KEY": "k"}
	if got := RefusedExecNames(values); strings.Join(got, ",") != "NODE_OPTIONS,PATH,Path" {
		t.Fatalf("RefusedExecNames = %v", got)
	}
	if got := RefusedExecNames(values, " PATH", "Path ", ""); strings.Join(got, ",") != "NODE_OPTIONS" {
		t.Fatalf("RefusedExecNames with PATH and Path admitted = %v", got)
	}
}
