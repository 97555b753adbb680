package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/pgsql"
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

// runner runs one service's migrations through its own goose Provider, on a
// *sql.DB of at most one connection that logs in as the service's migrator
// role and starts as its owner role, with search_path set to the service's
// schema and lock_timeout set: these are startup parameters, so every
// connection goose uses, inside a transaction or not, runs as the owner,
// and whatever a migration does to its role lands on the migrator, which
// holds nothing but the owner. Each migration file runs in a session of
// its own (freshSession), so a SET in one file does not reach the next.
type runner struct {
	svc    *manifest.Service
	files  map[int64]*File
	prov   *goose.Provider
	db     *sql.DB
	tracer *tracer
	// lockTimeout is the total a migration may wait for its locks; a
	// transactional file waits in attempts of lockAttempt at most.
	lockTimeout time.Duration
	// noTx tells the next session that its file runs outside a
	// transaction: it waits for locks in one attempt of lockTimeout, since
	// it cannot be retried safely.
	noTx atomic.Bool
}

// migrationLockAttempt bounds one try of a transactional migration for its locks:
// while an ALTER TABLE waits for a lock, every query on that table queues
// behind it, so other services' writers stall at most this long per try.
const migrationLockAttempt = 200 * time.Millisecond

// connConfig is the connection of a service's migrations, as login with
// password.
func connConfig(p *manifest.Project, srv *target.Server, svc *manifest.Service, login, password string) *pgx.ConnConfig {
	cfg := srv.Config(srv.Database)
	cfg.User, cfg.Password = login, password
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["role"] = p.OwnerRole(svc.Name)
	cfg.RuntimeParams["search_path"] = provision.SearchPathSetting(p.SearchPath(svc))
	cfg.RuntimeParams["lock_timeout"] = millis(min(p.Settings.LockTimeout, migrationLockAttempt))
	cfg.RuntimeParams["statement_timeout"] = millis(p.Settings.StatementTimeout)
	cfg.RuntimeParams["idle_in_transaction_session_timeout"] = millis(p.Settings.IdleInTransactionTimeout)
	cfg.RuntimeParams["application_name"] = "splitschema migrate " + svc.Name
	return cfg
}

// millis is d as a PostgreSQL timeout setting, at least 1ms (0 would turn
// the timeout off).
func millis(d time.Duration) string {
	return fmt.Sprintf("%dms", max(d.Milliseconds(), 1))
}

func openRunner(p *manifest.Project, srv *target.Server, svc *manifest.Service, files []*File, login, password string) (*runner, error) {
	table, err := VersionTableOf(svc)
	if err != nil {
		return nil, err
	}
	r := &runner{svc: svc, files: map[int64]*File{}, tracer: &tracer{}, lockTimeout: p.Settings.LockTimeout}
	for _, f := range files {
		r.files[f.Version] = f
	}
	cfg := connConfig(p, srv, svc, login, password)
	cfg.Tracer = r.tracer
	db := stdlib.OpenDB(*cfg, stdlib.OptionAfterConnect(func(ctx context.Context, conn *pgx.Conn) error {
		if !r.noTx.Load() {
			return nil
		}
		_, err := conn.Exec(ctx, "SET lock_timeout = '"+millis(r.lockTimeout)+"'")
		return err
	}))
	// One session at a time, kept between the queries of one step, ended
	// before and after each migration file (freshSession).
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	r.db = db
	var fsys fs.FS = os.DirFS(p.Path(MigrationsDir, svc.Name))
	r.prov, err = goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithTableName(table),
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

// freshSession ends the runner's idle session, so that the next query
// opens a new one: a migration file runs in a session of its own, and no
// session state it sets reaches the next file.
func (r *runner) freshSession() {
	r.db.SetMaxIdleConns(0)
	r.db.SetMaxIdleConns(1)
}

// version returns the service's current version without taking its lock.
func (r *runner) version(ctx context.Context) (int64, error) {
	cur, _, err := r.prov.GetVersions(ctx)
	if err != nil {
		return 0, r.fail(err, string(CommandUp))
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
	return e
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

// upTo applies the pending migrations up to and including version, one by
// one: each file runs in a fresh session (the runner keeps no connection
// idle), so session state a migration sets never reaches the next one.
func (r *runner) upTo(ctx context.Context, version int64) ([]*goose.MigrationResult, error) {
	var done []*goose.MigrationResult
	for {
		cur, err := r.prov.GetDBVersion(ctx)
		if err != nil {
			return done, err
		}
		next := int64(-1)
		for _, src := range r.prov.ListSources() {
			if src.Version > cur {
				next = src.Version
				break
			}
		}
		if next < 0 || next > version {
			return done, nil
		}
		res, err := r.retrying(ctx, next, func() (*goose.MigrationResult, error) { return r.prov.UpByOne(ctx) })
		if err != nil {
			return done, withApplied(done, err)
		}
		done = append(done, res)
	}
}

// retrying runs one migration step for the file of version. A
// transactional file that gave up waiting for a lock after lockAttempt
// was rolled back whole, so it is tried again, after a growing pause in
// which the queries queued behind it run, until lockTimeout is spent.
func (r *runner) retrying(ctx context.Context, version int64, step func() (*goose.MigrationResult, error)) (*goose.MigrationResult, error) {
	noTx := r.files[version] != nil && r.files[version].NoTransaction
	r.noTx.Store(noTx)
	defer r.noTx.Store(false)
	deadline := time.Now().Add(r.lockTimeout)
	pause := 50 * time.Millisecond
	for {
		if noTx {
			// Its session must start with the whole lock_timeout.
			r.freshSession()
		}
		res, err := step()
		r.freshSession()
		if err == nil || noTx || !pgsql.IsCode(err, pgsql.LockNotAvailable) || time.Now().Add(pause+migrationLockAttempt).After(deadline) {
			return res, err
		}
		r.tracer.reset()
		select {
		case <-ctx.Done():
			return res, err
		case <-time.After(pause):
		}
		pause = min(2*pause, time.Second)
	}
}

// downTo rolls back the applied migrations above version, one by one, each
// in a fresh session.
func (r *runner) downTo(ctx context.Context, version int64) ([]*goose.MigrationResult, error) {
	var done []*goose.MigrationResult
	for {
		cur, err := r.prov.GetDBVersion(ctx)
		if err != nil || cur <= version {
			return done, err
		}
		res, err := r.retrying(ctx, cur, func() (*goose.MigrationResult, error) { return r.prov.Down(ctx) })
		if errors.Is(err, goose.ErrNoNextVersion) {
			return done, nil
		}
		if err != nil {
			return done, withApplied(done, err)
		}
		done = append(done, res)
	}
}

// withApplied puts the results of earlier steps in front of a failed
// step's *goose.PartialError, so the caller reports every applied file.
func withApplied(done []*goose.MigrationResult, err error) error {
	var pe *goose.PartialError
	if errors.As(err, &pe) {
		pe.Applied = append(slices.Clone(done), pe.Applied...)
		return err
	}
	if len(done) > 0 {
		return &goose.PartialError{Applied: done, Err: err}
	}
	return err
}
