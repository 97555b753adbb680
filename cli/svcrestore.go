package cli

import (
	"errors"
	"fmt"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/splitschema/splitschema/internal/pitr"
	"github.com/splitschema/splitschema/internal/svcrestore"
)

const serviceRestoreUsage = "With --service S[,T] --target-db NAME, restores only those services (and the shared services\n" +
	"they use) into a new database, to inspect them: their schemas and rows, verified against the\n" +
	"backup, without the foreign keys to the services left out (the result lists them).\n\n" +
	"With --to-time T, --to-point NAME or --to-latest, --service S --in-place restores S as it was at\n" +
	"that point: the whole cluster is restored there into a scratch cluster (verified), a logical\n" +
	"backup of it is read as below, and both are removed at the end.\n\n" +
	"With --service S[,T] --in-place, restores only those services' rows, in the live database,\n" +
	"while the others keep running: the backup's rows are staged in temporary tables, the links the\n" +
	"restore would break are counted (per link, with sample keys), and only when none would, one\n" +
	"transaction that locks only those services' tables makes them hold the backup's rows. Refused,\n" +
	"changing nothing, when a link would break, a migration differs from the backup's or a table has\n" +
	"no primary key. --dry-run prints the same report and changes nothing (exit status 1 when the\n" +
	"restore would be refused)."

func serviceRestoreFlags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.StringFlag{Name: "service", Usage: "restore only service `S[,T...]`, at the backup's one instant (with --in-place, or --target-db for a new database)"},
		&ucli.BoolFlag{Name: "in-place", Usage: "with --service: restore into the live project database, the other services running on"},
		&ucli.BoolFlag{Name: "dry-run", Usage: "with --service: only report what the restore would change and which links it would break"},
	}
}

// runServiceRestore is `restore ID --service S --in-place|--dry-run`.
func runServiceRestore(e *env, id string) error {
	services, err := serviceRestoreArgs(e, "")
	if err != nil {
		return err
	}
	p, srv, err := e.projectServer()
	if err != nil {
		return err
	}
	pr := e.progress()
	res, err := svcrestore.Restore(e.ctx, p, srv, id, serviceRestoreOptions(e, services, pr))
	pr.done()
	if res == nil {
		return err
	}
	return finishServiceRestore(e, res, res.OK, err)
}

// runServiceRestoreAt is `restore --service S --in-place|--dry-run
// --to-time T|--to-point NAME|--to-latest`.
func runServiceRestoreAt(e *env, tg pitr.Target) error {
	services, err := serviceRestoreArgs(e, " with a point in time")
	if err != nil {
		return err
	}
	p, srv, err := e.projectServer()
	if err != nil {
		return err
	}
	s, err := e.pitrSetup(p, srv)
	if err != nil {
		return err
	}
	pr := e.progress()
	res, err := svcrestore.RestoreAt(e.ctx, p, srv, svcrestore.PointInTime{
		Setup: s, Target: tg, Dir: e.c.String("target-dir"), Audit: e.auditFunc(p),
	}, serviceRestoreOptions(e, services, pr))
	pr.done()
	if res == nil || (res.Restore == nil && err != nil) {
		if res != nil && res.Left != "" {
			fmt.Fprintf(e.stderr, "splitschema: left behind: %s\n", res.Left)
		}
		return err
	}
	return finishServiceRestore(e, res, res.Restore.OK, err)
}

// serviceRestoreArgs checks the flags of a restore of services into the
// live database (how, e.g. " with a point in time", goes into the
// messages) and returns the services.
func serviceRestoreArgs(e *env, how string) ([]string, error) {
	services := splitServices(e.c.String("service"))
	switch {
	case len(services) == 0:
		return nil, usageErr(e.c, errors.New("--in-place and --dry-run restore services: name them with --service S[,T]"))
	case e.c.IsSet("target-url") || e.c.IsSet("target-db"):
		return nil, usageErr(e.c, fmt.Errorf("--service with --in-place or --dry-run%s restores into the live project database: --target-db and --target-url do not apply", how))
	case !e.c.Bool("in-place") && !e.c.Bool("dry-run"):
		return nil, usageErr(e.c, fmt.Errorf("--service S%s restores into the live database: say so with --in-place (or only report with --dry-run)", how))
	}
	return services, nil
}

// serviceRestoreOptions are the options of a restore of services, from
// the flags.
func serviceRestoreOptions(e *env, services []string, pr *progress) svcrestore.Options {
	return svcrestore.Options{
		Services: services, DryRun: e.c.Bool("dry-run"),
		Jobs: e.c.Int("jobs"), PgBinDir: e.c.String("pg-bindir"), AllowUnsigned: e.c.Bool("allow-unsigned"), Logger: e.log,
		Progress: func(step string) { pr.show("restore: %s…", step) },
	}
}

// finishServiceRestore prints the result of a restore of services and
// gives its exit status: 1 when it was refused or failed (err says why).
func finishServiceRestore(e *env, res any, ok bool, err error) error {
	if werr := e.emit(res); werr != nil {
		return werr
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "splitschema: %s\n", err)
		return exitFindings()
	}
	if !ok {
		return exitFindings()
	}
	return nil
}

// splitServices splits --service a,b into names, dropping empty ones.
func splitServices(list string) []string {
	var out []string
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
