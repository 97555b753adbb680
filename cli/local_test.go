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

// TestLocalSubfolderAndDestroy: without --dir, a command run in a subfolder
// of a project uses the project (as git finds its repository), so `local
// start` there starts the project's cluster, not a second one. As root, the
// data stays in the project when the server user can enter it. `local
// destroy` needs --yes, removes the cluster, and refuses a data folder that
// splitschema did not make.
func TestLocalSubfolderAndDestroy(t *testing.T) {
	base := t.TempDir()
	for _, d := range []string{filepath.Dir(base), base} { // reachable by the server user
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	project := filepath.Join(base, "proj")
	sub := filepath.Join(project, "services", "deep")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(project, "splitschema.yaml"), []byte("database: shop\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cl, err := localpg.New(project, nil); err == nil {
			_ = cl.Destroy(context.Background())
		}
	})
	status := func(args ...string) localpg.Status {
		t.Helper()
		code, out, errOut := run(t, append(args, "--json", "local", "status")...)
		var st localpg.Status
		if err := json.Unmarshal([]byte(out), &st); err != nil || code > 1 {
			t.Fatalf("local status %v: exit %d, %v\n%s\n%s", args, code, err, out, errOut)
		}
		return st
	}
	want := status("--dir", project)
	if os.Geteuid() == 0 && !strings.HasPrefix(want.DataDir, filepath.Join(project, ".splitschema")+"/") {
		t.Errorf("as root, data dir = %s, want it inside the project (the postgres user can enter %s)", want.DataDir, project)
	}
	t.Chdir(sub)
	if got := status(); got.DataDir != want.DataDir {
		t.Fatalf("in a subfolder: data dir = %s, want the project's %s", got.DataDir, want.DataDir)
	}
	if code, _, errOut := run(t, "local", "start"); code != 0 {
		t.Fatalf("local start in a subfolder: exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(want.DataDir, "PG_VERSION")); err != nil {
		t.Fatalf("no cluster at %s after start: %v", want.DataDir, err)
	}
	if _, err := os.Stat(filepath.Join(sub, ".splitschema")); err == nil {
		t.Errorf("local start made a second cluster in the subfolder")
	}
	if code, _, errOut := run(t, "local", "destroy"); code != 2 || !strings.Contains(errOut, "--yes") {
		t.Errorf("destroy without --yes: exit %d, stderr %s", code, errOut)
	}
	if _, err := os.Stat(want.DataDir); err != nil {
		t.Fatalf("destroy without --yes removed the data: %v", err)
	}
	if code, _, errOut := run(t, "local", "destroy", "--yes"); code != 0 {
		t.Fatalf("destroy --yes: exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(want.DataDir); !os.IsNotExist(err) {
		t.Errorf("data dir after destroy: %v, want it gone", err)
	}
	if st := status(); st.Initialized || st.Running {
		t.Errorf("status after destroy: %+v", st)
	}

	// A data folder splitschema did not make is left alone.
	if err := os.MkdirAll(want.DataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	precious := filepath.Join(want.DataDir, "precious")
	if err := os.WriteFile(precious, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := run(t, "local", "destroy", "--yes"); code != 1 || !strings.Contains(errOut, "does not look like a cluster splitschema made") {
		t.Errorf("destroy of a foreign folder: exit %d, stderr %s", code, errOut)
	}
	if _, err := os.Stat(precious); err != nil {
		t.Errorf("destroy removed a folder it did not make: %v", err)
	}
}

// TestServerBinDirFlag: --server-bindir (SPLITSCHEMA_SERVER_BINDIR) picks
// the embedded cluster's programs, and a folder without them is an error
// that names it, before anything is created.
func TestServerBinDirFlag(t *testing.T) {
	// The variable, as make test-matrix sets it, would stand in for a
	// --server-bindir given before the command (globalString reads the
	// command's own context first): this test is about the flag.
	t.Setenv("SPLITSCHEMA_SERVER_BINDIR", "")
	os.Unsetenv("SPLITSCHEMA_SERVER_BINDIR")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "splitschema.yaml"), []byte("database: shop\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // should the refusal fail, no server is left running
		if cl, err := localpg.New(dir, nil); err == nil {
			_ = cl.Destroy(context.Background())
		}
	})
	empty := t.TempDir()
	code, _, errOut := run(t, "--dir", dir, "--server-bindir", empty, "local", "start")
	if code != 1 || !strings.Contains(errOut, empty) || !strings.Contains(errOut, "no executable initdb, pg_ctl, postgres") {
		t.Errorf("local start with an empty --server-bindir: exit %d, %q", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, ".splitschema")); err == nil {
		t.Error("a failed start left .splitschema behind")
	}
	bins, err := localpg.FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	_, out, _ := run(t, "--dir", dir, "--json", "local", "status", "--server-bindir", bins.Dir)
	var st localpg.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("local status --json: %v\n%s", err, out)
	}
	if st.BinDir != bins.Dir || st.Version != bins.Version {
		t.Errorf("status with --server-bindir %s: bin dir %s, version %d", bins.Dir, st.BinDir, st.Version)
	}
}
