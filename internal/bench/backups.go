package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/splitschema/splitschema/internal/backup"
)

// backupRun is one run of the backup scenario: wall time in seconds and
// size in bytes of each way to back up, and the COPY floor's time.
type backupRun struct {
	ours, fc, fd, floor, fp     float64
	oursBytes, fcBytes, fdBytes int64
}

// benchBackup measures, Runs times, splitschema's backup against pg_dump
// -Fc with its defaults and against pg_dump -Fd with as many jobs and the
// same compression as ours, and the floor of reading every table. The
// order of the four rotates from run to run; each starts after a
// checkpoint. It returns the rows and the last backup, which it keeps.
func benchBackup(ctx context.Context, e *env, s *shop) ([]*row, *backup.Result, error) {
	jobs := e.jobs()
	dumps := filepath.Join(e.work, "dumps")
	if err := os.MkdirAll(dumps, 0o700); err != nil {
		return nil, nil, err
	}
	var runs []backupRun
	var last *backup.Result
	// compression is ours, which the tuned pg_dump takes: known once our
	// first backup is done, and ours comes first in the first run.
	var compression string
	for r := range e.cfg.Runs {
		var b backupRun
		err := e.rotate(ctx, r,
			func() error {
				res, secs, size, err := ourBackup(ctx, e, s)
				if err != nil {
					return err
				}
				last = res
				b.ours, b.oursBytes, compression = secs, size, res.Manifest.Compression
				e.progress("backup run %d/%d: splitschema backup %.2f s, %s", r+1, e.cfg.Runs, b.ours, unitBytes.format(float64(b.oursBytes)))
				return nil
			},
			func() error {
				var err error
				file := filepath.Join(dumps, "shop.dump")
				b.fc, b.fcBytes, err = pgDump(ctx, e, file, "--format=custom", "--file="+file)
				e.progress("backup run %d/%d: pg_dump -Fc %.2f s, %s", r+1, e.cfg.Runs, b.fc, unitBytes.format(float64(b.fcBytes)))
				return err
			},
			func() error {
				if compression == "" {
					return fmt.Errorf("pg_dump -Fd: splitschema's compression is not known yet")
				}
				var err error
				dir := filepath.Join(dumps, "shop.dir")
				b.fd, b.fdBytes, err = pgDump(ctx, e, dir, "--format=directory", fmt.Sprintf("--jobs=%d", jobs), "--compress="+compression, "--file="+dir)
				e.progress("backup run %d/%d: pg_dump -Fd --jobs=%d --compress=%s %.2f s, %s", r+1, e.cfg.Runs, jobs, compression, b.fd, unitBytes.format(float64(b.fdBytes)))
				return err
			},
			func() error {
				var err error
				b.fp, err = fingerprintBackup(ctx, e, s)
				e.progress("backup run %d/%d: splitschema backup --fingerprint %.2f s", r+1, e.cfg.Runs, b.fp)
				return err
			},
			func() error {
				var read int64
				var err error
				b.floor, err = timed(func() error {
					read, err = copyFloor(ctx, s.srv, jobs)
					return err
				})
				e.progress("backup run %d/%d: COPY floor %.2f s, %s of COPY text", r+1, e.cfg.Runs, b.floor, unitBytes.format(float64(read)))
				return err
			},
		)
		if err != nil {
			return nil, nil, err
		}
		runs = append(runs, b)
	}
	return backupRows(runs, jobs, compression), last, nil
}

// backupRows turns the runs into the table's rows.
func backupRows(runs []backupRun, jobs int, comp string) []*row {
	rows := []*row{
		{what: "backup wall time vs `pg_dump -Fc` (defaults)", unit: unitSeconds, floor: ratioAtMost(0.6)},
		{what: "backup size vs `pg_dump -Fc` (defaults)", unit: unitBytes, floor: ratioAtMost(1.2)},
		{what: fmt.Sprintf("backup wall time vs `pg_dump -Fd --jobs=%d --compress=%s`", jobs, comp), unit: unitSeconds, floor: ratioAtMost(1.15)},
		{what: fmt.Sprintf("backup size vs `pg_dump -Fd --jobs=%d --compress=%s`", jobs, comp), unit: unitBytes},
		{what: fmt.Sprintf("backup wall time vs the floor: `COPY … TO` of every table to a sink, %d connections", jobs), unit: unitSeconds},
		{what: "`backup --fingerprint` wall time vs `backup` (the content hash of every row, in the snapshot)", unit: unitSeconds},
	}
	for _, b := range runs {
		rows[0].add(b.ours, b.fc)
		rows[1].add(float64(b.oursBytes), float64(b.fcBytes))
		rows[2].add(b.ours, b.fd)
		rows[3].add(float64(b.oursBytes), float64(b.fdBytes))
		rows[4].add(b.ours, b.floor)
		rows[5].add(b.fp, b.ours)
	}
	return rows
}

// ourBackup takes a splitschema backup of the shop with the defaults
// (jobs: the CPU count unless -jobs says otherwise), timing the whole
// call, and keeps only the newest backup. size is the backup folder's
// total.
func ourBackup(ctx context.Context, e *env, s *shop) (res *backup.Result, secs float64, size int64, err error) {
	if res, secs, err = timedBackup(ctx, e, s, s.p); err != nil {
		return nil, 0, 0, err
	}
	if size, err = dirSize(res.Path); err != nil {
		return nil, 0, 0, fmt.Errorf("size of backup %s: %w", res.ID, err)
	}
	if _, err := backup.Prune(ctx, s.p, backup.PruneOptions{Keep: 1}); err != nil {
		return nil, 0, 0, err
	}
	return res, secs, size, nil
}

// fingerprintBackup times a splitschema backup with --fingerprint and
// removes it: the backup the restore scenario uses stays the plain one.
func fingerprintBackup(ctx context.Context, e *env, s *shop) (float64, error) {
	o := e.backupOptions()
	o.Fingerprint = true
	var res *backup.Result
	secs, err := timed(func() error {
		var err error
		res, err = backup.Run(ctx, s.p, s.srv, o)
		return err
	})
	if err != nil {
		return 0, err
	}
	if err := os.RemoveAll(res.Path); err != nil {
		return 0, fmt.Errorf("remove the fingerprinted backup: %w", err)
	}
	return secs, nil
}

// backupOptions are the options of every splitschema backup the
// benchmark takes: the defaults, with -jobs, the run's pg_dump and its
// logger.
func (e *env) backupOptions() backup.Options {
	return backup.Options{Jobs: e.jobs(), PgBinDir: e.bins.Dir, Logger: e.log}
}

// pgDump times pg_dump of the shop into out, measures out and removes it.
func pgDump(ctx context.Context, e *env, out string, args ...string) (float64, int64, error) {
	secs, err := timed(func() error { return e.runTool(ctx, shopDatabase, "pg_dump", args...) })
	if err != nil {
		return 0, 0, err
	}
	size, err := dirSize(out)
	if err != nil {
		return 0, 0, err
	}
	return secs, size, os.RemoveAll(out)
}
