package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

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
	adminURL, _ := expect(0, "local", "url")
	// Each use connects anew: pitr enable restarts the cluster, refused
	// while another session is connected.
	shopSQL := func(sql string, scan ...any) {
		t.Helper()
		conn, err := pgx.Connect(context.Background(), strings.Replace(strings.TrimSpace(adminURL), "/postgres?", "/shop?", 1))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		if len(scan) > 0 {
			err = conn.QueryRow(context.Background(), sql).Scan(scan...)
		} else {
			_, err = conn.Exec(context.Background(), sql)
		}
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	shopSQL(`
		INSERT INTO customers.customer (email, name) SELECT 'c' || i || '@example.com', 'Customer ' || i FROM generate_series(1, 20) i;
		INSERT INTO orders.customer_order (customer_id) SELECT id FROM customers.customer;
		INSERT INTO payments.payment (order_id, amount_cents) SELECT id, 1000 + id FROM orders.customer_order`)
	payments := func() string {
		t.Helper()
		var d string
		shopSQL(`SELECT count(*) || ' rows ' || md5(string_agg(p::text, ',' ORDER BY p.id)) FROM payments.payment p`, &d)
		return d
	}
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

	// payments alone, back to the backup's restore point, in place.
	atPoint := payments()
	shopSQL("DELETE FROM payments.payment WHERE id % 2 = 0; UPDATE payments.payment SET amount_cents = 1")
	if payments() == atPoint {
		t.Fatal("the damage changed nothing")
	}
	svcDir := filepath.Join(restores, "payments")
	expect(2, "restore", "--service", "payments", "--to-point", "backup "+b.ID)
	out, _ = expect(0, "restore", "--service", "payments", "--in-place", "--to-point", "backup "+b.ID, "--target-dir", svcDir)
	for _, want := range []string{"point in time restore point \"backup " + b.ID, "verified (0 broken links, isolation audit passed)",
		"removed with the scratch cluster", "in place: done in"} {
		if !strings.Contains(out, want) {
			t.Errorf("restore --service --to-point output does not say %q:\n%s", want, out)
		}
	}
	if got := payments(); got != atPoint {
		t.Errorf("payments after the restore: %s, at the point: %s", got, atPoint)
	}
	if _, err := os.Stat(svcDir); !os.IsNotExist(err) {
		t.Errorf("the scratch cluster's folder %s is still there (%v)", svcDir, err)
	}

	_, errOut = expect(1, "restore", "--to-latest", "--target-dir", restoreDir)
	if !strings.Contains(errOut, "exists") {
		t.Errorf("restore into an existing folder: %s", errOut)
	}
}
