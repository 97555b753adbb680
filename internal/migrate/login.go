package migrate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/pgsql"
	"github.com/splitschema/splitschema/internal/provision"
	"github.com/splitschema/splitschema/internal/secrets"
	"github.com/splitschema/splitschema/internal/target"
)

// lockWait is how long a run waits for another run migrating the same
// service before it gives up and names the session that holds the lock.
const lockWait = 300 * time.Second

// lockAttempt bounds each try for the lock, so that a waiting run never
// queues for long behind whoever holds it; lockPause separates tries.
const (
	lockAttempt = 200 * time.Millisecond
	lockPause   = 100 * time.Millisecond
)

// lockApplication is the application_name of the session holding the
// migration lock, by which a waiting run finds and names it.
const lockApplication = "splitschema migration lock"

// LockService takes the migration lock for svc and holds it until unlock:
// two runs (migrations, a one-service restore) never work at once. The lock
// is SHARE UPDATE EXCLUSIVE on the toolkit's table of services, taken in a
// session of its own, so it covers every service of the database (one such
// run at a time; provisioning waits for it too). No service role holds a
// privilege on that table, so no application can take the lock or make a
// run wait, as it could with an advisory lock, whose keys anyone can read in
// pg_locks and take. It is a table lock in a transaction that holds no
// snapshot and no transaction id, so CREATE INDEX CONCURRENTLY in a
// migration does not wait for it (a row lock would). The wait is bounded by
// wait (0: one try); the error then names the session that holds it. log
// (may be nil) hears once that the run waits.
func LockService(ctx context.Context, srv *target.Server, svc *manifest.Service, wait time.Duration, log *slog.Logger) (unlock func(), err error) {
	cfg := srv.Config(srv.Database)
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["application_name"] = lockApplication
	cfg.RuntimeParams["lock_timeout"] = fmt.Sprintf("%dms", lockAttempt.Milliseconds())
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("service %s: migration lock: connect to database %s on %s: %s", svc.Name, srv.Database, srv.Addr(), target.Redact(err.Error()))
	}
	lockable, err := provision.CanLockToolkit(ctx, conn)
	if err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("service %s: migration lock: %w", svc.Name, err)
	}
	if !lockable && log != nil {
		log.Warn("the admin may not lock the toolkit's table (neither a superuser nor its owner): the migration lock falls back to an advisory lock, which an application could hold (the wait stays bounded)", "service", svc.Name)
	}
	deadline := time.Now().Add(wait)
	warned := false
	for {
		unlock, err := tryServiceLock(ctx, conn, lockable)
		if err == nil {
			return unlock, nil
		}
		if !errors.Is(err, errLockBusy) && !pgsql.IsCode(err, pgsql.LockNotAvailable) {
			conn.Close(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("service %s: migration lock: %w", svc.Name, err)
		}
		if !warned && log != nil {
			log.Warn("another run is migrating or restoring this service; waiting for its lock", "service", svc.Name,
				"holder", lockHolder(ctx, conn), "wait_max", wait.String())
			warned = true
		}
		if !time.Now().Before(deadline) {
			holder := lockHolder(ctx, conn)
			conn.Close(context.WithoutCancel(ctx))
			return nil, &LockedError{Service: svc.Name, Holder: holder, Waited: wait}
		}
		select {
		case <-ctx.Done():
			conn.Close(context.WithoutCancel(ctx))
			return nil, ctx.Err()
		case <-time.After(lockPause):
		}
	}
}

// advisoryKey is the migration lock for an admin that may not lock the
// toolkit's table.
const advisoryKey int64 = 0x73706c6974736368 // "splitsch"

// errLockBusy marks a failed try for the advisory fallback.
var errLockBusy = errors.New("busy")

// tryServiceLock tries the migration lock once on conn and returns how to
// give it back (which also closes conn).
func tryServiceLock(ctx context.Context, conn *pgx.Conn, lockable bool) (func(), error) {
	if !lockable {
		var got bool
		if err := conn.QueryRow(ctx, "SELECT pg_catalog.pg_try_advisory_lock($1)", advisoryKey).Scan(&got); err != nil {
			return nil, err
		}
		if !got {
			return nil, errLockBusy
		}
		return func() { conn.Close(context.WithoutCancel(ctx)) }, nil
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE "+pgsql.Ident(provision.ToolkitSchema, "service")+" IN SHARE UPDATE EXCLUSIVE MODE"); err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return nil, err
	}
	return func() {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		conn.Close(context.WithoutCancel(ctx))
	}, nil
}

// LockedError says that another session held a service's lock for longer
// than the run would wait.
type LockedError struct {
	Service string
	// Holder describes the session holding the lock.
	Holder string
	Waited time.Duration
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("service %s: another run is migrating or restoring this database's services (%s); waited %s; nothing of %s was changed: try again when it is done, or end that session if it is stuck (SELECT pg_terminate_backend(<pid>))",
		e.Service, e.Holder, e.Waited, e.Service)
}

// lockHolder describes the session holding the migration lock: its pid,
// role, since when, and what it runs.
func lockHolder(ctx context.Context, conn *pgx.Conn) string {
	var pid int
	var user, state string
	var since *time.Time
	err := conn.QueryRow(ctx, `
		SELECT pid, coalesce(usename, ''), coalesce(state, ''), xact_start
		FROM pg_catalog.pg_stat_activity
		WHERE datname = pg_catalog.current_database() AND application_name = $1 AND pid <> pg_catalog.pg_backend_pid()
		ORDER BY xact_start LIMIT 1`, lockApplication).Scan(&pid, &user, &state, &since)
	if err != nil {
		return "a session that has ended since"
	}
	s := fmt.Sprintf("pid %d, role %s, %s", pid, user, state)
	if since != nil {
		s += ", holding it since " + since.UTC().Format(time.RFC3339)
	}
	return s
}

// migratorValidity bounds how long a migrator password set by a run that
// dies before it clears it stays usable.
const migratorValidity = 12 * time.Hour

// migratorLogin gives svc's migrator role a password for this run only:
// generated here, sent as a SCRAM verifier (the password itself never
// reaches the server, a log or a file), valid for migratorValidity at
// most, and cleared by clear. The caller holds svc's migration lock, so
// no other run changes the password meanwhile.
func migratorLogin(ctx context.Context, admin *pgx.Conn, p *manifest.Project, svc *manifest.Service) (role, password string, clear func(), err error) {
	role = p.MigratorRole(svc.Name)
	password = secrets.Generate()
	verifier, err := secrets.OneRunVerifier(password)
	if err != nil {
		return "", "", nil, fmt.Errorf("service %s: migrator password: %w", svc.Name, err)
	}
	until := time.Now().Add(migratorValidity).UTC().Format(time.RFC3339)
	sql := "ALTER ROLE " + pgsql.Ident(role) + " LOGIN PASSWORD " + pgsql.Literal(verifier) + " VALID UNTIL " + pgsql.Literal(until)
	if _, err := admin.Exec(ctx, sql); err != nil {
		return "", "", nil, fmt.Errorf("service %s: let %s log in for this run (ALTER ROLE … PASSWORD): %w; run `splitschema provision` if the role is missing", svc.Name, role, err)
	}
	clear = func() {
		_, _ = admin.Exec(context.WithoutCancel(ctx), "ALTER ROLE "+pgsql.Ident(role)+" PASSWORD NULL")
	}
	return role, password, clear, nil
}
