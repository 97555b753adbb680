package demo_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/demo"
	"github.com/splitschema/splitschema/internal/pgtest"
	"github.com/splitschema/splitschema/internal/target"
)

// TestSnapshotWholeIndependentBroken is the BAC theorem on real data: with
// the shop writing, the one-snapshot backup restores with exact counts and
// no broken link, while per-service backups taken a second apart restore
// with broken links and orphan state.
func TestSnapshotWholeIndependentBroken(t *testing.T) {
	// The demo makes its own databases (and drops the test's, unused).
	srv, err := target.FromURL(pgtest.NewDatabase(t), "")
	if err != nil {
		t.Fatal(err)
	}
	srv.BinDir = pgtest.Server(t).Binaries.Dir
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var steps []string
	res, err := demo.Run(ctx, demo.Config{
		Dir: t.TempDir(), Server: srv, Duration: 8 * time.Second, Rate: 100, Interval: time.Second, Jobs: 2,
		Step: func(s string) { steps = append(steps, s) },
	})
	if err != nil {
		t.Fatalf("demo: %v\nsteps: %s", err, strings.Join(steps, "\n"))
	}
	t.Logf("\n%s", res.Human())

	// The snapshot: verified, exact counts, nothing broken.
	if !res.OK || res.Verify == nil || !res.Verify.OK || len(res.Verify.Mismatches) > 0 {
		t.Errorf("the snapshot restore did not verify: %+v", res.Verify)
	}
	if brokenI, brokenS, broken1 := res.Broken(); brokenS != 0 || broken1 != 0 || brokenI == 0 {
		t.Errorf("broken links: %d after the snapshot and %d after the one-service restore (want 0), %d after the independent backups (want > 0)", brokenS, broken1, brokenI)
	}
	if orphanI, orphanS, orphan1 := res.Orphaned(); orphanS != 0 || orphan1 != 0 || orphanI == 0 {
		t.Errorf("orphan state: %d after the snapshot and %d after the one-service restore (want 0), %d after the independent backups (want > 0)", orphanS, orphan1, orphanI)
	}
	if len(res.Links) != 5 {
		t.Errorf("want the shop's 5 cross-service links, got %d: %+v", len(res.Links), res.Links)
	}
	// The one service restored in place holds the backup's rows, counted
	// here, not through the demo's own code, while the others wrote on.
	one := res.OneService
	if one == nil || one.Restore == nil || !one.Restore.Applied || one.Wiped == 0 {
		t.Fatalf("the one-service restore did not run to its end: %+v", one)
	}
	var want int64
	for _, tc := range one.Restore.Tables {
		want += tc.BackupRows
	}
	if rows := countRows(t, srv, demo.Database, demo.RestoredService); rows != want || rows == 0 {
		t.Errorf("%s holds %d rows after its restore, its backup counted %d", demo.RestoredService, rows, want)
	}
	var committed, failed int64
	for _, s := range one.Others.Services {
		committed, failed = committed+s.Committed, failed+s.Failed
	}
	if committed == 0 || failed != 0 {
		t.Errorf("the other services' writers during the one-service restore: %d committed (want > 0), %d failed (want 0)", committed, failed)
	}
	if res.Workload.Committed() == 0 {
		t.Error("the shop committed nothing during the demo")
	}

	// A second run replaces the first run's databases.
	if _, err := demo.Run(ctx, demo.Config{Dir: t.TempDir(), Server: srv, Duration: 4 * time.Second, Interval: 100 * time.Millisecond}); err != nil {
		t.Fatalf("second run: %v", err)
	}
}

// TestRefusesForeignDatabase: the demo drops only databases it made.
func TestRefusesForeignDatabase(t *testing.T) {
	srv, err := target.FromURL(pgtest.NewDatabase(t), "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn, err := srv.Connect(ctx, srv.Database)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+demo.IndependentDatabase+" WITH (FORCE)"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+demo.IndependentDatabase); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(ctx, "DROP DATABASE "+demo.IndependentDatabase)
	_, err = demo.Run(ctx, demo.Config{Dir: t.TempDir(), Server: srv, Duration: 4 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "was not made by the demo") {
		t.Fatalf("err = %v; want a refusal", err)
	}
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", demo.IndependentDatabase).Scan(&exists); err != nil || !exists {
		t.Errorf("the user's database is gone (err %v)", err)
	}
}

// countRows counts the rows of every table of schema in database db but
// its migrations' version table.
func countRows(t *testing.T, srv *target.Server, db, schema string) int64 {
	t.Helper()
	ctx := context.Background()
	conn, err := srv.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p') AND n.nspname = $1 AND c.relname <> 'goose_db_version'`, schema)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, table := range tables {
		var n int64
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		total += n
	}
	return total
}
