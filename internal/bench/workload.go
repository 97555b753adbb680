package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/splitschema/splitschema/internal/backup"
	"github.com/splitschema/splitschema/internal/secrets"
	"github.com/splitschema/splitschema/internal/workload"
)

// workloadRate is the fixed rate of each of the shop's services, in
// transactions per second: one the machine sustains with room to spare,
// so that a drop while a backup runs shows writers being held up, not a
// saturated machine sharing its cores.
const workloadRate = 100

// workloadWorkers is each service's concurrent writers.
const workloadWorkers = 2

// workloadWindow is how long, at least, the writers run in each window:
// backups follow each other until it has passed, so that the writers are
// measured only while a backup runs, through all of its phases.
const workloadWindow = 10 * time.Second

// benchWorkload measures, Runs times, the shop's committed transactions
// per second while splitschema backups run one after the other, against
// the same writers for as long without a backup: first at the fixed rate
// (the availability floor), then unthrottled (how much of the machine a
// backup takes).
func benchWorkload(ctx context.Context, e *env, s *shop) ([]*row, error) {
	urls := map[string]string{}
	for _, svc := range workload.Services {
		u, err := secrets.URL(s.p.Dir, svc)
		if err != nil {
			return nil, fmt.Errorf("workload: %w", err)
		}
		urls[svc] = u
	}
	fixed := &row{what: fmt.Sprintf("workload throughput while backups run vs without (%d services × %d tx/s, %d writers each)", len(workload.Services), workloadRate, workloadWorkers),
		unit: unitPerSecond, floor: ratioAtLeast(0.85)}
	free := &row{what: fmt.Sprintf("workload throughput while backups run vs without (unthrottled, %d writers per service)", workloadWorkers), unit: unitPerSecond}
	for run := range e.cfg.Runs {
		for _, m := range []struct {
			row  *row
			rate float64
			name string
		}{{fixed, workloadRate, "fixed rate"}, {free, 0, "unthrottled"}} {
			// Seed 0: each window picks its own, so the second does not retry
			// the first one's e-mails and SKUs, which are unique.
			cfg := workload.Config{URLs: urls, Rate: m.rate, Workers: workloadWorkers}
			during, backups, err := writersDuringBackups(ctx, e, s, cfg)
			if err != nil {
				return nil, err
			}
			alone, err := writersAlone(ctx, e, cfg, during.Seconds)
			if err != nil {
				return nil, err
			}
			a, b := float64(during.Committed())/during.Seconds, float64(alone.Committed())/alone.Seconds
			e.progress("workload run %d/%d, %s: %.1f tx/s during %d backups in %.1f s, %.1f tx/s without", run+1, e.cfg.Runs, m.name, a, backups, during.Seconds, b)
			m.row.add(a, b)
		}
	}
	return []*row{fixed, free}, nil
}

// writersDuringBackups runs the writers while backups follow each other
// until workloadWindow has passed, stops them as the last backup ends, and
// returns what they did and how many backups ran.
func writersDuringBackups(ctx context.Context, e *env, s *shop, cfg workload.Config) (*workload.Result, int, error) {
	if err := e.checkpoint(ctx); err != nil {
		return nil, 0, err
	}
	var backups int
	w, err := writersDuring(ctx, cfg, func() error {
		_, err := backup.Run(ctx, s.p, s.srv, e.backupOptions())
		if err == nil {
			backups++
		}
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	if _, err := backup.Prune(ctx, s.p, backup.PruneOptions{Keep: 1}); err != nil {
		return nil, 0, err
	}
	return w, backups, nil
}

// writersDuring runs the writers of cfg while each is called again and
// again, until workloadWindow has passed or it fails, and stops them as
// the last call ends: the writers are measured only while each's work runs.
func writersDuring(ctx context.Context, cfg workload.Config, each func() error) (*workload.Result, error) {
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	type result struct {
		res *workload.Result
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := workload.Run(wctx, cfg)
		done <- result{res, err}
	}()
	var err error
	for t0 := time.Now(); err == nil && time.Since(t0) < workloadWindow; {
		err = each()
	}
	stop()
	w := <-done
	if err != nil {
		return nil, err
	}
	if w.err != nil {
		return nil, w.err
	}
	return w.res, nil
}

// writersAlone runs the writers of cfg for secs after a checkpoint: the
// window without a backup (or restore) to compare against.
func writersAlone(ctx context.Context, e *env, cfg workload.Config, secs float64) (*workload.Result, error) {
	if err := e.checkpoint(ctx); err != nil {
		return nil, err
	}
	cfg.Duration = secsDuration(secs)
	return workload.Run(ctx, cfg)
}
