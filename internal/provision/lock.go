package provision

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/pgsql"
)

// LockWait is how long a provisioning run waits for another one before it
// gives up and names it, unless Options.LockWait says otherwise.
const LockWait = 60 * time.Second

// errBusy marks one failed try for the provisioning lock.
var errBusy = errors.New("busy")

// lockProvision begins the provisioning transaction holding the
// provisioning lock: SHARE ROW EXCLUSIVE on the toolkit's table of
// services, which only the toolkit's admin may lock (no service role
// holds a privilege on it, so no application can make provisioning wait).
// Before the first provisioning has created that table, nobody but the
// admin knows the database yet, and a transaction advisory lock serializes
// concurrent first runs; so it does for an admin that may not lock the
// table (neither a superuser nor its owner): an application can hold that
// one, but the wait stays bounded. Each try waits 200 ms at most; after wait the
// error names the session that holds the lock.
func lockProvision(ctx context.Context, conn *pgx.Conn, wait time.Duration) (pgx.Tx, error) {
	deadline := time.Now().Add(wait)
	table := pgsql.Ident(ToolkitSchema, "service")
	for {
		tx, err := conn.Begin(ctx)
		if err != nil {
			return nil, fmt.Errorf("provision: %w", err)
		}
		err = tryLock(ctx, tx, table)
		if err == nil {
			return tx, nil
		}
		_ = tx.Rollback(context.WithoutCancel(ctx))
		if !errors.Is(err, errBusy) && !pgsql.IsCode(err, pgsql.LockNotAvailable) {
			return nil, fmt.Errorf("provision: take the provisioning lock: %w", err)
		}
		if !time.Now().Before(deadline) {
			return nil, fmt.Errorf("provision: another session has held the provisioning lock for longer than %s (%s); nothing was changed: try again when it is done, or end that session if it is stuck (SELECT pg_terminate_backend(<pid>))",
				wait, provisionHolder(ctx, conn))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func tryLock(ctx context.Context, tx pgx.Tx, table string) error {
	lockable, err := CanLockToolkit(ctx, tx)
	if err != nil {
		return err
	}
	if !lockable {
		var got bool
		if err := tx.QueryRow(ctx, "SELECT pg_catalog.pg_try_advisory_xact_lock($1)", LockKey).Scan(&got); err != nil {
			return err
		}
		if !got {
			return errBusy
		}
		return nil
	}
	if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '200ms'"); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE "+table+" IN SHARE ROW EXCLUSIVE MODE"); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, "SET LOCAL lock_timeout TO DEFAULT")
	return err
}

// CanLockToolkit tells whether the toolkit's table of services exists and
// the current user may lock it in the modes the toolkit's locks use (a
// superuser, its owner, or whoever holds UPDATE, DELETE or TRUNCATE on it).
func CanLockToolkit(ctx context.Context, q pgsql.Querier) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, `SELECT pg_catalog.to_regclass($1) IS NOT NULL
		AND pg_catalog.has_table_privilege(pg_catalog.to_regclass($1), 'UPDATE, DELETE, TRUNCATE')`, ToolkitSchema+".service").Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("read the privileges on %s.service: %w", ToolkitSchema, err)
	}
	return ok, nil
}

// provisionHolder describes the sessions holding the provisioning lock.
func provisionHolder(ctx context.Context, conn *pgx.Conn) string {
	var pid int
	var user, app string
	var since *time.Time
	err := conn.QueryRow(ctx, `
		SELECT a.pid, coalesce(a.usename, ''), coalesce(a.application_name, ''), a.xact_start
		FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
		WHERE l.granted AND l.pid <> pg_catalog.pg_backend_pid()
		  AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())
		  AND ((l.locktype = 'relation' AND l.relation = pg_catalog.to_regclass($1) AND l.mode IN ('ShareUpdateExclusiveLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock'))
		    OR (l.locktype = 'advisory' AND l.objsubid = 1 AND ((l.classid::bigint << 32) | l.objid::bigint) = $2))
		ORDER BY l.locktype = 'relation' DESC, a.xact_start LIMIT 1`, ToolkitSchema+".service", LockKey).Scan(&pid, &user, &app, &since)
	if err != nil {
		return "a session that has ended since"
	}
	s := fmt.Sprintf("pid %d, role %s, application %q", pid, user, app)
	if since != nil {
		s += ", in a transaction since " + since.UTC().Format(time.RFC3339)
	}
	return s
}
