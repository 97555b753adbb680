package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/localpg"
	"github.com/splitschema/splitschema/internal/pgsql"
	"github.com/splitschema/splitschema/internal/target"
)

// env is the server the benchmark works on, and what it made there.
type env struct {
	cfg Config
	// admin is the admin's server; its Database is the maintenance
	// database, on which conn is open.
	admin *target.Server
	conn  *pgx.Conn
	// work is a temporary folder: the projects, the dumps and, by
	// default, the embedded cluster's state.
	work string
	// bins locates pg_dump and pg_restore: the server's own folder when
	// known, else the installed server's; with Dir "", PATH.
	bins localpg.Binaries
	// cluster is the embedded cluster this run started, or nil.
	cluster *localpg.Cluster
	// dbs and roles are what this run may create: dropped at the end.
	dbs   []string
	roles []string
	out   io.Writer
	// log receives the debug logs of backup and restore with -verbose;
	// it discards them otherwise.
	log *slog.Logger
}

// setup connects to the server, starting an embedded cluster of its own
// when no server is given.
func setup(ctx context.Context, cfg Config) (*env, error) {
	e := &env{cfg: cfg, out: cfg.Progress, log: slog.New(slog.DiscardHandler)}
	if e.out == nil {
		e.out = io.Discard
	}
	if cfg.Verbose {
		e.log = slog.New(slog.NewTextHandler(e.out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	work, err := os.MkdirTemp("", "splitschema-bench-")
	if err != nil {
		return nil, fmt.Errorf("temporary folder: %w", err)
	}
	e.work = work
	// As root, the server runs as another user that must get through to
	// the embedded cluster's folders; nothing else here concerns it.
	if err := os.Chmod(work, 0o711); err != nil {
		e.removeWork()
		return nil, fmt.Errorf("temporary folder: %w", err)
	}
	if cfg.DatabaseURL == "" {
		e.progress("server: PG* variables if set, else an embedded cluster in %s", work)
	}
	e.admin, err = target.Resolve(ctx, target.Options{URL: cfg.DatabaseURL, ProjectDir: work, DefaultDatabase: "postgres", AllowOtherDatabase: true})
	if cl, cerr := localpg.New(work, nil); cerr == nil {
		if _, serr := os.Stat(cl.StateDir()); serr == nil {
			// Resolve started an embedded cluster there: it goes at the end.
			e.cluster = cl
		}
	}
	if err != nil {
		e.close()
		return nil, fmt.Errorf("server: %w", err)
	}
	e.progress("server: %s (%s)", e.admin.Addr(), e.admin.Source)
	if e.conn, err = e.admin.Connect(ctx, e.admin.Database); err != nil {
		e.close()
		return nil, err
	}
	var super bool
	if err := e.conn.QueryRow(ctx, "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user").Scan(&super); err != nil {
		e.close()
		return nil, fmt.Errorf("read the admin's attributes: %w", err)
	}
	if !super {
		e.close()
		return nil, fmt.Errorf("the benchmark connects as %s, who is not a superuser: it creates and drops databases and roles, restores and checkpoints; connect as a superuser", e.admin.User())
	}
	e.bins.Dir = e.admin.BinDir
	if e.bins.Dir == "" {
		if b, err := localpg.FindBinaries(); err == nil {
			e.bins = b
		}
	}
	return e, nil
}

// close drops what the run made, stops the embedded cluster and removes
// the temporary folder. It runs even when ctx was canceled.
func (e *env) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var errs []error
	if e.conn != nil {
		if e.cluster == nil {
			// A server of the user's: leave it as it was. The embedded
			// cluster goes whole.
			for _, db := range e.dbs {
				errs = append(errs, e.dropDatabase(ctx, db))
			}
			errs = append(errs, e.dropRoles(ctx, e.roles))
		}
		e.conn.Close(ctx)
	}
	if e.cluster != nil {
		e.progress("removing the embedded cluster")
		errs = append(errs, e.cluster.Destroy(ctx))
	}
	e.removeWork()
	return errors.Join(errs...)
}

func (e *env) removeWork() {
	if e.work != "" {
		_ = os.RemoveAll(e.work)
	}
}

// progress prints one line of progress.
func (e *env) progress(format string, args ...any) {
	fmt.Fprintf(e.out, "bench: "+format+"\n", args...)
}

// server is the admin's server with database db.
func (e *env) server(db string) *target.Server {
	s := *e.admin
	s.Database = db
	return &s
}

// claim records a database and roles this run will create, refusing any
// that exist already: the benchmark never touches what it did not make.
func (e *env) claim(ctx context.Context, db string, roles []string) error {
	var n int
	if err := e.conn.QueryRow(ctx, "SELECT count(*) FROM pg_catalog.pg_database WHERE datname = $1", db).Scan(&n); err != nil {
		return fmt.Errorf("look for database %s: %w", db, err)
	}
	if n > 0 {
		return fmt.Errorf("database %s exists on %s: the benchmark only works in databases it creates; drop it (a run killed midway leaves it behind) or use another server", db, e.admin.Addr())
	}
	var taken []string
	if err := e.conn.QueryRow(ctx, "SELECT coalesce(array_agg(rolname ORDER BY rolname), '{}') FROM pg_catalog.pg_roles WHERE rolname = ANY($1)", roles).Scan(&taken); err != nil {
		return fmt.Errorf("look for roles: %w", err)
	}
	if len(taken) > 0 {
		return fmt.Errorf("role(s) %v exist on %s: the benchmark only works with roles it creates; drop them or use another server", taken[:min(len(taken), 5)], e.admin.Addr())
	}
	if !slices.Contains(e.dbs, db) {
		e.dbs = append(e.dbs, db)
	}
	e.roles = append(e.roles, roles...)
	return nil
}

// exec runs one statement as the admin in the maintenance database.
func (e *env) exec(ctx context.Context, sql string, args ...any) error {
	if _, err := e.conn.Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}

// createDatabase creates an empty database as restore does: from template0.
func (e *env) createDatabase(ctx context.Context, db string) error {
	return e.exec(ctx, "CREATE DATABASE "+pgx.Identifier{db}.Sanitize()+" TEMPLATE template0")
}

// dropDatabase drops db if it exists, ending its sessions.
func (e *env) dropDatabase(ctx context.Context, db string) error {
	v, err := pgsql.ServerVersion(ctx, e.conn)
	if err != nil {
		return err
	}
	return e.exec(ctx, pgsql.DropDatabase(db, v.Major()))
}

// dropRoles drops the roles that exist among roles. Their databases must
// be gone first.
func (e *env) dropRoles(ctx context.Context, roles []string) error {
	var have []string
	if err := e.conn.QueryRow(ctx, "SELECT coalesce(array_agg(rolname), '{}') FROM pg_catalog.pg_roles WHERE rolname = ANY($1)", roles).Scan(&have); err != nil {
		return fmt.Errorf("look for roles: %w", err)
	}
	for chunk := range slices.Chunk(have, 500) {
		sql := "DROP ROLE"
		for i, r := range chunk {
			if i > 0 {
				sql += ","
			}
			sql += " " + pgx.Identifier{r}.Sanitize()
		}
		if err := e.exec(ctx, sql); err != nil {
			return fmt.Errorf("drop roles: %w", err)
		}
	}
	return nil
}

// checkpoint flushes the dirty buffers before a measurement, so that it
// does not pay for the writes of the one before.
func (e *env) checkpoint(ctx context.Context) error {
	return e.exec(ctx, "CHECKPOINT")
}

// rotate runs each of steps once, each after a checkpoint, starting with
// steps[run mod len(steps)], so that no way of doing the job always goes
// first.
func (e *env) rotate(ctx context.Context, run int, steps ...func() error) error {
	for k := range steps {
		if err := e.checkpoint(ctx); err != nil {
			return err
		}
		if err := steps[(k+run)%len(steps)](); err != nil {
			return err
		}
	}
	return nil
}

// timed runs f and returns how long it took, in seconds.
func timed(f func() error) (float64, error) {
	t0 := time.Now()
	err := f()
	return time.Since(t0).Seconds(), err
}

// jobs is the parallel jobs: Config.Jobs, else the CPU count.
func (e *env) jobs() int {
	if e.cfg.Jobs > 0 {
		return e.cfg.Jobs
	}
	return runtime.NumCPU()
}

// tool is the path of a PostgreSQL client program: in bins, else on PATH.
func (e *env) tool(name string) string { return e.bins.Path(name) }
