package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	ucli "github.com/urfave/cli/v2"

	"github.com/splitschema/splitschema/internal/audit"
	"github.com/splitschema/splitschema/internal/backup"
	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/secrets"
	"github.com/splitschema/splitschema/internal/verify"
)

func backupFlags() (jobs *ucli.IntFlag, bindir *ucli.StringFlag) {
	return &ucli.IntFlag{Name: "jobs", Aliases: []string{"j"}, Value: runtime.NumCPU(), Usage: "parallel `N` jobs (pg_dump/pg_restore workers, row-count connections)"},
		&ucli.StringFlag{Name: "pg-bindir", EnvVars: []string{"SPLITSCHEMA_PG_BINDIR"}, Usage: "`DIR` holding the pg_dump and pg_restore to use (default: the server's own, else the newest installed)"}
}

func backupCommands() []*ucli.Command {
	jobs, bindir := backupFlags()
	return []*ucli.Command{
		{
			Name:      "backup",
			Usage:     "back up every service at one instant: one snapshot, one pg_dump, row counts, roles, checksums",
			ArgsUsage: " ",
			Description: "Exports one snapshot, records inside it every service's migration version and every table's\n" +
				"exact row count, has pg_dump dump that same snapshot (directory format, parallel), saves the\n" +
				"service roles, and writes manifest.json with the SHA-256 of every file last. The backup appears\n" +
				"in the backups folder (splitschema.yaml) only when complete. Writers are never stopped; DDL waits.",
			Flags: []ucli.Flag{
				jobs,
				&ucli.StringFlag{Name: "compress", Usage: "pg_dump `SPEC`: a level 0-9, or from pg_dump 16 on METHOD[:DETAIL] (lz4, gzip:1, zstd:3...); default lz4 (16+), else gzip level 1"},
				&ucli.BoolFlag{Name: "fingerprint", Usage: "also hash every table's rows in the snapshot (order-independent), so that verify after a restore compares content, not only row counts; reads every row once more"},
				&ucli.BoolFlag{Name: "with-role-passwords", Usage: "also save the service roles' password verifiers (never the passwords) in roles.json/roles.sql"},
				bindir,
				&ucli.BoolFlag{Name: "physical", Usage: "take a physical backup with pgBackRest instead (needs `splitschema pitr enable`)"},
				&ucli.StringFlag{Name: "type", Value: "incr", Usage: "physical backup `TYPE`: full, diff or incr"},
			},
			Action: action(runBackup),
			Subcommands: []*ucli.Command{
				{
					Name:   "list",
					Usage:  "list the backups, newest first; incomplete ones are shown as such",
					Action: action(runBackupList),
				},
				{
					Name:      "verify",
					Usage:     "check every file of a backup against its manifest's size and SHA-256, the manifest's own checksum and its signature",
					ArgsUsage: "ID",
					Flags: []ucli.Flag{
						&ucli.BoolFlag{Name: "restore-test", Usage: "also restore it into a scratch database, verify that, and drop it"},
						allowUnsignedFlag(),
						jobs, bindir,
					},
					Action: action(runBackupVerify),
				},
				{
					Name:  "prune",
					Usage: "check the backups, keep the newest that pass, delete older ones and incomplete leftovers",
					Description: "Checks the backups newest first (every file's size and SHA-256, the manifest's own checksum\n" +
						"and signature) until --keep of them pass; deletes the complete backups older than those, and\n" +
						"incomplete folders nothing writes. A damaged backup never counts toward --keep and is kept\n" +
						"(reported) unless --delete-damaged. Nothing complete is deleted while fewer than --keep pass.",
					Flags: []ucli.Flag{
						&ucli.IntFlag{Name: "keep", Usage: "keep the `N` newest verified backups (default: retention.keep of splitschema.yaml)"},
						&ucli.BoolFlag{Name: "delete-damaged", Usage: "also delete the backups found damaged (by default they are kept for inspection)"},
						&ucli.BoolFlag{Name: "dry-run", Usage: "check and report what would be deleted; delete nothing"},
						jobs,
					},
					Action: action(runBackupPrune),
				},
			},
		},
		{
			Name:      "restore",
			Usage:     "restore a backup into a new database, then verify it against the backup",
			ArgsUsage: "ID",
			Description: "Checks every file's SHA-256, refuses a target database that exists, creates the missing\n" +
				"service roles (app roles get the project's passwords unless the backup holds verifiers),\n" +
				"creates the database, runs pg_restore in parallel and verifies row counts, migration versions,\n" +
				"foreign keys, broken links and isolation. A restore that fails once the database exists\n" +
				"renames it <name>_failed_<id>, so nothing half-restored looks whole. Exit status 1 on failure.\n\n" +
				serviceRestoreUsage,
			Flags: append([]ucli.Flag{
				&ucli.StringFlag{Name: "target-db", Usage: "new database `NAME` on the project's server (default: the backed-up database's name)"},
				&ucli.StringFlag{Name: "target-url", Usage: "admin `URL` of any server; the database it names is created there"},
				allowUnsignedFlag(),
				jobs, bindir,
				&ucli.StringFlag{Name: "to-time", Usage: "point-in-time restore to `TIME` (RFC 3339) into a new cluster, no ID"},
				&ucli.StringFlag{Name: "to-point", Usage: "point-in-time restore to the restore point `NAME` (splitschema pitr points)"},
				&ucli.BoolFlag{Name: "to-latest", Usage: "point-in-time restore to the end of the archived WAL"},
				&ucli.StringFlag{Name: "target-dir", Usage: "folder `DIR` of the point-in-time restore's new cluster (must not exist)"},
				&ucli.IntFlag{Name: "port", Usage: "`PORT` of the point-in-time restore's new cluster (default: a free one)"},
			}, serviceRestoreFlags()...),
			Action: action(runRestore),
		},
		{
			Name:  "verify",
			Usage: "compare a database with a backup: row counts, versions, foreign keys, broken links, isolation",
			Flags: []ucli.Flag{
				&ucli.StringFlag{Name: "against", Usage: "backup `ID` to compare with (required)"},
				&ucli.StringFlag{Name: "target-db", Usage: "database `NAME` on the project's server (default: the project's database)"},
				jobs,
			},
			Action: action(runVerify),
		},
	}
}

func allowUnsignedFlag() *ucli.BoolFlag {
	return &ucli.BoolFlag{Name: "allow-unsigned", Usage: "accept, with a warning, an unsigned backup while a backup key is configured (one taken before the key was)"}
}

// needID checks that exactly one positional argument, a backup id, was given.
func needID(e *env) (string, error) {
	a := e.c.Args().Slice()
	if len(a) != 1 {
		return "", usageErr(e.c, fmt.Errorf("%s: want one backup ID (`splitschema backup list` shows them), got %d arguments", e.c.Command.FullName(), len(a)))
	}
	return a[0], nil
}

// interruptible makes Ctrl-C or SIGTERM cancel e.ctx, so that a backup or
// restore stops its pg_dump or pg_restore and cleans up (a restore sets its
// database aside) instead of dying with them running on.
func (e *env) interruptible() (stop func()) {
	ctx, stop := signal.NotifyContext(e.ctx, os.Interrupt, syscall.SIGTERM)
	e.ctx = ctx
	return stop
}

// auditFunc wires the isolation audit into verify.
func (e *env) auditFunc(p *manifest.Project) verify.AuditFunc { return audit.ForVerify(p, e.log) }

// appPassword gives a restored app role the project's password for it.
func (e *env) appPassword(p *manifest.Project) func(string) (string, error) {
	return func(svc string) (string, error) {
		pw, err := secrets.Password(p.Dir, svc)
		if errors.Is(err, secrets.ErrNoPassword) {
			e.log.Warn("no password known for the service: its app role is created without one", "service", svc, "set", secrets.EnvVar(svc))
			return "", nil
		}
		return pw, err
	}
}

// progress prints a line that rewrites itself on stderr, only when stderr
// is a terminal; done clears it.
type progress struct {
	mu  sync.Mutex
	w   io.Writer
	on  bool
	len int
}

func (e *env) progress() *progress { return &progress{w: e.stderr, on: e.stderrIsTerminal()} }

func (p *progress) show(format string, args ...any) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	line := fmt.Sprintf(format, args...)
	n := utf8.RuneCountInString(line)
	pad := max(p.len-n, 0)
	p.len = n + pad // what the terminal line shows now
	fmt.Fprintf(p.w, "\r%s%*s", line, pad, "")
}

func (p *progress) done() {
	if !p.on || p.len == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "\r%*s\r", p.len, "")
	p.len = 0
}

func runBackup(e *env) error {
	defer e.interruptible()()
	if e.c.Bool("physical") {
		return runPhysicalBackup(e)
	}
	if err := needArgs(e, 0, "no arguments"); err != nil {
		return err
	}
	if e.c.Int("jobs") < 1 {
		return usageErr(e.c, fmt.Errorf("--jobs %d: at least 1", e.c.Int("jobs")))
	}
	p, srv, err := e.projectServer()
	if err != nil {
		return err
	}
	pr := e.progress()
	start := time.Now()
	res, err := backup.Run(e.ctx, p, srv, backup.Options{
		Jobs:              e.c.Int("jobs"),
		Compress:          e.c.String("compress"),
		WithRolePasswords: e.c.Bool("with-role-passwords"),
		Fingerprint:       e.c.Bool("fingerprint"),
		PgBinDir:          e.c.String("pg-bindir"),
		Tool:              Version,
		Logger:            e.log,
		Progress: func(g backup.Progress) {
			el := time.Since(start).Seconds()
			switch g.Phase {
			case backup.PhaseSnapshot:
				pr.show("backup: taking the snapshot…")
			case backup.PhaseDump:
				pr.show("backup: %.0fs  dumping %d/%d tables, %s written; counted %d/%d tables",
					el, g.TablesDumped, g.TablesTotal, backup.HumanBytes(g.Bytes), g.TablesCounted, g.TablesToCount)
			case backup.PhaseSeal:
				pr.show("backup: %.0fs  checksumming and syncing the files…", el)
			}
		},
	})
	pr.done()
	if err != nil {
		return err
	}
	e.markPoint(p, srv, "backup "+res.ID)
	return e.emit(res)
}

func runBackupList(e *env) error {
	if err := needArgs(e, 0, "no arguments"); err != nil {
		return err
	}
	p, err := e.project()
	if err != nil {
		return err
	}
	l, err := backup.List(e.ctx, p)
	if err != nil {
		return err
	}
	phys, err := e.physicalListing(p)
	if err != nil {
		return err
	}
	return e.emit(listing{Listing: l, Physical: phys})
}

func runBackupVerify(e *env) error {
	defer e.interruptible()()
	id, err := needID(e)
	if err != nil {
		return err
	}
	p, err := e.project()
	if err != nil {
		return err
	}
	var res *backup.CheckResult
	if e.c.Bool("restore-test") {
		srv, serr := e.server(p)
		if serr != nil {
			return serr
		}
		pr := e.progress()
		res, err = backup.TestRestore(e.ctx, p, srv, id, backup.RestoreOptions{
			Jobs: e.c.Int("jobs"), PgBinDir: e.c.String("pg-bindir"), Audit: e.auditFunc(p),
			AllowUnsigned: e.c.Bool("allow-unsigned"),
			AppPassword:   e.appPassword(p), Logger: e.log,
			Progress: func(step string) { pr.show("restore test: %s…", step) },
		})
		pr.done()
	} else {
		res, err = backup.Check(e.ctx, p, id, backup.CheckOptions{Jobs: e.c.Int("jobs"), AllowUnsigned: e.c.Bool("allow-unsigned")})
	}
	var re *backup.RestoreError
	switch {
	case errors.As(err, &re):
		return e.failWith(res, err)
	case err != nil:
		return err
	case !res.OK:
		if err := e.emit(res); err != nil {
			return err
		}
		return exitFindings()
	}
	return e.emit(res)
}

// failWith prints a failed command's result (as JSON with --json) and its
// error on stderr, and exits 1.
func (e *env) failWith(result any, err error) error {
	if e.json {
		if werr := e.writeJSON(result); werr != nil {
			return werr
		}
	}
	fmt.Fprintf(e.stderr, "splitschema: %s\n", err)
	return exitFindings()
}

func runBackupPrune(e *env) error {
	if err := needArgs(e, 0, "no arguments"); err != nil {
		return err
	}
	p, err := e.project()
	if err != nil {
		return err
	}
	keep := p.Settings.Keep
	if e.c.IsSet("keep") {
		keep = e.c.Int("keep")
	}
	if keep < 1 {
		return usageErr(e.c, fmt.Errorf("--keep %d: at least 1 (the newest complete backup is never deleted)", keep))
	}
	defer e.interruptible()()
	res, err := backup.Prune(e.ctx, p, backup.PruneOptions{
		Keep: keep, DeleteDamaged: e.c.Bool("delete-damaged"), DryRun: e.c.Bool("dry-run"), Jobs: e.c.Int("jobs"),
	})
	if err != nil {
		return err
	}
	if res.DryRun {
		return e.emit(res) // physical backups are left alone by a dry run
	}
	phys, err := e.physicalPrune(p, keep)
	if err != nil {
		return err
	}
	if phys == nil {
		return e.emit(res)
	}
	return e.emit(pruned{PruneResult: res, Physical: phys})
}

func runRestore(e *env) error {
	defer e.interruptible()()
	if e.c.IsSet("to-time") || e.c.IsSet("to-point") || e.c.IsSet("to-latest") {
		return runPitrRestore(e)
	}
	id, err := needID(e)
	if err != nil {
		return err
	}
	if e.c.Bool("in-place") || e.c.Bool("dry-run") || (e.c.IsSet("service") && !e.c.IsSet("target-db") && !e.c.IsSet("target-url")) {
		return runServiceRestore(e, id)
	}
	if e.c.IsSet("target-db") && e.c.IsSet("target-url") {
		return usageErr(e.c, errors.New("--target-db and --target-url: give one of them"))
	}
	var services []string
	if e.c.IsSet("service") {
		if services = splitServices(e.c.String("service")); len(services) == 0 {
			return usageErr(e.c, errors.New("--service names no service: give --service S[,T]"))
		}
	}
	p, srv, err := e.projectServer()
	if err != nil {
		return err
	}
	pr := e.progress()
	res, err := backup.Restore(e.ctx, p, srv, id, backup.RestoreOptions{
		TargetDB: e.c.String("target-db"), TargetURL: e.c.String("target-url"), Services: services,
		Jobs: e.c.Int("jobs"), PgBinDir: e.c.String("pg-bindir"), AllowUnsigned: e.c.Bool("allow-unsigned"),
		Audit: e.auditFunc(p), AppPassword: e.appPassword(p), Logger: e.log,
		Progress: func(step string) { pr.show("restore: %s…", step) },
	})
	pr.done()
	var re *backup.RestoreError
	if errors.As(err, &re) {
		return e.failWith(res, err)
	}
	if err != nil {
		return err
	}
	return e.emit(res)
}

func runVerify(e *env) error {
	if err := needArgs(e, 0, "no arguments (the backup is --against ID)"); err != nil {
		return err
	}
	if e.c.String("against") == "" {
		return usageErr(e.c, errors.New("verify: --against ID is required (`splitschema backup list` shows the backups)"))
	}
	p, srv, err := e.projectServer()
	if err != nil {
		return err
	}
	m, err := backup.ReadManifest(e.ctx, p, e.c.String("against"))
	if err != nil {
		return err
	}
	if db := e.c.String("target-db"); db != "" {
		c := *srv
		c.Database = db
		srv = &c
	}
	res, err := verify.Run(e.ctx, srv, m, verify.Options{Audit: e.auditFunc(p), Jobs: e.c.Int("jobs"), Logger: e.log})
	if err != nil {
		return err
	}
	if err := e.emit(res); err != nil {
		return err
	}
	if !res.OK {
		return exitFindings()
	}
	return nil
}
