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
	args := e.c.Args().Slice()
	if len(args) > 1 {
		return usageErr(e.c, fmt.Errorf("init: want at most one folder, got %s", strings.Join(args, " ")))
	}
	dir := e.dir
	if !globalIsSet(e.c, "dir") {
		dir = "." // init makes a project here, whatever project is above
	}
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
	args := e.c.Args().Slice()
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
