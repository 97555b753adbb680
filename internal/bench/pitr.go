package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/audit"
	"github.com/splitschema/splitschema/internal/backup"
	"github.com/splitschema/splitschema/internal/localpg"
	"github.com/splitschema/splitschema/internal/pitr"
)

// restoreDatabase is reused: the logical restore of this scenario goes
// there too, dropped after each run.

// benchPITR measures point-in-time recovery on the shop, on the embedded
// cluster only (it enables WAL archiving, which restarts the server), in
// one run against the logical tools on the same data:
//   - a full physical backup (pgBackRest) against splitschema's backup;
//   - a restore --to-latest into a new cluster, verified, against
//     splitschema's restore + verify of a logical backup;
//   - the RPO: a writer commits one transaction at a time, the server is
//     killed (SIGKILL, its disk taken as lost), and the restore to the
//     latest archived WAL is counted against what was acknowledged.
//
// It runs last among the shop scenarios and leaves the cluster archiving.
func benchPITR(ctx context.Context, e *env, s *shop) ([]*row, error) {
	if e.cluster == nil {
		e.progress("pitr: skipped: it enables archiving and restarts the server, which it does on its own embedded cluster only (no DATABASE_URL)")
		return nil, nil
	}
	if _, err := pitr.LookPath(); err != nil {
		return nil, err
	}
	setup, err := pitr.Open(ctx, s.p, e.cluster)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(setup.Work)
	s.p.Settings.PITR.ArchiveTimeout = archiveTimeout
	e.progress("pitr: enable (archiving, archive_timeout %s, restart, stanza, first full backup)", archiveTimeout)
	if _, err := setup.Enable(ctx, pitr.EnableOptions{Restart: true, Logger: e.log}); err != nil {
		return nil, err
	}
	if err := e.reconnect(ctx); err != nil {
		return nil, err
	}
	backupRow := &row{what: "physical full backup (pgBackRest, lz4, 2 processes) vs splitschema's logical backup", unit: unitSeconds}
	restoreRow := &row{what: "point-in-time restore to the latest WAL + verify, new cluster, vs logical restore + verify", unit: unitSeconds}
	rpoRow := &row{unit: unitSeconds}
	for run := range e.cfg.Runs {
		var phys, logical float64
		var b *backup.Result
		err := e.rotate(ctx, run,
			func() (err error) {
				phys, err = timed(func() error { _, err := setup.Backup(ctx, pitr.Full); return err })
				return err
			},
			func() (err error) {
				b, logical, _, err = ourBackup(ctx, e, s)
				return err
			})
		if err != nil {
			return nil, err
		}
		backupRow.add(phys, logical)
		e.progress("pitr: run %d: physical backup %.2f s, logical %.2f s", run+1, phys, logical)

		var pitrSecs, logicalSecs float64
		err = e.rotate(ctx, run,
			func() (err error) {
				dir := filepath.Join(setup.Work, fmt.Sprintf("restore-%d", run))
				pitrSecs, err = timed(func() error {
					res, err := setup.Restore(ctx, pitr.RestoreOptions{Target: pitr.Target{Latest: true}, Dir: dir,
						Audit: audit.ForVerify(s.p, e.log), Logger: e.log})
					if err == nil && !res.OK {
						err = fmt.Errorf("point-in-time restore not verified: %s", res.Human())
					}
					return err
				})
				return errors.Join(err, stopRestored(s.p.Dir, dir))
			},
			func() (err error) {
				if err := e.claim(ctx, restoreDatabase, nil); err != nil {
					return err
				}
				logicalSecs, err = timed(func() error {
					return e.restoreWhole(ctx, s.p, s.srv, b.ID, restoreDatabase, nil)
				})
				return errors.Join(err, e.dropDatabase(ctx, restoreDatabase))
			})
		if err != nil {
			return nil, err
		}
		restoreRow.add(pitrSecs, logicalSecs)
		e.progress("pitr: run %d: point-in-time restore %.2f s, logical %.2f s", run+1, pitrSecs, logicalSecs)
	}
	m, err := measureRPO(ctx, e, s, setup)
	if err != nil {
		return nil, fmt.Errorf("RPO: %w", err)
	}
	rpoRow.what = fmt.Sprintf("RPO: age of the oldest commit lost when the server and its disk are lost, restore --to-latest (%d of %d acknowledged commits lost) vs archive_timeout",
		m.lost, m.committed)
	rpoRow.add(m.window.Seconds(), archiveTimeout.Seconds())
	e.progress("pitr: RPO: %d of %d acknowledged commits lost, the oldest %.1f s before the crash", m.lost, m.committed, m.window.Seconds())
	return []*row{backupRow, restoreRow, rpoRow}, nil
}

// archiveTimeout is the archive_timeout of the RPO measurement.
const archiveTimeout = 10 * time.Second

// rpo is what the RPO measurement found.
type rpo struct {
	lost, committed int
	// window is how long before the crash the oldest lost commit was
	// acknowledged: the recovery point's age.
	window time.Duration
}

// measureRPO commits marker transactions one at a time for 2.5 times
// archive_timeout, kills the server (SIGKILL; its disk is taken as lost),
// restores the latest archived WAL into a new cluster and counts the
// acknowledged markers it lacks. The markers commit in order, so the
// restore holds the first ones. The project's cluster is started again
// afterwards (crash recovery).
func measureRPO(ctx context.Context, e *env, s *shop, setup *pitr.Setup) (rpo, error) {
	var m rpo
	conn, err := s.srv.Connect(ctx, s.srv.Database)
	if err != nil {
		return m, err
	}
	var acks []time.Time
	deadline := time.Now().Add(archiveTimeout * 5 / 2)
	for n := 1; time.Now().Before(deadline); n++ {
		if _, err := conn.Exec(ctx, "INSERT INTO customers.customer (email, name) VALUES ($1, 'rpo marker')", fmt.Sprintf("rpo-%d@example.com", n)); err != nil {
			conn.Close(ctx)
			return m, err
		}
		acks = append(acks, time.Now())
		time.Sleep(2 * time.Millisecond)
	}
	conn.Close(ctx)
	m.committed = len(acks)
	st, err := e.cluster.Status(ctx)
	if err != nil {
		return m, err
	}
	e.progress("pitr: RPO: %d commits acknowledged; killing the server (pid %d)", m.committed, st.PID)
	crash := time.Now()
	if err := syscall.Kill(st.PID, syscall.SIGKILL); err != nil {
		return m, err
	}
	for i := 0; i < 100; i++ {
		if st, _ := e.cluster.Status(ctx); !st.Running {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	dir := filepath.Join(setup.Work, "restore-rpo")
	res, rerr := setup.Restore(ctx, pitr.RestoreOptions{Target: pitr.Target{Latest: true}, Dir: dir, NoVerify: true, Logger: e.log})
	var present int
	if rerr == nil {
		rerr = countMarkers(ctx, res, &present)
	}
	err = errors.Join(rerr, stopRestored(s.p.Dir, dir), e.cluster.Start(ctx), e.reconnect(ctx))
	m.lost = m.committed - present
	if m.lost > 0 {
		m.window = crash.Sub(acks[present])
	}
	return m, err
}

func countMarkers(ctx context.Context, res *pitr.RestoreResult, n *int) error {
	conn, err := pgx.Connect(ctx, res.URL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.QueryRow(ctx, "SELECT count(*) FROM customers.customer WHERE name = 'rpo marker'").Scan(n)
}

// stopRestored stops a restored cluster in dir and removes it.
func stopRestored(project, dir string) error {
	cl, err := localpg.New(project, nil, localpg.WithRuntimeDir(dir), localpg.WithStateDir(filepath.Join(dir, "state")))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = cl.Stop(ctx)
	return errors.Join(err, os.RemoveAll(dir))
}

// reconnect opens the admin connection again after a restart.
func (e *env) reconnect(ctx context.Context) error {
	if e.conn != nil {
		e.conn.Close(ctx)
	}
	var err error
	e.conn, err = e.admin.Connect(ctx, e.admin.Database)
	return err
}
