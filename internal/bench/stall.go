package bench

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/splitschema/splitschema/internal/backup"
	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/migrate"
	"github.com/splitschema/splitschema/internal/pgsql"
	"github.com/splitschema/splitschema/internal/target"
)

// stallBallastRows is the size of the table added to the stall project so
// that its backup lasts seconds (about 80 bytes a row): pg_dump holds ACCESS
// SHARE on every table until it is done.
const stallBallastRows = 1_500_000

// stallWriters is how many sessions write the table meanwhile.
const stallWriters = 4

// benchStall measures, Runs times, the writers' worst stall (the longest
// single INSERT) while a migration's ALTER TABLE waits behind a running
// `splitschema backup`, whose pg_dump holds ACCESS SHARE on the table:
// `migrate up` (tries of 200 ms with backoff, up to lock_timeout) against
// the same ALTER in one admin session with the same lock_timeout, which
// queues every writer behind it until the backup is done.
func benchStall(ctx context.Context, e *env) (*row, error) {
	g, err := e.generate(ctx, "stall", 1, 1)
	if err != nil {
		return nil, err
	}
	if err := provisionProject(ctx, e, g); err != nil {
		return nil, err
	}
	defer dropProject(context.WithoutCancel(ctx), e, g)
	srv := e.server(g.p.Settings.Database)
	name := serviceName(0)
	svc := g.p.Service(name)
	if _, err := migrate.Up(ctx, g.p, srv, migrate.Options{}); err != nil {
		return nil, fmt.Errorf("migrate up: %w", err)
	}
	table := pgsql.Ident(svc.Schema, linkedTable)
	if err := addBallast(ctx, srv, svc.Schema); err != nil {
		return nil, err
	}
	r := &row{what: fmt.Sprintf("writers' worst stall while a migration waits behind a running backup (%d writers): migrate up vs a plain ALTER with the same lock_timeout", stallWriters), unit: unitSeconds}
	for run := range e.cfg.Runs {
		file := g.p.Path(migrate.MigrationsDir, name, fmt.Sprintf("%05d_stall%d.sql", run+2, run))
		col := fmt.Sprintf("stall%d", run)
		if err := writeFile(file, fmt.Sprintf("-- +goose Up\nALTER TABLE %s ADD COLUMN %s integer;\n\n-- +goose Down\nALTER TABLE %s DROP COLUMN %s;\n", linkedTable, col, linkedTable, col)); err != nil {
			return nil, err
		}
		p, err := manifest.Load(g.p.Dir)
		if err != nil {
			return nil, err
		}
		ours, err := worstStall(ctx, e, p, srv, table, func() error {
			_, err := migrate.Up(ctx, p, srv, migrate.Options{Service: name})
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("migrate up behind a backup: %w", err)
		}
		// The plain ALTER may never get its lock: pg_dump's own LOCK TABLE
		// queues behind it while the backup's snapshot session holds the
		// table, so it fails at lock_timeout, having stalled the writers
		// that long. That stall is the measurement.
		var plainFailed error
		base, err := worstStall(ctx, e, p, srv, table, func() error {
			conn, err := srv.Connect(ctx, srv.Database)
			if err != nil {
				return err
			}
			defer conn.Close(context.WithoutCancel(ctx))
			_, err = conn.Exec(ctx, fmt.Sprintf("SET lock_timeout = %d; ALTER TABLE %s ADD COLUMN plain%d integer",
				p.Settings.LockTimeout.Milliseconds(), table, run))
			if pgsql.IsCode(err, pgsql.LockNotAvailable) {
				plainFailed, err = err, nil
			}
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("plain ALTER behind a backup: %w", err)
		}
		outcome := "done"
		if plainFailed != nil {
			outcome = "failed at lock_timeout"
		}
		e.progress("stall run %d/%d: worst writer stall %.0f ms with migrate up, %.0f ms with a plain ALTER (%s)", run+1, e.cfg.Runs, ours*1000, base*1000, outcome)
		r.add(ours, base)
	}
	return r, nil
}

// addBallast fills a table of stallBallastRows rows in schema, so that a
// backup of the project lasts long enough for a migration to meet it.
func addBallast(ctx context.Context, srv *target.Server, schema string) error {
	conn, err := srv.Connect(ctx, srv.Database)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, fmt.Sprintf("CREATE TABLE %s AS SELECT g AS id, md5(g::text) || md5((g + 1)::text) AS filler FROM generate_series(1, %d) AS g",
		pgsql.Ident(schema, "stall_ballast"), stallBallastRows))
	if err != nil {
		return fmt.Errorf("fill the stall project's ballast table: %w", err)
	}
	return nil
}

// worstStall starts a backup of p, waits until its pg_dump holds ACCESS
// SHARE on table, then runs migration while stallWriters sessions insert
// into table, and returns the longest single insert, in seconds. It fails
// when the backup ended before the migration did: the migration then met
// no backup, or only part of one, and the run measured nothing.
func worstStall(ctx context.Context, e *env, p *manifest.Project, srv *target.Server, table string, migration func() error) (float64, error) {
	watch, err := srv.Connect(ctx, srv.Database)
	if err != nil {
		return 0, err
	}
	defer watch.Close(context.WithoutCancel(ctx))
	bctx, cancelBackup := context.WithCancel(ctx)
	defer cancelBackup()
	backupDone := make(chan error, 1)
	var backupEnd time.Time
	go func() {
		res, err := backup.Run(bctx, p, srv, e.backupOptions())
		backupEnd = time.Now()
		if err == nil {
			err = os.RemoveAll(res.Path)
		}
		backupDone <- err
	}()
	for held := false; !held; {
		select {
		case err := <-backupDone:
			return 0, fmt.Errorf("the backup ended before its pg_dump was seen holding %s: %v", table, err)
		case <-time.After(20 * time.Millisecond):
		}
		if err := watch.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_locks WHERE relation = $1::regclass
			AND mode = 'AccessShareLock' AND granted AND pid <> pg_backend_pid())`, table).Scan(&held); err != nil {
			return 0, err
		}
	}
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	var mu sync.Mutex
	var worst time.Duration
	var werr error
	var wg sync.WaitGroup
	for range stallWriters {
		conn, err := srv.Connect(ctx, srv.Database)
		if err != nil {
			return 0, err
		}
		defer conn.Close(context.WithoutCancel(ctx))
		wg.Go(func() {
			for wctx.Err() == nil {
				t0 := time.Now()
				_, err := conn.Exec(wctx, "INSERT INTO "+table+" (name) VALUES ('stall')")
				d := time.Since(t0)
				mu.Lock()
				if err != nil && wctx.Err() == nil && werr == nil {
					werr = err
				}
				worst = max(worst, d)
				mu.Unlock()
			}
		})
	}
	migrationStart := time.Now()
	err = migration()
	stop()
	wg.Wait()
	if err != nil {
		return 0, err
	}
	if err := <-backupDone; err != nil {
		return 0, fmt.Errorf("the backup the migration met: %w", err)
	}
	if backupEnd.Sub(migrationStart) < 500*time.Millisecond {
		return 0, fmt.Errorf("the backup ended %s after the migration started: too soon to measure a stall; raise stallBallastRows", backupEnd.Sub(migrationStart).Round(time.Millisecond))
	}
	e.progress("stall: the backup ran %.1f s after the migration started", backupEnd.Sub(migrationStart).Seconds())
	return worst.Seconds(), werr
}
