package migrate

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/pgsql"
	"github.com/splitschema/splitschema/internal/secrets"
)

// lockWait is how long a run waits for another run migrating the same
// service before it gives up and names the session that holds the lock.
const lockWait = 300 * time.Second

// lockPoll is how often a waiting run tries the lock again.
const lockPoll = 200 * time.Millisecond

// lockService takes svc's migration lock on the admin connection and
// holds it until unlock: two runs never migrate one service at once, and
// the run that holds it alone knows the migrator's password. The wait is
// bounded by wait; the error then names the holder.
func lockService(ctx context.Context, admin *pgx.Conn, svc *manifest.Service, wait time.Duration, log *slog.Logger) (unlock func(), err error) {
	key := LockID(svc)
	deadline := time.Now().Add(wait)
	warned := false
	for {
		var got bool
		if err := admin.QueryRow(ctx, "SELECT pg_catalog.pg_try_advisory_lock($1)", key).Scan(&got); err != nil {
			return nil, fmt.Errorf("service %s: take the migration lock: %w", svc.Name, err)
		}
		if got {
			return func() {
				_, _ = admin.Exec(context.WithoutCancel(ctx), "SELECT pg_catalog.pg_advisory_unlock($1)", key)
			}, nil
		}
		if !warned {
			log.Warn("another run is migrating this service; waiting for its migration lock", "service", svc.Name,
				"holder", LockHolder(ctx, admin, key), "wait_max", wait.String())
			warned = true
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("another session holds the migration lock of service %s (advisory lock %d: %s) and kept it for %s; nothing of %s was migrated: wait until it ends, or end it (SELECT pg_terminate_backend(<pid>)) if it is stuck",
				svc.Name, key, LockHolder(ctx, admin, key), wait, svc.Name)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(lockPoll):
		}
	}
}

// LockHolder describes the session holding advisory lock key in the
// connection's database: its pid, role, application and since when.
func LockHolder(ctx context.Context, conn *pgx.Conn, key int64) string {
	var pid int
	var user, app, state string
	var since *time.Time
	err := conn.QueryRow(ctx, `
		SELECT a.pid, coalesce(a.usename, ''), coalesce(a.application_name, ''), coalesce(a.state, ''), a.xact_start
		FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
		  AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())
		  AND ((l.classid::bigint << 32) | l.objid::bigint) = $1 LIMIT 1`, key).Scan(&pid, &user, &app, &state, &since)
	if err != nil {
		return "its session has ended since"
	}
	s := fmt.Sprintf("pid %d, role %s, application %q, %s", pid, user, app, state)
	if since != nil {
		s += ", in a transaction since " + since.UTC().Format(time.RFC3339)
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
	verifier, err := secrets.Verifier(password)
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
