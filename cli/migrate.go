package cli

import (
	"context"
	"errors"
	"time"

	ucli "github.com/urfave/cli/v2"

	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/migrate"
	"github.com/splitschema/splitschema/internal/pipeline"
	"github.com/splitschema/splitschema/internal/pitr"
	"github.com/splitschema/splitschema/internal/target"
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
	showRows := &ucli.BoolFlag{Name: "show-row-data", Usage: "show the row values PostgreSQL puts in a failed migration's detail (Failing row contains ...); redacted by default, for CI logs"}
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
						showRows,
					},
					Action: action(runMigrateUp),
				},
				{
					Name:  "down",
					Usage: "roll back: one migration of --service, or every service to --to VERSION, in reverse dependency order",
					Flags: []ucli.Flag{
						service("only this `SERVICE`"),
						to("roll back to `VERSION` (its migration stays applied; 0 undoes everything; without --service, every service)"),
						showRows,
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
					Flags:  []ucli.Flag{service("the `SERVICE` (required)"), showRows},
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
			Flags: []ucli.Flag{
				showRows,
				&ucli.BoolFlag{Name: "defer-links", Usage: "skip the check, made before any change, that every link names a table and columns that exist or that the migrations create (for a table the check cannot see created, e.g. in a DO block)"},
			},
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
	e.markPoint(p, srv, "apply "+time.Now().UTC().Format("2006-01-02T15:04:05Z"))
	res, err := pipeline.Apply(e.ctx, p, srv, migrate.Options{Log: e.log, BeforeService: pitr.BeforeMigration(p, srv), DeferLinks: e.c.Bool("defer-links")})
	if res != nil {
		res.Verbose = e.verbose
		if e.c.Bool("show-row-data") {
			res.Migrate.RevealRowData()
		}
	}
	return emitRun(e, res, err)
}

func runMigrateUp(e *env) error {
	if e.c.IsSet("to") {
		to := e.c.Int64("to")
		return e.runMigration(func(ctx context.Context, p *manifest.Project, srv *target.Server, o migrate.Options) (*migrate.Result, error) {
			return migrate.UpTo(ctx, p, srv, to, o)
		})
	}
	return e.runMigration(migrate.Up)
}

func runMigrateDown(e *env) error {
	switch {
	case e.c.IsSet("to"):
		to := e.c.Int64("to")
		return e.runMigration(func(ctx context.Context, p *manifest.Project, srv *target.Server, o migrate.Options) (*migrate.Result, error) {
			return migrate.DownTo(ctx, p, srv, to, o)
		})
	case e.c.String("service") == "":
		return usageErr(e.c, errors.New("migrate down: name the --service to roll back (its latest migration, or down to --to VERSION); --to without --service rolls back every service"))
	}
	return e.runMigration(migrate.Down)
}

func runMigrateRedo(e *env) error {
	if e.c.String("service") == "" {
		return usageErr(e.c, errors.New("migrate redo: --service is required"))
	}
	return e.runMigration(migrate.Redo)
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

// runMigration is the body of migrate up, down and redo: it loads the
// project and its server, runs the migration with --service and prints the
// result. The caller checks its own flags first, so a usage mistake is
// reported before the embedded cluster starts.
func (e *env) runMigration(migration func(context.Context, *manifest.Project, *target.Server, migrate.Options) (*migrate.Result, error)) error {
	if err := needArgs(e, 0, "no arguments"); err != nil {
		return err
	}
	p, srv, err := e.projectServer()
	if err != nil {
		return err
	}
	res, err := migration(e.ctx, p, srv, migrate.Options{Service: e.c.String("service"), Log: e.log, BeforeService: pitr.BeforeMigration(p, srv)})
	if e.c.Bool("show-row-data") {
		res.RevealRowData()
	}
	return emitRun(e, res, err)
}

// emitRun prints the result of a migrate run or of apply; a failure,
// already described in the result, makes the exit status 1.
func emitRun[R any](e *env, res *R, err error) error {
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
