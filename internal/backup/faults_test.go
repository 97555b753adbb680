package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/archive"
	"github.com/splitschema/splitschema/internal/backup/backuptest"
)

// Writers on every service commit, through their own app roles, all
// through each backup; every backup restores to exactly its manifest's
// counts with no broken link.
func TestBackupUnderWrites(t *testing.T) {
	t.Parallel()
	shop := backuptest.New(t)
	shop.Seed(t, 4000)
	stop := shop.Writers(t, 150)
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	time.Sleep(300 * time.Millisecond) // let every writer get going
	var ids []string
	var prevRows int64
	during := map[string]int64{}
	for i := range 3 {
		var dumpStart time.Time
		res := mustBackup(t, shop, Options{dumpStarted: func(int, string) { dumpStart = time.Now() }})
		end := time.Now()
		ids = append(ids, res.ID)
		if i > 0 && res.Rows == prevRows {
			t.Errorf("backup %d: %d rows, as many as the backup before: were the writers writing?", i, res.Rows)
		}
		prevRows = res.Rows
		for svc, n := range shop.CommittedBetween(t, dumpStart, end) {
			during[svc] += n
		}
	}
	w := stop()
	stop = nil
	t.Logf("rows written while pg_dump ran: %v", during)
	for _, svc := range shop.Project.Services {
		if during[svc.Name] == 0 {
			t.Errorf("service %s wrote no row while pg_dump ran", svc.Name)
		}
	}
	t.Logf("writers: %d transactions committed during the test\n%s", w.Committed(), w)
	for i, id := range ids {
		db := fmt.Sprintf("%s_w%d", shop.Server.Database, i)
		o := restoreOpts(db)
		o.Audit = backuptest.Audit(shop.Project)
		rr, err := Restore(testCtx(t), shop.Project, shop.Server, id, o)
		if err != nil {
			t.Fatalf("restore %s: %v", id, err)
		}
		m, _ := archive.Read(filepath.Join(Dir(shop.Project), id))
		if rr.Verify.Rows != m.Totals.Rows || len(rr.Verify.Mismatches) != 0 {
			t.Errorf("restore %s: rows %d, want %d; mismatches %v", id, rr.Verify.Rows, m.Totals.Rows, rr.Verify.Mismatches)
		}
		for _, l := range rr.Verify.Links {
			if l.Broken != 0 {
				t.Errorf("restore %s: link %s -> %s: %d broken, want 0", id, l.From, l.To, l.Broken)
			}
		}
		// The 5 links between services and order_line's foreign key to
		// customer_order inside orders.
		if len(rr.Verify.Links) != 6 {
			t.Errorf("restore %s: %d foreign keys checked, want 6", id, len(rr.Verify.Links))
		}
	}
}

// checkNoComplete asserts the listing shows the backup id as incomplete
// and no complete backup.
func checkIncomplete(t *testing.T, shop *backuptest.Shop, id, reason string) {
	t.Helper()
	l, err := List(context.Background(), shop.Project)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(l.Complete()); n != 0 {
		t.Errorf("complete backups = %d, want 0", n)
	}
	if len(l.Backups) != 1 || l.Backups[0].ID != id || l.Backups[0].State != Incomplete || l.Backups[0].Complete {
		t.Fatalf("listing = %+v, want backup %s incomplete", l.Backups, id)
	}
	if !strings.Contains(l.Backups[0].Reason, reason) {
		t.Errorf("reason = %q, want it to say %q", l.Backups[0].Reason, reason)
	}
	if !strings.Contains(l.Human(), "INCOMPLETE") {
		t.Errorf("human listing does not say INCOMPLETE:\n%s", l.Human())
	}
	if _, err := Check(context.Background(), shop.Project, id, CheckOptions{Jobs: 1}); err == nil || !strings.Contains(err.Error(), "incomplete") {
		t.Errorf("check of the incomplete backup: err = %v, want it refused as incomplete", err)
	}
}

func backupError(t *testing.T, err error) *Error {
	t.Helper()
	var be *Error
	if !errors.As(err, &be) {
		t.Fatalf("err = %v (%T), want a *backup.Error", err, err)
	}
	return be
}

// pg_dump killed with SIGKILL while it dumps: no complete backup, the
// folder is listed as incomplete, the next backup succeeds.
func TestDumpKilled(t *testing.T) {
	t.Parallel()
	shop := backuptest.New(t)
	shop.Seed(t, 20000) // enough rows that pg_dump is still at work when killed
	killed := make(chan error, 1)
	var leader int
	_, err := Run(testCtx(t), shop.Project, shop.Server, Options{
		Jobs: 2, Compress: "9",
		dumpStarted: func(pid int, dir string) {
			leader = pid
			go func() {
				// Kill it once it has written its table of contents, while
				// it dumps the tables' rows.
				for range 5000 {
					if _, err := os.Stat(filepath.Join(dir, "toc.dat")); err == nil {
						break
					}
					time.Sleep(time.Millisecond)
				}
				entries, _ := os.ReadDir(dir)
				t.Logf("killing pg_dump with %d files written", len(entries))
				killed <- syscall.Kill(pid, syscall.SIGKILL)
			}()
		},
	})
	if kerr := <-killed; kerr != nil {
		t.Fatalf("kill pg_dump: %v", kerr)
	}
	// Its parallel workers went with it.
	if groupRunning(leader) {
		err := syscall.Kill(-leader, 0)
		out, _ := exec.Command("ps", "-o", "pid,ppid,pgid,stat,cmd", "-g", fmt.Sprint(leader)).CombinedOutput()
		t.Errorf("pg_dump's process group still has processes (kill -0: %v):\n%s", err, out)
	}
	if err == nil {
		t.Fatal("backup succeeded with pg_dump killed")
	}
	t.Log(err)
	be := backupError(t, err)
	if !strings.Contains(err.Error(), "killed by signal") || !strings.Contains(err.Error(), "no backup was made") {
		t.Errorf("error = %v, want it to say pg_dump was killed and no backup was made", err)
	}
	if _, err := os.Stat(filepath.Join(be.Partial, archive.ManifestFile)); err == nil {
		t.Error("the failed backup has a manifest")
	}
	checkIncomplete(t, shop, be.ID, "killed by signal")
	res := mustBackup(t, shop, Options{})
	l, _ := List(context.Background(), shop.Project)
	if c := l.Complete(); len(c) != 1 || c[0].ID != res.ID {
		t.Errorf("complete backups = %+v, want only %s", c, res.ID)
	}
}

// The backup folder's disk fills up: a tmpfs too small for the dump.
func TestDiskFull(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root; TestManifestWriteFails covers a failing write")
	}
	shop := backuptest.New(t)
	shop.Seed(t, 3000)
	dir := Dir(shop.Project)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s); TestManifestWriteFails covers a failing write", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	_, err := Run(testCtx(t), shop.Project, shop.Server, Options{Jobs: 2, Compress: "0"})
	if err == nil {
		t.Fatal("backup succeeded on a full disk")
	}
	t.Log(err)
	be := backupError(t, err)
	if !strings.Contains(strings.ToLower(err.Error()), "no space left on device") {
		t.Errorf("error = %v, want it to say the disk is full", err)
	}
	checkIncomplete(t, shop, be.ID, "space")
	// The space is given back (bigger disk): the next backup succeeds.
	if out, err := exec.Command("mount", "-o", "remount,size=64m", dir).CombinedOutput(); err != nil {
		t.Fatalf("remount: %v: %s", err, out)
	}
	mustBackup(t, shop, Options{Compress: "0"})
}

// A write that fails at the very end (the manifest) leaves no backup.
func TestManifestWriteFails(t *testing.T) {
	t.Parallel()
	shop := backuptest.New(t)
	_, err := Run(testCtx(t), shop.Project, shop.Server, Options{
		Jobs:           2,
		beforeManifest: func(string) error { return fmt.Errorf("write manifest: %w", syscall.ENOSPC) },
	})
	if err == nil {
		t.Fatal("backup succeeded though its manifest could not be written")
	}
	be := backupError(t, err)
	checkIncomplete(t, shop, be.ID, "no space left on device")
	if _, err := os.Stat(filepath.Join(be.Partial, archive.DumpDir)); err == nil {
		t.Error("the failed backup's dump was kept: its space is not given back")
	}
	mustBackup(t, shop, Options{})
}

// A pg_dump older than the server is refused before anything is written.
func TestOldPgDump(t *testing.T) {
	t.Parallel()
	shop := backuptest.New(t)
	bin := t.TempDir()
	script := "#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n"
	if err := os.WriteFile(filepath.Join(bin, "pg_dump"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Run(testCtx(t), shop.Project, shop.Server, Options{PgBinDir: bin})
	if !errors.Is(err, ErrToolTooOld) {
		t.Fatalf("err = %v, want ErrToolTooOld", err)
	}
	for _, want := range []string{"pg_dump 9.6.24", "PostgreSQL 15.", "at least the server's major version 15"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if _, err := os.Stat(Dir(shop.Project)); err == nil {
		l, _ := List(context.Background(), shop.Project)
		if len(l.Backups) != 0 {
			t.Errorf("backups = %+v, want none", l.Backups)
		}
	}

	// Likewise a pg_restore older than the pg_dump that wrote the backup.
	res := mustBackup(t, shop, Options{})
	script = "#!/bin/sh\necho 'pg_restore (PostgreSQL) 12.4'\n"
	if err := os.WriteFile(filepath.Join(bin, "pg_restore"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	db := shop.Server.Database + "_old"
	o := restoreOpts(db)
	o.PgBinDir = bin
	_, err = Restore(testCtx(t), shop.Project, shop.Server, res.ID, o)
	if !errors.Is(err, ErrToolTooOld) || !strings.Contains(err.Error(), "pg_restore 12.4") || !strings.Contains(err.Error(), "pg_dump 15.") {
		t.Errorf("restore with an old pg_restore: err = %v", err)
	}
	if exists(t, shop, db) {
		t.Errorf("restore with an old pg_restore created %s", db)
	}
}

// A flipped byte or a deleted file: verify and restore refuse, naming it.
func TestCorruptBackup(t *testing.T) {
	t.Parallel()
	shop := backuptest.New(t)
	res := mustBackup(t, shop, Options{})
	m := res.Manifest
	var data string
	for _, f := range m.Files {
		if strings.HasPrefix(f.Path, "dump/") && f.Path != "dump/toc.dat" && f.Size > 100 {
			data = f.Path
			break
		}
	}
	if data == "" {
		t.Fatal("no data file in the dump")
	}
	for _, tc := range []struct {
		name, file, problem string
		damage              func(path string) error
	}{
		{"flipped byte", data, "SHA-256", func(p string) error {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			b[len(b)/2] ^= 0x01
			return os.WriteFile(p, b, 0o600)
		}},
		{"deleted file", "dump/toc.dat", "missing", os.Remove},
		{"extra file", "dump/9999.dat.gz", "not listed", func(p string) error { return os.WriteFile(p, []byte("x"), 0o600) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Each case damages its own copy.
			shop2 := *shop
			p2 := *shop.Project
			p2.Settings.Backups = t.TempDir()
			shop2.Project = &p2
			copyDir(t, res.Path, filepath.Join(p2.Settings.Backups, res.ID))
			path := filepath.Join(p2.Settings.Backups, res.ID, filepath.FromSlash(tc.file))
			if err := tc.damage(path); err != nil {
				t.Fatal(err)
			}
			cr, err := Check(testCtx(t), &p2, res.ID, CheckOptions{Jobs: 2})
			if err != nil {
				t.Fatal(err)
			}
			if cr.OK || len(cr.Problems) != 1 || cr.Problems[0].Path != tc.file || !strings.Contains(cr.Problems[0].Problem, tc.problem) {
				t.Errorf("check = ok %v, problems %v; want only %s: %s", cr.OK, cr.Problems, tc.file, tc.problem)
			}
			if !strings.Contains(cr.Human(), tc.file) {
				t.Errorf("check's text does not name %s:\n%s", tc.file, cr.Human())
			}
			db := shop.Server.Database + "_corrupt"
			_, err = Restore(testCtx(t), &p2, shop.Server, res.ID, restoreOpts(db))
			var pe *ProblemsError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.file) {
				t.Fatalf("restore: err = %v, want it refused naming %s", err, tc.file)
			}
			if exists(t, shop, db) {
				t.Errorf("restore of a damaged backup created database %s", db)
			}
		})
	}
	// The original is intact.
	cr, err := Check(testCtx(t), shop.Project, res.ID, CheckOptions{Jobs: 2})
	if err != nil || !cr.OK {
		t.Errorf("check of the intact backup: %v %+v", err, cr)
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", from, to).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
}

func exists(t *testing.T, shop *backuptest.Shop, db string) bool {
	t.Helper()
	conn, err := shop.Server.Connect(context.Background(), "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	ok, err := databaseExists(context.Background(), conn, db)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// A restore into a database that exists is refused and touches nothing.
func TestRestoreIntoExisting(t *testing.T) {
	t.Parallel()
	shop := backuptest.New(t)
	res := mustBackup(t, shop, Options{})
	db := shop.Server.Database + "_existing"
	backuptest.ExecURL(t, replaceDB(shop.URL, "postgres"), "CREATE DATABASE "+pgx.Identifier{db}.Sanitize())
	t.Cleanup(func() {
		backuptest.ExecURL(t, replaceDB(shop.URL, "postgres"), "DROP DATABASE IF EXISTS "+pgx.Identifier{db}.Sanitize()+" WITH (FORCE)")
	})
	backuptest.ExecURL(t, replaceDB(shop.URL, db), "CREATE TABLE keep (x int); INSERT INTO keep VALUES (42)")
	_, err := Restore(testCtx(t), shop.Project, shop.Server, res.ID, restoreOpts(db))
	if !errors.Is(err, ErrTargetExists) {
		t.Fatalf("err = %v, want ErrTargetExists", err)
	}
	for _, want := range []string{db, "already exists", "--target-db"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	conn, err := pgx.Connect(context.Background(), replaceDB(shop.URL, db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var tables, x int
	conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')").Scan(&tables)
	conn.QueryRow(context.Background(), "SELECT x FROM keep").Scan(&x)
	if tables != 1 || x != 42 {
		t.Errorf("existing database changed: %d relations (want 1), keep.x = %d (want 42)", tables, x)
	}
	// The project's own database is refused too.
	_, err = Restore(testCtx(t), shop.Project, shop.Server, res.ID, RestoreOptions{Jobs: 2, Audit: passAudit})
	if !errors.Is(err, ErrTargetExists) {
		t.Errorf("restore over the live database: err = %v, want ErrTargetExists", err)
	}
}

func replaceDB(u, db string) string {
	i := strings.LastIndex(u, "/")
	j := strings.Index(u[i:], "?")
	if j < 0 {
		return u[:i+1] + db
	}
	return u[:i+1] + db + u[i+j:]
}

// A dump that fails because DDL asked for a lock while pg_dump's workers
// took theirs is run again, from a new snapshot. The first pg_dump run
// fails as pg_dump does then; the second is the real pg_dump.
func TestDumpRetriedAfterLockConflict(t *testing.T) {
	t.Parallel()
	shop := backuptest.New(t)
	shop.Project.Settings.LockTimeout = 10 * time.Millisecond
	bin := t.TempDir()
	real := filepath.Join(shop.Server.BinDir, "pg_dump")
	script := fmt.Sprintf(`#!/bin/sh
if [ "$1" != --version ] && [ ! -e %[1]q/failed ]; then
	touch %[1]q/failed
	echo 'pg_dump: error: could not obtain lock on relation "orders.order_line"' >&2
	echo 'pg_dump: detail: This usually means that someone requested an ACCESS EXCLUSIVE lock on the table after the pg_dump parent process had gotten the initial ACCESS SHARE lock on the table.' >&2
	exit 1
fi
exec %[2]q "$@"
`, bin, real)
	if err := os.WriteFile(filepath.Join(bin, "pg_dump"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	res, err := Run(testCtx(t), shop.Project, shop.Server, Options{Jobs: 2, PgBinDir: bin})
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	if _, err := os.Stat(filepath.Join(bin, "failed")); err != nil {
		t.Fatal("the first pg_dump did not run")
	}
	rr, err := Restore(testCtx(t), shop.Project, shop.Server, res.ID, restoreOpts(shop.Server.Database+"_retry"))
	if err != nil || !rr.OK {
		t.Fatalf("restore of the retried backup: %v", err)
	}
}

// Interrupted (Ctrl-C) once pg_dump is done, while the rows are counted,
// the dump checked and the files sealed: one line that says where and what
// was left, the cancellation kept for the exit status, no "signal: killed".
func TestBackupInterruptedLate(t *testing.T) {
	t.Parallel()
	shop := backuptest.New(t)
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	_, err := Run(ctx, shop.Project, shop.Server, Options{Jobs: 2, dumpStarted: func(pid int, _ string) {
		go func() {
			for groupRunning(pid) {
				time.Sleep(time.Millisecond)
			}
			cancel()
		}()
	}, beforeManifest: func(string) error {
		<-ctx.Done()
		return ctx.Err()
	}})
	be := backupError(t, err)
	msg := err.Error()
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(msg, "backup "+be.ID+" interrupted during ") ||
		strings.Contains(msg, "signal: killed") || strings.Contains(msg, "\n") || !strings.Contains(msg, be.Partial) {
		t.Errorf("error = %q, want one line: interrupted during <phase>; the folder left", msg)
	}
	t.Log(msg)
}
