package cli

import (
	"fmt"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/splitschema/splitschema/internal/scaffold"
)

func scaffoldCommands() []*ucli.Command {
	return []*ucli.Command{
		{
			Name:      "init",
			Usage:     "write a new project in the standard layout (never overwrites a file)",
			ArgsUsage: "[DIR]",
			Description: "Writes splitschema.yaml, schemas/, migrations/ (with sqlc-schemas.sql), queries/,\n" +
				"sqlc.yaml, a GitHub Actions workflow that runs `splitschema lint --github`, and the\n" +
				".gitignore lines for .splitschema/ (appended to an existing .gitignore). DIR defaults to\n" +
				"--dir and is created when missing.",
			Flags: []ucli.Flag{
				&ucli.StringFlag{Name: "database", Usage: "the project database `NAME` (default: from the folder's name)"},
				&ucli.StringFlag{Name: "prefix", Usage: "`PREFIX` of every role name (naming.prefix; default none: roles are <service>_owner, <service>_app); a second project on the same cluster needs one"},
			},
			Action: action(runInit),
		},
		{
			Name:  "service",
			Usage: "manage the project's services",
			Subcommands: []*ucli.Command{
				{
					Name:      "add",
					Usage:     "add a service: schemas/NAME.yaml, its first migration, starter queries and its sqlc package",
					ArgsUsage: "NAME",
					Flags: []ucli.Flag{
						&ucli.StringSliceFlag{Name: "link", Usage: "a column set of another service this one references, `svc.table(col,...)`; repeat for more"},
						&ucli.StringFlag{Name: "schema", Usage: "the service's `SCHEMA` (default: NAME)"},
						&ucli.StringFlag{Name: "description", Usage: "what the service does, in a `SENTENCE`"},
						&ucli.BoolFlag{Name: "defer-links", Usage: "accept a link to a table or column the linked service's migrations do not create (yet); refused otherwise"},
					},
					Action: action(runServiceAdd),
				},
			},
		},
	}
}

func runInit(e *env) error {
	e, args, err := flagsAfterArgs(e)
	if err != nil {
		return err
	}
	if len(args) > 1 {
		return usageErr(e.c, fmt.Errorf("init: want at most one folder, got %s", strings.Join(args, " ")))
	}
	dir := e.dir
	if len(args) == 1 {
		dir = args[0]
	}
	r, err := scaffold.Init(dir, scaffold.InitOptions{Database: e.c.String("database"), Prefix: e.c.String("prefix"), ToolVersion: releaseVersion()})
	if err != nil {
		return err
	}
	return e.emit(r)
}

func runServiceAdd(e *env) error {
	e, args, err := flagsAfterArgs(e)
	if err != nil {
		return err
	}
	if len(args) != 1 {
		return usageErr(e.c, fmt.Errorf("service add: want the service NAME, got %d arguments", len(args)))
	}
	r, err := scaffold.AddService(e.dir, scaffold.ServiceOptions{
		Name:        args[0],
		Schema:      e.c.String("schema"),
		Description: e.c.String("description"),
		Links:       e.c.StringSlice("link"),
		DeferLinks:  e.c.Bool("defer-links"),
	})
	if err != nil {
		return err
	}
	return e.emit(r)
}

// flagsAfterArgs lets flags follow the positional arguments, as in
// `service add orders --link customers.customer(id)`: urfave/cli stops
// parsing flags at the first argument, so the rest is parsed here, set on
// the context, and the env rebuilt. It returns the env and the positional
// arguments.
func flagsAfterArgs(e *env) (*env, []string, error) {
	args := e.c.Args().Slice()
	isBool := map[string]bool{}
	known := map[string]bool{}
	for _, f := range e.c.Command.Flags {
		_, b := f.(*ucli.BoolFlag)
		for _, n := range f.Names() {
			known[n] = true
			isBool[n] = b
		}
	}
	var positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			positional = append(positional, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !known[name] {
			return nil, nil, usageErr(e.c, fmt.Errorf("flag provided but not defined: %s", a))
		}
		switch {
		case isBool[name] && !hasValue:
			value = "true"
		case !hasValue:
			if i+1 >= len(args) {
				return nil, nil, usageErr(e.c, fmt.Errorf("flag needs an argument: %s", a))
			}
			i++
			value = args[i]
		}
		if err := e.c.Set(name, value); err != nil {
			return nil, nil, usageErr(e.c, fmt.Errorf("%s: %w", a, err))
		}
	}
	if len(positional) == len(args) {
		return e, args, nil
	}
	return newEnv(e.c), positional, nil
}
