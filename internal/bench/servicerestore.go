package bench

import (
	"context"
	"fmt"
	"strings"

	"github.com/splitschema/splitschema/internal/backup"
	"github.com/splitschema/splitschema/internal/inspect"
	"github.com/splitschema/splitschema/internal/secrets"
	"github.com/splitschema/splitschema/internal/svcrestore"
	"github.com/splitschema/splitschema/internal/workload"
)

// serviceRestoreDatabase is where the whole-database restore of the
// one-service scenario goes.
const serviceRestoreDatabase = "bench_svcrestore_whole"

// benchServiceRestore measures, Runs times, issue 14's one-service
// restore on the shop: the smallest service no other service links to
// (so wiping it breaks no other service's rows) is wiped, as a bad deploy
// would, and restored alone from backup b, in place, again and again
// while the other services write at the fixed rate, until workloadWindow
// has passed. Two rows: one restore's time against the whole database's
// restore + verify into a new database (the only way back without it),
// and the other services' throughput during the restores against the
// same writers as long without.
func benchServiceRestore(ctx context.Context, e *env, s *shop, b *backup.Result) ([]*row, error) {
	svc, share, err := smallestLeaf(ctx, s)
	if err != nil {
		return nil, err
	}
	if err := e.claim(ctx, serviceRestoreDatabase, nil); err != nil {
		return nil, err
	}
	urls := map[string]string{}
	var others []string
	for _, name := range workload.Services {
		u, err := secrets.URL(s.p.Dir, name)
		if err != nil {
			return nil, fmt.Errorf("service restore: %w", err)
		}
		urls[name] = u
		if name != svc {
			others = append(others, name)
		}
	}
	timeRow := &row{what: fmt.Sprintf("restore one service in place (%s, %.1f%% of the table data, wiped first) vs the whole database's restore + verify", svc, share*100),
		unit: unitSeconds, floor: ratioAtMost(0.5)}
	tputRow := &row{what: fmt.Sprintf("the other services' throughput while %s is restored in place, again and again, vs without (%d services × %d tx/s)", svc, len(others), workloadRate),
		unit: unitPerSecond, floor: ratioAtLeast(0.85)}
	fewRow := &row{what: fmt.Sprintf("restore one service in place (%s, 1%% of its rows deleted first) vs the whole database's restore + verify", svc),
		unit: unitSeconds}
	for run := range e.cfg.Runs {
		if err := e.checkpoint(ctx); err != nil {
			return nil, err
		}
		cfg := workload.Config{URLs: urls, Rate: workloadRate, Workers: workloadWorkers, Only: others}
		during, times, err := writersDuringServiceRestores(ctx, e, s, b, svc, cfg)
		if err != nil {
			return nil, err
		}
		alone, err := writersAlone(ctx, e, cfg, during.Seconds)
		if err != nil {
			return nil, err
		}
		whole, err := timed(func() error {
			return e.restoreWhole(ctx, s.p, s.srv, b.ID, serviceRestoreDatabase, nil)
		})
		if err != nil {
			return nil, err
		}
		if err := e.dropDatabase(ctx, serviceRestoreDatabase); err != nil {
			return nil, err
		}
		few, err := restoreAfterFewLost(ctx, e, s, b, svc)
		if err != nil {
			return nil, err
		}
		one := median(times)
		a, c := float64(during.Committed())/during.Seconds, float64(alone.Committed())/alone.Seconds
		e.progress("service restore run %d/%d: %s in place %.2f s (median of %d), with 1%% of its rows lost %.2f s, whole database restore + verify %.2f s; others %.1f tx/s during, %.1f tx/s without",
			run+1, e.cfg.Runs, svc, one, len(times), few, whole, a, c)
		timeRow.add(one, whole)
		tputRow.add(a, c)
		fewRow.add(few, whole)
	}
	return []*row{timeRow, tputRow, fewRow}, nil
}

// restoreAfterFewLost deletes about 1% of the rows of svc's tables, as a
// bad deploy might, restores svc in place from b, and returns the
// restore's seconds.
func restoreAfterFewLost(ctx context.Context, e *env, s *shop, b *backup.Result, svc string) (float64, error) {
	conn, err := s.srv.Connect(ctx, s.srv.Database)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tables, err := inspect.DataTables(ctx, conn, s.p.Service(svc).Schemas)
	if err != nil {
		return 0, err
	}
	for _, t := range tables {
		if _, err := conn.Exec(ctx, "DELETE FROM "+t+" WHERE random() < 0.01"); err != nil {
			return 0, fmt.Errorf("lose rows of %s: %w", t, err)
		}
	}
	if err := e.checkpoint(ctx); err != nil {
		return 0, err
	}
	secs, locked, steps, err := restoreInPlace(ctx, e, s, b, svc)
	if err != nil {
		return 0, err
	}
	e.progress("service restore: %s in place after 1%% of its rows were lost %.2f s, its tables locked %.2f s (%s)", svc, secs, locked, steps)
	return secs, nil
}

// writersDuringServiceRestores runs the writers of cfg while svc is wiped
// and restored from b in place, over and over until workloadWindow has
// passed; it returns what the writers did and each restore's seconds.
func writersDuringServiceRestores(ctx context.Context, e *env, s *shop, b *backup.Result, svc string, cfg workload.Config) (*workload.Result, []float64, error) {
	conn, err := s.srv.Connect(ctx, s.srv.Database)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tables, err := inspect.DataTables(ctx, conn, s.p.Service(svc).Schemas)
	if err != nil {
		return nil, nil, err
	}
	var times []float64
	w, err := writersDuring(ctx, cfg, func() error {
		if _, err := conn.Exec(ctx, "TRUNCATE "+strings.Join(tables, ", ")); err != nil {
			return fmt.Errorf("wipe %s: %w", svc, err)
		}
		secs, _, steps, err := restoreInPlace(ctx, e, s, b, svc)
		if err != nil {
			return err
		}
		times = append(times, secs)
		e.progress("service restore: %s in place %.2f s (%s)", svc, secs, steps)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return w, times, nil
}

// restoreInPlace restores svc from b in place and returns its seconds,
// how long its tables were locked, and the time of each step.
func restoreInPlace(ctx context.Context, e *env, s *shop, b *backup.Result, svc string) (secs, locked float64, steps *stepTimer, err error) {
	steps = &stepTimer{}
	secs, err = timed(func() error {
		res, err := svcrestore.Restore(ctx, s.p, s.srv, b.ID, svcrestore.Options{Services: []string{svc}, Jobs: e.jobs(), PgBinDir: e.bins.Dir, Logger: e.log, Progress: steps.step})
		steps.step("")
		if err == nil && !res.Applied {
			err = fmt.Errorf("restore of %s in place was not applied: %s", svc, res.Error)
		}
		if res != nil {
			locked = res.LockedSeconds
		}
		return err
	})
	return secs, locked, steps, err
}

// smallestLeaf picks the shop service no other service links to with the
// least table data, and its share of the shop's.
func smallestLeaf(ctx context.Context, s *shop) (string, float64, error) {
	linked := map[string]bool{}
	for _, svc := range s.p.Services {
		for _, l := range svc.Links {
			linked[l.Service] = true
		}
	}
	conn, err := s.srv.Connect(ctx, s.srv.Database)
	if err != nil {
		return "", 0, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	best, bestBytes := "", int64(-1)
	for _, svc := range s.p.Services {
		if linked[svc.Name] {
			continue
		}
		var n int64
		err := conn.QueryRow(ctx, `SELECT coalesce(sum(pg_relation_size(c.oid)), 0) FROM pg_class c
			JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname = ANY($1)`, svc.Schemas).Scan(&n)
		if err != nil {
			return "", 0, fmt.Errorf("size of %s: %w", svc.Name, err)
		}
		if bestBytes < 0 || n < bestBytes {
			best, bestBytes = svc.Name, n
		}
	}
	if best == "" {
		return "", 0, fmt.Errorf("every service of the shop is linked to: none can be wiped without breaking another's rows")
	}
	return best, float64(bestBytes) / float64(max(s.heap, 1)), nil
}
