package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/migrate"
	"github.com/splitschema/splitschema/internal/pgsql"
	"github.com/splitschema/splitschema/internal/target"
)

// stallHold is how long the reader holds ACCESS SHARE on the table, as a
// backup's pg_dump holds it on every table until it is done.
const stallHold = 2 * time.Second

// stallWriters is how many sessions write the table meanwhile.
const stallWriters = 4

// benchStall measures, Runs times, the writers' worst stall (the longest
// single INSERT) while a migration's ALTER TABLE waits stallHold behind a
// reader holding ACCESS SHARE, as it does behind a backup: `migrate up`
// (tries of 200 ms with backoff, up to lock_timeout) against the same ALTER
// in one admin session with the same lock_timeout, which queues every
// writer behind it until the reader is gone.
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
	r := &row{what: fmt.Sprintf("writers' worst stall while a migration waits %s behind a reader's ACCESS SHARE, as behind a backup (%d writers): migrate up vs a plain ALTER with the same lock_timeout", stallHold, stallWriters), unit: unitSeconds}
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
		ours, err := worstStall(ctx, srv, table, func() error {
			_, err := migrate.Up(ctx, p, srv, migrate.Options{Service: name})
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("migrate up behind a reader: %w", err)
		}
		base, err := worstStall(ctx, srv, table, func() error {
			conn, err := srv.Connect(ctx, srv.Database)
			if err != nil {
				return err
			}
			defer conn.Close(context.WithoutCancel(ctx))
			_, err = conn.Exec(ctx, fmt.Sprintf("SET lock_timeout = %d; ALTER TABLE %s ADD COLUMN plain%d integer",
				p.Settings.LockTimeout.Milliseconds(), table, run))
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("plain ALTER behind a reader: %w", err)
		}
		e.progress("stall run %d/%d: worst writer stall %.0f ms with migrate up, %.0f ms with a plain ALTER", run+1, e.cfg.Runs, ours*1000, base*1000)
		r.add(ours, base)
	}
	return r, nil
}

// worstStall runs migration while a reader holds ACCESS SHARE on table for
// stallHold and stallWriters sessions insert into it, and returns the
// longest single insert, in seconds.
func worstStall(ctx context.Context, srv *target.Server, table string, migration func() error) (float64, error) {
	reader, err := srv.Connect(ctx, srv.Database)
	if err != nil {
		return 0, err
	}
	defer reader.Close(context.WithoutCancel(ctx))
	tx, err := reader.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, "SELECT count(*) FROM "+table); err != nil {
		return 0, err
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
	done := make(chan error, 1)
	go func() { done <- migration() }()
	time.Sleep(stallHold)
	if err := tx.Rollback(ctx); err != nil {
		return 0, err
	}
	err = <-done
	stop()
	wg.Wait()
	if err != nil {
		return 0, err
	}
	return worst.Seconds(), werr
}
