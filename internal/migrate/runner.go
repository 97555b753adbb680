package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/provision"
	"github.com/splitschema/splitschema/internal/target"
)

// VersionTable is the name of goose's version table; each service's lives
// in the service's own schema, so every snapshot carries the service's
// migration state.
const VersionTable = provision.VersionTable

// VersionTableOf returns the schema-qualified version table of a service,
// e.g. orders.goose_db_version. The schema must be a valid identifier:
// goose pastes the name into its SQL unquoted.
func VersionTableOf(svc *manifest.Service) (string, error) {
	if err := manifest.CheckIdentifier("schema", svc.Schema, manifest.MaxIdentifierLen); err != nil {
		return "", fmt.Errorf("service %s: %w", svc.Name, err)
	}
	return svc.Schema + "." + VersionTable, nil
}

// LockID is the session advisory lock a service's migrations hold while
// they run, so two runs never migrate the same service at once. It is
// derived from the schema; advisory locks are per database.
func LockID(svc *manifest.Service) int64 {
	h := fnv.New64a()
	h.Write([]byte("splitschema migrate " + svc.Schema))
	return int64(h.Sum64() & 0x7fffffffffffffff)
}

// lockWait is how long a run waits for another run migrating the same
// service: lockProbes probes, one a second.
const lockProbes = 300

// runner runs one service's migrations through its own goose Provider, on a
// *sql.DB of at most one connection that starts as the service's owner role
// with search_path set to the service's schema and lock_timeout set: these
// are startup parameters, so every connection goose uses, inside a
// transaction or not, runs as the owner.
type runner struct {
	svc    *manifest.Service
	files  map[int64]*File
	prov   *goose.Provider
	tracer *tracer
}

// connConfig is the connection of a service's migrations.
func connConfig(p *manifest.Project, srv *target.Server, svc *manifest.Service) *pgx.ConnConfig {
	cfg := srv.Config(srv.Database)
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["role"] = p.OwnerRole(svc.Name)
	cfg.RuntimeParams["search_path"] = provision.SearchPathSetting(p.SearchPath(svc))
	cfg.RuntimeParams["lock_timeout"] = fmt.Sprintf("%dms", max(p.Settings.LockTimeout.Milliseconds(), 1))
	cfg.RuntimeParams["application_name"] = "splitschema migrate " + svc.Name
	return cfg
}

func openRunner(p *manifest.Project, srv *target.Server, svc *manifest.Service, files []*File, log *slog.Logger) (*runner, error) {
	table, err := VersionTableOf(svc)
	if err != nil {
		return nil, err
	}
	r := &runner{svc: svc, files: map[int64]*File{}, tracer: &tracer{}}
	for _, f := range files {
		r.files[f.Version] = f
	}
	cfg := connConfig(p, srv, svc)
	cfg.Tracer = r.tracer
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	inner, err := lock.NewPostgresSessionLocker(lock.WithLockID(LockID(svc)), lock.WithLockTimeout(1, lockProbes))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("service %s: migration lock: %w", svc.Name, err)
	}
	locker := &politeLocker{SessionLocker: inner, id: LockID(svc), service: svc.Name, log: log}
	var fsys fs.FS = os.DirFS(p.Path(MigrationsDir, svc.Name))
	r.prov, err = goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithTableName(table),
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
		goose.WithSlog(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("service %s: %w", svc.Name, err)
	}
	return r, nil
}

func (r *runner) close() error { return r.prov.Close() }

// version returns the service's current version without taking its lock.
func (r *runner) version(ctx context.Context) (int64, error) {
	cur, _, err := r.prov.GetVersions(ctx)
	if err != nil {
		return 0, r.fail(err, "up")
	}
	return cur, nil
}

// steps turns goose results into steps.
func (r *runner) steps(results []*goose.MigrationResult) []Step {
	out := make([]Step, 0, len(results))
	for _, res := range results {
		out = append(out, Step{
			Version:    res.Source.Version,
			File:       r.relPath(res.Source.Path),
			Direction:  res.Direction,
			Empty:      res.Empty,
			DurationMS: float64(res.Duration.Microseconds()) / 1000,
		})
	}
	return out
}

func (r *runner) relPath(goosePath string) string {
	for _, f := range r.files {
		if f.Base() == goosePath || f.Path == goosePath {
			return f.Path
		}
	}
	return ServiceDir(r.svc.Name) + "/" + goosePath
}

// fail turns a goose error into an *Error naming the service, the file, the
// line and the statement that failed. Results applied before the failure
// are returned by the caller from the *goose.PartialError.
func (r *runner) fail(err error, direction string) *Error {
	e := &Error{Service: r.svc.Name, Direction: direction, Err: err}
	var partial *goose.PartialError
	if errors.As(err, &partial) && partial.Failed != nil && partial.Failed.Source != nil {
		e.Version = partial.Failed.Source.Version
		e.Direction = partial.Failed.Direction
		e.Err = partial.Err
		if f, ok := r.files[e.Version]; ok {
			e.File = f.Path
			e.NoTransaction = f.NoTransaction
			if sqlText := r.tracer.failedSQL(); sqlText != "" {
				e.Statement = sqlText
				if st, ok := f.Find(sqlText, e.Direction == "up"); ok {
					e.Line = st.Line
					e.Statement = st.SQL
				}
			}
		} else {
			e.File = r.relPath(partial.Failed.Source.Path)
		}
		return e
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return e
	}
	if strings.Contains(err.Error(), "failed to acquire lock") {
		e.Err = fmt.Errorf("another run is migrating %s: its migration lock (advisory lock %d) stayed taken for %ds: %w", r.svc.Name, LockID(r.svc), lockProbes, err)
	}
	return e
}

// politeLocker says so, once, when it has to wait for another run's
// migration lock, then waits as goose's session locker does.
type politeLocker struct {
	lock.SessionLocker
	id      int64
	service string
	log     *slog.Logger
}

func (l *politeLocker) SessionLock(ctx context.Context, conn *sql.Conn) error {
	var got bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", l.id).Scan(&got); err != nil {
		return fmt.Errorf("take the migration lock: %w", err)
	}
	if got {
		return nil
	}
	l.log.Warn("another run is migrating this service; waiting for its migration lock", "service", l.service, "advisory_lock", l.id, "wait_max", fmt.Sprintf("%ds", lockProbes))
	return l.SessionLocker.SessionLock(ctx, conn)
}

// tracer remembers the last statement that failed on the runner's
// connection, which goose's errors do not carry.
type tracer struct {
	mu     sync.Mutex
	last   string
	failed string
}

func (t *tracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	t.mu.Lock()
	t.last = data.SQL
	t.mu.Unlock()
	return ctx
}

func (t *tracer) TraceQueryEnd(_ context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	if data.Err == nil {
		return
	}
	t.mu.Lock()
	if t.failed == "" {
		t.failed = t.last
	}
	t.mu.Unlock()
}

// failedSQL returns the first statement that failed since the last call,
// and forgets it.
func (t *tracer) failedSQL() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.failed
	t.failed = ""
	return s
}

func (t *tracer) reset() { t.failedSQL() }
