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
	if brokenI, brokenS := res.Broken(); brokenS != 0 || brokenI == 0 {
		t.Errorf("broken links: %d after the snapshot (want 0), %d after the independent backups (want > 0)", brokenS, brokenI)
	}
	if orphanI, orphanS := res.Orphaned(); orphanS != 0 || orphanI == 0 {
		t.Errorf("orphan state: %d after the snapshot (want 0), %d after the independent backups (want > 0)", orphanS, orphanI)
	}
	if len(res.Links) != 5 {
		t.Errorf("want the shop's 5 cross-service links, got %d: %+v", len(res.Links), res.Links)
	}
	// Count the restored rows here, not through the demo's own code.
	if rows := countRows(t, srv, demo.Database); rows != res.Backup.Rows || rows == 0 {
		t.Errorf("restored snapshot holds %d rows, its backup counted %d", rows, res.Backup.Rows)
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

func countRows(t *testing.T, srv *target.Server, db string) int64 {
	t.Helper()
	ctx := context.Background()
	conn, err := srv.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')`)
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
