package cli

import (
	"fmt"
	"strings"

	ucli "github.com/urfave/cli/v2"
)

func versionCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "version",
		Usage: "print splitschema's version, the VCS revision it was built from and the Go version",
		Action: action(func(e *env) error {
			return e.emit(readBuildInfo())
		}),
	}
}

func completionCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "completion",
		Usage:     "print the shell completion script for bash or zsh",
		ArgsUsage: "bash|zsh",
		Description: "bash: source <(splitschema completion bash), or save it under /etc/bash_completion.d/.\n" +
			"zsh:  source <(splitschema completion zsh) in ~/.zshrc.",
		Action: action(runCompletion),
	}
}

// bashCompletion asks splitschema itself for the words that may follow
// what is typed so far (urfave/cli's --generate-bash-completion).
const bashCompletion = `# splitschema completion for bash
_splitschema() {
	local word="${COMP_WORDS[COMP_CWORD]}" words
	if [[ "$word" == -* ]]; then
		words=$("${COMP_WORDS[@]:0:COMP_CWORD}" "$word" --generate-bash-completion 2>/dev/null)
	else
		words=$("${COMP_WORDS[@]:0:COMP_CWORD}" --generate-bash-completion 2>/dev/null)
	fi
	COMPREPLY=($(compgen -W "$words" -- "$word"))
}
complete -o bashdefault -o default -F _splitschema splitschema
`

func runCompletion(e *env) error {
	args := e.c.Args().Slice()
	if len(args) != 1 {
		return usageErr(e.c, fmt.Errorf("completion: name the shell, bash or zsh"))
	}
	switch args[0] {
	case "bash":
		_, err := fmt.Fprint(e.stdout, bashCompletion)
		return err
	case "zsh":
		_, err := fmt.Fprint(e.stdout, "# splitschema completion for zsh\nautoload -U +X compinit && compinit\nautoload -U +X bashcompinit && bashcompinit\n"+
			strings.TrimPrefix(bashCompletion, "# splitschema completion for bash\n"))
		return err
	}
	return usageErr(e.c, fmt.Errorf("completion %s: bash or zsh", args[0]))
}

// suggest returns the command name closest to a mistyped one, or "" when
// none is close: at most two edits away, or one that starts with it.
func suggest(c *ucli.Context, name string) string {
	cmds := c.App.Commands
	if c.Command != nil && len(c.Command.Subcommands) > 0 {
		cmds = c.Command.Subcommands
	}
	best, bestDist := "", 3
	for _, cmd := range cmds {
		if cmd.Hidden {
			continue
		}
		for _, n := range cmd.Names() {
			d := editDistance(name, n)
			if len(name) >= 3 && strings.HasPrefix(n, name) {
				d = min(d, 1)
			}
			if d < bestDist {
				best, bestDist = n, d
			}
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
