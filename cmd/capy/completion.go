package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// completionFlag is the hidden flag urfave/cli answers with the words
// that may come next; the bash and zsh scripts call capy with it.
const completionFlag = "--generate-bash-completion"

// The scripts are urfave/cli's own (autocomplete/ in its module), with
// the program name fixed to capy.
const bashCompletion = `# capy completion for bash: . <(capy completion bash)
_capy_complete() {
  local cur words cword requestComp opts
  COMPREPLY=()
  cur="${COMP_WORDS[COMP_CWORD]}"
  if declare -F _init_completion >/dev/null 2>&1; then
    _init_completion -n "=:" || return
  else
    words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD
  fi
  words=("${words[@]:0:$cword}")
  if [[ "$cur" == "-"* ]]; then
    requestComp="${words[*]} ${cur} ` + completionFlag + `"
  else
    requestComp="${words[*]} ` + completionFlag + `"
  fi
  opts=$(eval "${requestComp}" 2>/dev/null)
  COMPREPLY=($(compgen -W "${opts}" -- ${cur}))
  return 0
}
complete -o bashdefault -o default -o nospace -F _capy_complete capy
`

const zshCompletion = `#compdef capy
# capy completion for zsh: capy completion zsh > "${fpath[1]}/_capy"
_capy() {
  local -a opts
  local cur
  cur=${words[-1]}
  if [[ "$cur" == "-"* ]]; then
    opts=("${(@f)$(${words[@]:0:#words[@]-1} ${cur} ` + completionFlag + `)}")
  else
    opts=("${(@f)$(${words[@]:0:#words[@]-1} ` + completionFlag + `)}")
  fi
  if [[ "${opts[1]}" != "" ]]; then
    _describe 'values' opts
  else
    _files
  fi
}
compdef _capy capy
`

func cmdCompletion(u *ui, c *cli.Context) error {
	if c.Args().Len() != 1 {
		return usageError("completion takes one argument: bash, zsh or fish")
	}
	switch c.Args().First() {
	case "bash":
		_, err := fmt.Fprint(u.stdout, bashCompletion)
		return err
	case "zsh":
		_, err := fmt.Fprint(u.stdout, zshCompletion)
		return err
	case "fish":
		script, err := c.App.ToFishCompletion()
		if err != nil {
			return fmt.Errorf("fish completion: %w", err)
		}
		_, err = fmt.Fprint(u.stdout, script)
		return err
	}
	return usageError("completion takes bash, zsh or fish, not %q", c.Args().First())
}
