package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/splitschema/splitschema/internal/localpg"
	"github.com/splitschema/splitschema/internal/pitr"
)

// TestPitrCommands runs point-in-time recovery as a user does, on an
// embedded cluster of its own: check says what is missing, enable fixes it,
// backup names a restore point and --physical takes a pgBackRest backup,
// list shows both kinds, and restore --to-point brings back a verified copy
// in a new cluster; the refusals exit 1 with their reason.
func TestPitrCommands(t *testing.T) {
	if _, err := pitr.LookPath(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and %v", err)
		}
		t.Skipf("skipped: %v (CI installs it)", err)
	}
	dir := filepath.Join(t.TempDir(), "shop")
	// The restore's folder must be reachable by the server's OS user.
	restores, err := os.MkdirTemp("", "splitschema-pitr-cli-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(restores, 0o711)
	restoreDir := filepath.Join(restores, "copy")
	t.Cleanup(func() {
		if cl, err := localpg.New(dir, nil, localpg.WithRuntimeDir(restoreDir), localpg.WithStateDir(filepath.Join(restoreDir, "state"))); err == nil {
			_ = cl.Stop(context.Background())
		}
		os.RemoveAll(restores)
		if cl, err := localpg.New(dir, nil); err == nil {
			os.RemoveAll(filepath.Join(cl.Home(), "pitr"))
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
	out, _ := expect(1, "pitr", "check")
	if !strings.Contains(out, "MISSING archive_mode is on") || !strings.Contains(out, "splitschema pitr enable") {
		t.Errorf("pitr check before enable does not say what is missing:\n%s", out)
	}
	expect(0, "pitr", "enable")
	expect(0, "pitr", "check")
	expect(0, "pitr", "status")

	out, _ = expect(0, "backup", "--json", "--jobs", "2")
	var b struct{ ID string }
	if err := json.Unmarshal([]byte(out), &b); err != nil || b.ID == "" {
		t.Fatalf("backup --json: %v\n%s", err, out)
	}
	out, _ = expect(0, "backup", "--physical", "--type", "incr", "--json")
	var phys struct{ Label, Type string }
	if err := json.Unmarshal([]byte(out), &phys); err != nil || phys.Type != "incr" {
		t.Fatalf("backup --physical: %v\n%s", err, out)
	}
	out, _ = expect(0, "backup", "list")
	for _, want := range []string{b.ID, phys.Label, "physical (pgBackRest"} {
		if !strings.Contains(out, want) {
			t.Errorf("backup list does not show %q:\n%s", want, out)
		}
	}
	out, _ = expect(0, "pitr", "points")
	if !strings.Contains(out, "backup "+b.ID) {
		t.Errorf("pitr points does not list the backup's point:\n%s", out)
	}

	_, errOut := expect(1, "restore", "--to-time", "2000-01-01T00:00:00Z", "--target-dir", restoreDir)
	if !strings.Contains(errOut, "before the end of the first backup") {
		t.Errorf("restore before the first backup: %s", errOut)
	}
	expect(2, "restore", "--to-latest", "--to-point", "x")
	out, _ = expect(0, "restore", "--to-point", "backup "+b.ID, "--target-dir", restoreDir)
	for _, want := range []string{"restored and verified", "isolation audit: passed", "0 broken", "customers at migration version 2"} {
		if !strings.Contains(out, want) {
			t.Errorf("restore output does not say %q:\n%s", want, out)
		}
	}
	_, errOut = expect(1, "restore", "--to-latest", "--target-dir", restoreDir)
	if !strings.Contains(errOut, "exists") {
		t.Errorf("restore into an existing folder: %s", errOut)
	}
}
