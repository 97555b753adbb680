package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/splitschema/splitschema/internal/archive"
	"github.com/splitschema/splitschema/internal/audit"
	"github.com/splitschema/splitschema/internal/backup"
	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/secrets"
	"github.com/splitschema/splitschema/internal/target"
)

// The databases the restore scenario restores into.
const (
	restoreDatabase   = "bench_restore"
	pgRestoreDatabase = "bench_pgrestore"
)

// restoreWhole runs splitschema's restore + verify of backup id of p into
// the new database db, as the benchmark restores every backup: the run's
// pg_restore, its jobs, the isolation audit, the project's app passwords.
// A restore that did not verify is an error. progress may be nil.
func (e *env) restoreWhole(ctx context.Context, p *manifest.Project, srv *target.Server, id, db string, progress func(string)) error {
	res, err := backup.Restore(ctx, p, srv, id, backup.RestoreOptions{
		TargetDB: db, Jobs: e.jobs(), PgBinDir: e.bins.Dir,
		Audit:       audit.ForVerify(p, e.log),
		AppPassword: func(svc string) (string, error) { return secrets.Password(p.Dir, svc) },
		Logger:      e.log,
		Progress:    progress,
	})
	if err == nil && !res.OK {
		err = fmt.Errorf("restore of backup %s: %s", id, res.Error)
	}
	return err
}

// benchRestore measures, Runs times, splitschema's restore of backup b
// (check the checksums, pg_restore, verify everything, audit isolation,
// rename) against pg_restore --jobs=N of the same dump into an empty
// database, roles already there for both. The order alternates; each
// starts after a checkpoint, and each database is dropped afterwards.
func benchRestore(ctx context.Context, e *env, s *shop, b *backup.Result) (*row, error) {
	for _, db := range []string{restoreDatabase, pgRestoreDatabase} {
		if err := e.claim(ctx, db, nil); err != nil {
			return nil, err
		}
	}
	jobs := e.jobs()
	r := &row{what: fmt.Sprintf("restore + verify vs `pg_restore --jobs=%d` alone", jobs), unit: unitSeconds, floor: ratioAtMost(1.3)}
	dump := filepath.Join(b.Path, archive.DumpDir)
	for run := range e.cfg.Runs {
		var ours, base float64
		err := e.rotate(ctx, run,
			func() (err error) {
				steps := &stepTimer{}
				ours, err = timed(func() error {
					err := e.restoreWhole(ctx, s.p, s.srv, b.ID, restoreDatabase, steps.step)
					steps.step("")
					return err
				})
				if err != nil {
					return err
				}
				e.progress("restore run %d/%d: splitschema restore + verify %.2f s (%s)", run+1, e.cfg.Runs, ours, steps)
				return e.dropDatabase(ctx, restoreDatabase)
			},
			func() (err error) {
				base, err = timed(func() error {
					if err := e.createDatabase(ctx, pgRestoreDatabase); err != nil {
						return err
					}
					return e.runTool(ctx, pgRestoreDatabase, "pg_restore", "--format=directory", fmt.Sprintf("--jobs=%d", jobs),
						"--exit-on-error", "--no-password", "--dbname="+pgRestoreDatabase, dump)
				})
				if err != nil {
					return err
				}
				e.progress("restore run %d/%d: pg_restore --jobs=%d %.2f s", run+1, e.cfg.Runs, jobs, base)
				return e.dropDatabase(ctx, pgRestoreDatabase)
			},
		)
		if err != nil {
			return nil, err
		}
		r.add(ours, base)
	}
	return r, nil
}

// stepTimer records how long each step of a restore took, from the
// Progress calls that start each one.
type stepTimer struct {
	names []string
	times []time.Duration
	last  time.Time
}

// step starts step name, ending the one before; "" only ends it.
func (t *stepTimer) step(name string) {
	now := time.Now()
	if len(t.names) > 0 {
		t.times = append(t.times, now.Sub(t.last))
	}
	if name != "" {
		t.names = append(t.names, name)
	}
	t.last = now
}

// String lists the steps and their durations.
func (t *stepTimer) String() string {
	var parts []string
	for i, n := range t.names {
		if i < len(t.times) {
			parts = append(parts, fmt.Sprintf("%s %.2f s", shortStep(n), t.times[i].Seconds()))
		}
	}
	return strings.Join(parts, ", ")
}

// shortStep names a restore step in a word or two.
func shortStep(step string) string {
	for _, p := range []struct{ prefix, short string }{
		{"checking", "checksums"},
		{"creating the missing", "roles"},
		{"creating database", "create database"},
		{"pg_restore", "pg_restore"},
		{"verifying", "verify + audit"},
		{"renaming", "rename"},
	} {
		if strings.HasPrefix(step, p.prefix) {
			return p.short
		}
	}
	return step
}
