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
)

// TestLocalLifecycle drives the embedded cluster through the command:
// start, url, stop, start again keeps the data; a second start is a no-op.
func TestLocalLifecycle(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "splitschema.yaml"), []byte("database: shop\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cl, err := localpg.New(dir, nil); err == nil {
			_ = cl.Destroy(context.Background())
		}
	})
	ctx := context.Background()

	if code, _, _ := run(t, "--dir", dir, "local", "status"); code != 1 {
		t.Errorf("status before start: exit %d, want 1", code)
	}
	status := func() localpg.Status {
		t.Helper()
		code, out, errOut := run(t, "--dir", dir, "--json", "local", "start")
		if code != 0 {
			t.Fatalf("local start: exit %d: %s", code, errOut)
		}
		var st localpg.Status
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("local start --json: %v\n%s", err, out)
		}
		return st
	}
	first := status()
	if !first.Running || first.PID == 0 {
		t.Fatalf("after start: %+v", first)
	}
	if again := status(); again.PID != first.PID {
		t.Errorf("second start restarted the server: pid %d, then %d", first.PID, again.PID)
	}

	code, out, _ := run(t, "--dir", dir, "local", "url")
	url := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(url, "postgres://") || !strings.Contains(url, "/shop?") {
		t.Fatalf("local url: exit %d, %q; want a URL of the project's database shop", code, out)
	}
	// shop does not exist yet: the table goes into the maintenance database.
	connect := func() (*pgx.Conn, error) {
		cfg, err := pgx.ParseConfig(url)
		if err != nil {
			return nil, err
		}
		cfg.Database = "postgres"
		return pgx.ConnectConfig(ctx, cfg)
	}
	conn, err := connect()
	if err != nil {
		t.Fatalf("connect with the printed url: %v", err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)

	if code, _, errOut := run(t, "--dir", dir, "local", "stop"); code != 0 {
		t.Fatalf("local stop: exit %d: %s", code, errOut)
	}
	if code, out, _ := run(t, "--dir", dir, "local", "status"); code != 1 || !strings.Contains(out, "stopped") {
		t.Errorf("status after stop: exit %d, %q; want 1 and stopped", code, out)
	}
	if code, _, _ := run(t, "--dir", dir, "local", "url"); code != 1 {
		t.Errorf("url while stopped: exit %d, want 1", code)
	}
	status()
	conn, err = connect()
	if err != nil {
		t.Fatalf("reconnect after restart: %v", err)
	}
	defer conn.Close(ctx)
	var v string
	if err := conn.QueryRow(ctx, "SELECT v FROM kept").Scan(&v); err != nil || v != "still here" {
		t.Errorf("data after restart = %q, %v", v, err)
	}

	code, out, errOut := run(t, "--dir", dir, "local", "psql", "--", "-XAtc", "SELECT v FROM kept")
	if code != 0 {
		t.Fatalf("local psql: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "still here") {
		t.Errorf("psql output = %q", out)
	}
}
