package pitr

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestArchiveCommandFailing breaks archive_command: the server keeps
// serving, and the status says archiving fails and is behind; once the
// command is repaired, archiving catches up and the status is OK again.
// (The file name sorts last: it breaks the shared cluster for a while.)
func TestArchiveCommandFailing(t *testing.T) {
	e := env(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	conn, do, good := withArchiveCommand(t, ctx, e, func(string) string { return "/bin/false" })
	time.Sleep(300 * time.Millisecond)
	for range 3 {
		do("CREATE TEMP TABLE IF NOT EXISTS w (x int); INSERT INTO w SELECT generate_series(1, 1000)")
		do("SELECT pg_switch_wal()")
	}
	st := waitStatus(t, ctx, conn, func(a *ArchiveStatus) bool { return a.Failing && a.Behind >= 2 })
	if st.OK || len(st.Problems) == 0 {
		t.Errorf("status with a failing archive_command is OK: %s", st.Human())
	}
	chk, err := Check(ctx, e.shop.Server, nil)
	if err != nil {
		t.Fatal(err)
	}
	if chk.OK || !strings.Contains(chk.Human(), "MISSING archive_command succeeds") {
		t.Errorf("pitr check with a failing archive_command:\n%s", chk.Human())
	}
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatalf("the server stopped serving while archiving fails: %v", err)
	}

	do("ALTER SYSTEM SET archive_command = " + quoteLiteral(good))
	do("SELECT pg_reload_conf()")
	if err := e.setup.flushWAL(ctx, 2*time.Minute); err != nil {
		t.Fatalf("archiving did not catch up once repaired: %v", err)
	}
	st = waitStatus(t, ctx, conn, func(a *ArchiveStatus) bool { return !a.Failing && a.Behind <= 1 })
	if !st.OK {
		t.Errorf("status after the repair: %s", st.Human())
	}
}

// TestCheckWaitsForASlowArchiver gives archive_command a second per
// segment: right after three WAL switches the archiver is behind without
// failing, which a check must not call a fault; it reports ready once the
// backlog clears, and behind when the backlog outlasts its wait.
func TestCheckWaitsForASlowArchiver(t *testing.T) {
	e := env(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	conn, do, _ := withArchiveCommand(t, ctx, e, func(good string) string { return "sleep 1 && " + good })
	switches := func() {
		for range 4 {
			do("CREATE TEMP TABLE IF NOT EXISTS w (x int); INSERT INTO w SELECT generate_series(1, 1000)")
			do("SELECT pg_switch_wal()")
		}
	}
	switches()
	if a, err := Archiver(ctx, conn); err != nil || a.Behind < 2 {
		t.Fatalf("four WAL switches against a slow archiver left it %+v behind (%v): the test does not exercise a backlog", a, err)
	}
	a, err := settledArchiver(ctx, conn, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if a.Failing || a.Behind > 1 {
		t.Errorf("a slow but working archiver was reported behind after the wait: %s", a.Human())
	}
	// The wait is bounded: a backlog that outlasts it is reported.
	switches()
	if a, err = settledArchiver(ctx, conn, 0); err != nil {
		t.Fatal(err)
	}
	if a.Behind < 2 || a.OK {
		t.Errorf("a backlog checked without waiting was not reported: %s", a.Human())
	}
}

// withArchiveCommand sets the shared cluster's archive_command to
// command(good), good being the working one, and puts good back when the
// test ends. It returns an admin connection, a function that runs a
// statement on it or fails the test, and good.
func withArchiveCommand(t *testing.T, ctx context.Context, e *testEnv, command func(good string) string) (*pgx.Conn, func(string), string) {
	t.Helper()
	conn, err := e.setup.connect(ctx, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	do := func(sql string) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	good := e.setup.ArchiveCommand()
	t.Cleanup(func() {
		conn, err := e.setup.connect(context.Background(), "postgres")
		if err == nil {
			conn.Exec(context.Background(), "ALTER SYSTEM SET archive_command = "+quoteLiteral(good))
			conn.Exec(context.Background(), "SELECT pg_reload_conf()")
			conn.Close(context.Background())
		}
	})
	do("ALTER SYSTEM SET archive_command = " + quoteLiteral(command(good)))
	do("SELECT pg_reload_conf()")
	return conn, do, good
}

func waitStatus(t *testing.T, ctx context.Context, conn *pgx.Conn, ok func(*ArchiveStatus) bool) *ArchiveStatus {
	t.Helper()
	for {
		st, err := Archiver(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		if ok(st) {
			return st
		}
		select {
		case <-ctx.Done():
			t.Fatalf("status never got there: %s", st.Human())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// TestRepositoryDiskFull points archive_command at a repository on a
// 32 MiB tmpfs that a ballast file fills: pushing a segment fails with no
// space left, the server keeps serving, the status says archiving fails and
// is behind; once archiving goes to the real repository again it catches
// up. It needs root and
// tmpfs (mounted and unmounted here, nothing else touched); elsewhere it
// skips, saying so.
func TestRepositoryDiskFull(t *testing.T) {
	e := env(t)
	if os.Geteuid() != 0 {
		t.Skip("skipped: mounting a small tmpfs to fill needs root")
	}
	mnt := filepath.Join(e.dir, "full-repo")
	if err := os.Mkdir(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=32m", "splitschema-pitr-test", mnt).CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount a tmpfs: %v: %s", err, out)
		}
		t.Skipf("skipped: cannot mount a tmpfs here (%v: %s)", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	full := *e.setup
	full.Repo = mnt
	full.Conf = filepath.Join(e.setup.Work, "full-repo.conf")
	if err := mkdirOwned(mnt, full.uid, full.gid); err != nil {
		t.Fatal(err)
	}
	if err := full.prepare(); err != nil {
		t.Fatal(err)
	}
	if _, err := full.run(ctx, "stanza-create"); err != nil {
		t.Fatalf("stanza on the small repository: %v", err)
	}
	conn, err := e.setup.connect(ctx, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	do := func(sql string) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	good := e.setup.ArchiveCommand()
	t.Cleanup(func() {
		conn, err := e.setup.connect(context.Background(), "postgres")
		if err == nil {
			conn.Exec(context.Background(), "ALTER SYSTEM SET archive_command = "+quoteLiteral(good))
			conn.Exec(context.Background(), "SELECT pg_reload_conf()")
			conn.Close(context.Background())
		}
	})
	do("ALTER SYSTEM SET archive_command = " + quoteLiteral(full.ArchiveCommand()))
	do("SELECT pg_reload_conf()")
	time.Sleep(300 * time.Millisecond)
	// One segment reaches the small repository (the real one misses it:
	// this test runs last), then a ballast fills the disk.
	do("CREATE TABLE pitr_fill AS SELECT 1 AS x")
	do("DROP TABLE pitr_fill")
	if err := e.setup.flushWAL(ctx, time.Minute); err != nil {
		t.Fatalf("the small repository takes no segment at all: %v", err)
	}
	fill(t, filepath.Join(mnt, "ballast"))
	do("CREATE TABLE pitr_fill AS SELECT md5(random()::text) AS x FROM generate_series(1, 1000)")
	do("DROP TABLE pitr_fill")
	do("SELECT pg_switch_wal()")
	st := waitStatus(t, ctx, conn, func(a *ArchiveStatus) bool { return a.Failing && a.Behind >= 1 })
	if st.OK {
		t.Errorf("status with a full repository is OK: %s", st.Human())
	}
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatalf("the server stopped serving while the repository is full: %v", err)
	}
	cst, _ := e.setup.Cluster.Status(ctx)
	if log, _ := os.ReadFile(cst.LogFile); !strings.Contains(string(log), "No space left on device") {
		t.Errorf("the server log does not say the repository is full; it ends with:\n%s", lastLines(string(log), 30))
	}

	do("ALTER SYSTEM SET archive_command = " + quoteLiteral(good))
	do("SELECT pg_reload_conf()")
	if err := e.setup.flushWAL(ctx, 2*time.Minute); err != nil {
		t.Fatalf("archiving did not catch up on the real repository: %v", err)
	}
}

// fill writes path until the disk is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill %s: %v", path, err)
			}
			return
		}
	}
}
