package cli

import (
	"errors"

	ucli "github.com/urfave/cli/v2"

	"github.com/splitschema/splitschema/internal/migrate"
)

// pipelineCommands are migrate, apply, lint, init and service.
func pipelineCommands() []*ucli.Command {
	cmds := append(migrateCommands(), lintCommand())
	return append(cmds, scaffoldCommands()...)
}

func migrateCommands() []*ucli.Command {
	service := func(usage string) *ucli.StringFlag {
		return &ucli.StringFlag{Name: "service", Aliases: []string{"s"}, Usage: usage}
	}
	to := func(usage string) *ucli.Int64Flag {
		return &ucli.Int64Flag{Name: "to", Usage: usage}
	}
	return []*ucli.Command{
		{
			Name:  "migrate",
			Usage: "run the services' goose migrations, each as its service's owner role",
			Description: "Each service's migrations live in migrations/<service>/ and run as <service>_owner with\n" +
				"search_path set to its schema and lock_timeout from splitschema.yaml; the version table is\n" +
				"<schema>.goose_db_version. Exit status 1 when a migration fails.",
			Subcommands: []*ucli.Command{
				{
					Name:  "up",
					Usage: "apply pending migrations, services in dependency order",
					Flags: []ucli.Flag{
						service("only this `SERVICE`"),
						to("apply up to and including `VERSION` (needs --service)"),
					},
					Action: action(runMigrateUp),
				},
				{
					Name:  "down",
					Usage: "roll back: one migration of --service, or every service to --to VERSION, in reverse dependency order",
					Flags: []ucli.Flag{
						service("only this `SERVICE`"),
						to("roll back to `VERSION` (its migration stays applied; 0 undoes everything)"),
					},
					Action: action(runMigrateDown),
				},
				{
					Name:   "status",
					Usage:  "print each service's current version and pending migrations",
					Flags:  []ucli.Flag{service("only this `SERVICE`")},
					Action: action(runMigrateStatus),
				},
				{
					Name:   "redo",
					Usage:  "roll back the latest migration of --service and apply it again",
					Flags:  []ucli.Flag{service("the `SERVICE` (required)")},
					Action: action(runMigrateRedo),
				},
			},
		},
		{
			Name:  "apply",
			Usage: "provision, migrate every service, then audit: the one command a pipeline runs",
			Description: "Creates what is missing (database, roles, schemas, grants, guard), applies every pending\n" +
				"migration in dependency order, re-syncs the REFERENCES grants of the links, and audits\n" +
				"isolation. Running it again changes nothing and says so. Exit status 1 on any failure.",
			Action: action(runApply),
		},
	}
}

func runApply(e *env) error {
	if err := needArgs(e, 0, "no arguments"); err != nil {
		return err
	}
	p, srv, err := e.projectServer()
	if err != nil {
		return err
	}
	res, err := migrate.Apply(e.ctx, p, srv, migrate.Options{Log: e.log})
	if res == nil {
		return err
	}
	res.Verbose = e.verbose
	if perr := e.emit(res); perr != nil {
		return perr
	}
	if err != nil {
		return exitFindings()
	}
	return nil
}

func runMigrateUp(e *env) error {
	if err := needArgs(e, 0, "no arguments"); err != nil {
		return err
	}
	p, srv, err := e.projectServer()
	if err != nil {
		return err
	}
	o := migrate.Options{Service: e.c.String("service"), Log: e.log}
	if e.c.IsSet("to") {
		return e.migrateResult(migrate.UpTo(e.ctx, p, srv, e.c.Int64("to"), o))
	}
	return e.migrateResult(migrate.Up(e.ctx, p, srv, o))
}

func runMigrateDown(e *env) error {
	if err := needArgs(e, 0, "no arguments"); err != nil {
		return err
	}
	p, err := e.project()
	if err != nil {
		return err
	}
	o := migrate.Options{Service: e.c.String("service"), Log: e.log}
	if o.Service == "" && !e.c.IsSet("to") {
		return usageErr(e.c, errors.New("migrate down: name a --service to roll back its latest migration, or give --to 0 to roll every service back"))
	}
	srv, err := e.server(p)
	if err != nil {
		return err
	}
	if e.c.IsSet("to") {
		return e.migrateResult(migrate.DownTo(e.ctx, p, srv, e.c.Int64("to"), o))
	}
	return e.migrateResult(migrate.Down(e.ctx, p, srv, o))
}

func runMigrateRedo(e *env) error {
	if err := needArgs(e, 0, "no arguments"); err != nil {
		return err
	}
	if e.c.String("service") == "" {
		return usageErr(e.c, errors.New("migrate redo: --service is required"))
	}
	p, srv, err := e.projectServer()
	if err != nil {
		return err
	}
	return e.migrateResult(migrate.Redo(e.ctx, p, srv, migrate.Options{Service: e.c.String("service"), Log: e.log}))
}

func runMigrateStatus(e *env) error {
	if err := needArgs(e, 0, "no arguments"); err != nil {
		return err
	}
	p, srv, err := e.projectServer()
	if err != nil {
		return err
	}
	st, err := migrate.Status(e.ctx, p, srv, e.c.String("service"))
	if errors.Is(err, migrate.ErrUsage) {
		return usageErr(e.c, err)
	}
	if err != nil {
		return err
	}
	return e.emit(st)
}

// migrateResult prints a run's result; a failed migration, already
// described in it, makes the exit status 1.
func (e *env) migrateResult(res *migrate.Result, err error) error {
	if errors.Is(err, migrate.ErrUsage) {
		return usageErr(e.c, err)
	}
	if res == nil {
		return err
	}
	if perr := e.emit(res); perr != nil {
		return perr
	}
	if err != nil {
		return exitFindings()
	}
	return nil
}
