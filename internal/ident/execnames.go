package ident

import (
	"sort"
	"strings"
)

// execControlNames are environment variables that make a program (the
// dynamic loader, a shell, a language runtime, a tool it starts) load or
// run code named by whoever sets them. A value stored in capy under such
// a name is code execution on every machine that runs `capy run`: any
// member who can write a value (or a service replaying a member-signed
// one) would run code on teammates and runners. The list holds the
// well-known ones; it cannot hold every tool's.
var execControlNames = map[string]bool{
	// Shells and the search path.
	"PATH": true, "BASH_ENV": true, "ENV": true, "SHELLOPTS": true, "BASHOPTS": true, "PS4": true,
	"PROMPT_COMMAND": true, "IFS": true, "ZDOTDIR": true, "CDPATH": true, "SHELL": true,
	// Language runtimes.
	"NODE_OPTIONS": true, "NODE_PATH": true,
	"PYTHONPATH": true, "PYTHONSTARTUP": true, "PYTHONHOME": true, "PYTHONWARNINGS": true, "PYTHONINSPECT": true,
	"PERL5OPT": true, "PERL5LIB": true, "PERLLIB": true, "PERL5DB": true,
	"RUBYOPT": true, "RUBYLIB": true,
	"JAVA_TOOL_OPTIONS": true, "_JAVA_OPTIONS": true, "JDK_JAVA_OPTIONS": true, "CLASSPATH": true,
	"GOFLAGS": true, "RUSTC_WRAPPER": true, "GCONV_PATH": true,
	// Programs other tools start.
	"GIT_SSH": true, "GIT_SSH_COMMAND": true, "GIT_EXEC_PATH": true, "GIT_ASKPASS": true, "GIT_PAGER": true,
	"GIT_EDITOR": true, "GIT_CONFIG_GLOBAL": true, "GIT_CONFIG_SYSTEM": true, "GIT_CONFIG_COUNT": true,
	"GIT_CONFIG_PARAMETERS": true, "GIT_PROXY_COMMAND": true, "GIT_EXTERNAL_DIFF": true, "GIT_SEQUENCE_EDITOR": true,
	"DOTNET_STARTUP_HOOKS": true, "CORECLR_PROFILER_PATH": true, "CORECLR_PROFILER": true, "CORECLR_ENABLE_PROFILING": true,
	"SSH_ASKPASS": true, "PAGER": true, "MANPAGER": true, "EDITOR": true, "VISUAL": true, "BROWSER": true,
	"LESSOPEN": true, "LESSCLOSE": true,
}

// IsExecControlName reports whether an environment variable of this name
// can make a program run code of the setter's choosing: the names above,
// the dynamic loaders' LD_* and DYLD_*, git's GIT_CONFIG_KEY_*/VALUE_*
// and npm's npm_config_*.
//
// Names compare without regard to case: Windows (and npm) read them so,
// and `Path` set by a value would replace PATH there. On Unix a
// lowercase `path` is refused too; that costs an --allow-name at most.
func IsExecControlName(name string) bool {
	upper := strings.ToUpper(name)
	if execControlNames[upper] {
		return true
	}
	for _, prefix := range []string{"LD_", "DYLD_", "GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_", "NPM_CONFIG_"} {
		if strings.HasPrefix(upper, prefix) {
			return true
		}
	}
	return false
}

// RefusedExecNames lists, sorted, the names among values' that are exec
// control names (IsExecControlName) and not admitted: the rule of `capy
// run` and of the loader. allowed holds the names the person running
// capy admitted (a flag, CAPY_ALLOW_NAMES split at commas); blanks around
// a name are ignored.
func RefusedExecNames(values map[string]string, allowed ...string) []string {
	admit := make(map[string]bool, len(allowed))
	for _, n := range allowed {
		admit[strings.TrimSpace(n)] = true
	}
	var refused []string
	for n := range values {
		if IsExecControlName(n) && !admit[n] {
			refused = append(refused, n)
		}
	}
	sort.Strings(refused)
	return refused
}
