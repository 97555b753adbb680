package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/splitschema/splitschema/internal/localpg"
)

// TestBackupRestoreCommands is the "done when", on an embedded
// cluster of its own: apply, backup, restore <id> --target-db copy prints a
// verified restore of the example shop; then the commands around it and
// their refusals, exit codes included.
func TestBackupRestoreCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shop")
	t.Cleanup(func() {
		if cl, err := localpg.New(dir, nil); err == nil {
			_ = cl.Destroy(context.Background())
		}
	})
	for _, f := range []string{"splitschema.yaml", "schemas", "migrations"} {
		copyTree(t, filepath.Join(repoRoot(t), f), filepath.Join(dir, f))
	}
	expect := func(wantCode int, args ...string) (string, string) {
		t.Helper()
		code, out, errOut := run(t, append([]string{"--dir", dir}, args...)...)
		if code != wantCode {
			t.Fatalf("%v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, code, wantCode, out, errOut)
		}
		return out, errOut
	}
	expect(0, "apply")

	out, _ := expect(0, "backup", "--json", "--jobs", "2")
	var b struct {
		ID      string
		Path    string
		Tables  int
		Rows    int64
		Bytes   int64
		Seconds float64
	}
	if err := json.Unmarshal([]byte(out), &b); err != nil || b.ID == "" || b.Tables < 6 || b.Bytes == 0 || !filepath.IsAbs(b.Path) {
		t.Fatalf("backup --json: %v\n%s", err, out)
	}

	out, _ = expect(0, "restore", b.ID, "--target-db", "copy")
	for _, want := range []string{"restored backup " + b.ID + " into database copy", "verified", "isolation audit: passed", "0 broken"} {
		if !strings.Contains(out, want) {
			t.Errorf("restore output does not say %q:\n%s", want, out)
		}
	}
	_, errOut := expect(1, "restore", b.ID, "--target-db", "copy")
	if !strings.Contains(errOut, "database copy already exists") || !strings.Contains(errOut, "--target-db NAME") {
		t.Errorf("restore into an existing database: %s", errOut)
	}

	// One service alone, into a new database to look at.
	out, _ = expect(0, "restore", b.ID, "--service", "payments", "--target-db", "copy_payments")
	for _, want := range []string{"restored service payments of backup " + b.ID + " into database copy_payments", "verified (those services only)",
		"not restored, not checked (one end is in a service left out): foreign key payment_order_id_fkey", "isolation audit: not run"} {
		if !strings.Contains(out, want) {
			t.Errorf("restore --service payments --target-db output does not say %q:\n%s", want, out)
		}
	}
	expect(2, "restore", b.ID, "--service", "payments", "--in-place", "--target-db", "x")

	out, _ = expect(0, "verify", "--against", b.ID, "--target-db", "copy", "--json")
	var v struct {
		OK     bool
		Tables int
		Rows   int64
		Links  []struct {
			From, To string
			Broken   int64
		}
		Mismatches []string
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || !v.OK || v.Tables != b.Tables || v.Rows != b.Rows || len(v.Links) != 6 || len(v.Mismatches) != 0 {
		t.Errorf("verify --json: %v\n%s", err, out)
	}
	expect(2, "verify", "--target-db", "copy")

	out, _ = expect(0, "backup", "verify", b.ID, "--restore-test", "--jobs", "2")
	if !strings.Contains(out, "all ") || !strings.Contains(out, "restore test of backup "+b.ID+" passed") {
		t.Errorf("backup verify --restore-test:\n%s", out)
	}

	// A second backup, an incomplete leftover, then prune keeps the newest.
	out, _ = expect(0, "backup", "--json")
	var b2 struct{ ID string }
	json.Unmarshal([]byte(out), &b2)
	leftover := filepath.Join(dir, "backups", "20200101T000000Z-dead.partial")
	if err := os.Mkdir(leftover, 0o700); err != nil {
		t.Fatal(err)
	}
	out, _ = expect(0, "backup", "list")
	if !strings.Contains(out, "20200101T000000Z-dead  INCOMPLETE") || strings.Index(out, b2.ID) > strings.Index(out, b.ID) {
		t.Errorf("backup list:\n%s", out)
	}
	out, _ = expect(0, "backup", "list", "--json")
	var l struct {
		Backups []struct {
			ID       string
			State    string
			Complete bool
		}
	}
	if err := json.Unmarshal([]byte(out), &l); err != nil || len(l.Backups) != 3 || l.Backups[2].Complete || l.Backups[2].State != "incomplete" {
		t.Errorf("backup list --json: %v\n%s", err, out)
	}
	expect(2, "backup", "prune", "--keep", "0")
	expect(0, "backup", "prune", "--keep", "1")
	out, _ = expect(0, "backup", "list")
	if strings.Contains(out, b.ID) || strings.Contains(out, "dead") || !strings.Contains(out, b2.ID) {
		t.Errorf("after prune --keep 1:\n%s", out)
	}

	// A flipped byte: backup verify and restore refuse, naming the file.
	toc := filepath.Join(dir, "backups", b2.ID, "dump", "toc.dat")
	data, err := os.ReadFile(toc)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x20
	if err := os.WriteFile(toc, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, _ = expect(1, "backup", "verify", b2.ID)
	if !strings.Contains(out, "dump/toc.dat: SHA-256") {
		t.Errorf("backup verify of a damaged backup:\n%s", out)
	}
	out, _ = expect(1, "backup", "verify", b2.ID, "--json")
	if !strings.Contains(out, `"file": "dump/toc.dat"`) || !strings.Contains(out, `"ok": false`) {
		t.Errorf("backup verify --json of a damaged backup:\n%s", out)
	}
	_, errOut = expect(1, "restore", b2.ID, "--target-db", "copy2")
	if !strings.Contains(errOut, "dump/toc.dat") || !strings.Contains(errOut, "refusing to restore") {
		t.Errorf("restore of a damaged backup: %s", errOut)
	}
	expect(2, "restore")
	expect(2, "restore", b2.ID, "--target-db", "x", "--target-url", "postgres://x@localhost/y")
	_, errOut = expect(1, "restore", "nonsense")
	if !strings.Contains(errOut, "not a backup id") {
		t.Errorf("restore nonsense: %s", errOut)
	}
}

// A client program killed by a signal is a failure like any other: exit
// status 1, never its own -1 (255), and the message says what happened.
func TestKilledProgramExitsOne(t *testing.T) {
	err := exec.Command("/bin/sh", "-c", "kill -9 $$").Run()
	var xe *exec.ExitError
	if !errors.As(err, &xe) || xe.ExitCode() != -1 {
		t.Fatalf("sh killed itself: %v", err)
	}
	var stderr strings.Builder
	if code := exitCode(fmt.Errorf("check the dump: pg_restore --list: %w", err), []string{"splitschema", "backup"}, io.Discard, &stderr); code != 1 {
		t.Errorf("exit code = %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "pg_restore --list") {
		t.Errorf("stderr = %q", stderr.String())
	}
}
