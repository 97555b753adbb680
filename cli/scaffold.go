package cli

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/splitschema/splitschema/internal/provision"
	"github.com/splitschema/splitschema/internal/scaffold"
	"github.com/splitschema/splitschema/internal/secrets"
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
				{
					Name:      "remove",
					Usage:     "remove a service: its schema with its data, its roles and its files (plan first; --yes does it)",
					ArgsUsage: "NAME",
					Description: "Without --yes, prints the SQL it would run on the project database (in one transaction: the\n" +
						"guard's row, DROP SCHEMA ... CASCADE, DROP OWNED BY and DROP ROLE for its roles), how many rows go\n" +
						"with the schema, and the files it would delete (schemas/NAME.yaml, migrations/NAME/, queries/NAME/,\n" +
						"gen/NAME/, its secrets file), and changes nothing. Refused while another service links to it, or\n" +
						"when one of its roles belongs to another project. Take a backup first.",
					Flags: []ucli.Flag{
						&ucli.BoolFlag{Name: "yes", Usage: "run the SQL and delete the files"},
					},
					Action: action(runServiceRemove),
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

// serviceRemoval is what `service remove` printed or did.
type serviceRemoval struct {
	Done     bool               `json:"done"`
	Database *provision.Removal `json:"database"`
	Files    *scaffold.Result   `json:"files"`
}

func (r serviceRemoval) Human() string {
	var b strings.Builder
	db := r.Database
	switch {
	case db.DatabaseMissing:
		fmt.Fprintf(&b, "database %s does not exist: nothing to drop\n", db.Database)
	case len(db.SQL) == 0:
		fmt.Fprintf(&b, "database %s holds nothing of %s\n", db.Database, db.Service)
	default:
		verb := "would run"
		if r.Done {
			verb = "ran"
		}
		rows := fmt.Sprintf("%d rows", db.Rows)
		if db.Rows < 0 {
			rows = "rows not counted (no read access)"
		}
		fmt.Fprintf(&b, "on database %s, in one transaction, %s (schema data: %s):\n", db.Database, verb, rows)
		for _, q := range db.SQL {
			fmt.Fprintf(&b, "  %s;\n", q)
		}
	}
	b.WriteString(r.Files.Human())
	if !r.Done {
		b.WriteString("nothing was changed: run again with --yes to do it (take a backup first)\n")
	}
	return b.String()
}

func runServiceRemove(e *env) error {
	args := e.c.Args().Slice()
	if len(args) != 1 {
		return usageErr(e.c, fmt.Errorf("service remove: want the service NAME, got %d arguments", len(args)))
	}
	name := args[0]
	yes := e.c.Bool("yes")
	p, srv, err := e.projectServer()
	if err != nil {
		return err
	}
	rm, err := provision.PlanRemoval(e.ctx, p, srv, name)
	if err != nil {
		return err
	}
	secretsFile := path.Join(filepath.ToSlash(secrets.Dir), name+".env")
	files, err := scaffold.RemoveService(e.dir, name, secretsFile, true)
	if err != nil {
		return err
	}
	if yes {
		if err := rm.Apply(e.ctx, srv); err != nil {
			return err
		}
		if files, err = scaffold.RemoveService(e.dir, name, secretsFile, false); err != nil {
			return fmt.Errorf("the database part is done, the files are not: %w", err)
		}
	}
	return e.emit(serviceRemoval{Done: yes, Database: rm, Files: files})
}
