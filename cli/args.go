package cli

import (
	"slices"
	"strings"

	ucli "github.com/urfave/cli/v2"
)

// completionFlag is the flag urfave/cli's shell completion appends.
const completionFlag = "--generate-bash-completion"

// normalizeArgs lets flags go anywhere on the command line, as in
// `splitschema restore ID --target-db copy` or `service add orders --link
// customers.customer(id)`. urfave/cli (the flag package) stops reading
// flags at the first positional argument, so before it parses anything the
// command's own flags are moved in front of its positional arguments, and
// these follow a `--`: urfave/cli then parses every flag, --help included,
// once, for every command. A `--` given by the user still ends the flags:
// what follows it stays positional (`local psql -- -c 'SELECT 1'`). Which
// flags take a value comes from the commands' own flag definitions.
func normalizeArgs(app *ucli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	rest := args[1:]
	completing := len(rest) > 0 && rest[len(rest)-1] == completionFlag
	if completing {
		rest = rest[:len(rest)-1]
	}
	out := []string{args[0]}
	flags, cmds := app.Flags, app.Commands
	var leaf *ucli.Command
	i := 0
	// Walk down the command names; flags before them stay where they are.
	for i < len(rest) {
		a := rest[i]
		if a == "--" {
			break
		}
		if isFlag(a) {
			n := flagArity(flags, a)
			out = append(out, rest[i:min(i+1+n, len(rest))]...)
			i += 1 + n
			continue
		}
		cmd := findCommand(cmds, a)
		if cmd == nil {
			break
		}
		out = append(out, a)
		leaf, flags, cmds = cmd, cmd.Flags, cmd.Subcommands
		i++
	}
	if leaf == nil && i < len(rest) && rest[i] != "--" && !completing {
		// An unknown command: let urfave/cli say so.
		out = append(out, rest[i:]...)
		return withCompletion(out, completing)
	}
	var positional []string
	for i < len(rest) {
		a := rest[i]
		switch {
		case a == "--":
			positional = append(positional, rest[i+1:]...)
			i = len(rest)
		case isFlag(a):
			n := flagArity(flags, a)
			out = append(out, rest[i:min(i+1+n, len(rest))]...)
			i += 1 + n
		default:
			positional = append(positional, a)
			i++
		}
	}
	// --help shows the help and runs nothing: the arguments are dropped
	// (urfave/cli would read the first as a help topic).
	// When completing, they are dropped too: urfave/cli turns completion
	// off after a "--", and the command would run instead.
	if len(positional) > 0 && !slices.ContainsFunc(out, isHelpFlag) && !completing {
		out = append(append(out, "--"), positional...)
	}
	return withCompletion(out, completing)
}

func withCompletion(args []string, completing bool) []string {
	if completing {
		return append(args, completionFlag)
	}
	return args
}

func isHelpFlag(a string) bool { return a == "--help" || a == "-help" || a == "-h" || a == "--h" }

// isFlag reports whether a looks like a flag (a lone "-" is an argument).
func isFlag(a string) bool { return len(a) > 1 && a[0] == '-' }

// flagArity is 1 when flag a takes its value from the next argument, 0 when
// it is a boolean, has its value after "=", or is unknown (urfave/cli then
// reports it).
func flagArity(flags []ucli.Flag, a string) int {
	name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
	if hasValue || name == "help" || name == "h" {
		return 0
	}
	for _, f := range flags {
		if !slices.Contains(f.Names(), name) {
			continue
		}
		if df, ok := f.(ucli.DocGenerationFlag); ok && !df.TakesValue() {
			return 0
		}
		return 1
	}
	return 0
}

// findCommand returns the command called name (or an alias of it) among cmds.
func findCommand(cmds []*ucli.Command, name string) *ucli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}
