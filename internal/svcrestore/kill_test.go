package svcrestore

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/splitschema/splitschema/internal/backup/backuptest"
	"github.com/splitschema/splitschema/internal/pgtest"
)

// cliCommand is the splitschema command run as a process of its own (the
// test binary, see TestMain), on the shop's project and database.
func cliCommand(t *testing.T, shop *backuptest.Shop, args ...string) *exec.Cmd {
	t.Helper()
	all := append([]string{"--dir", shop.Project.Dir, "--database-url", shop.URL}, args...)
	cmd := exec.Command(os.Args[0], all...)
	cmd.Env = append(os.Environ(), "SPLITSCHEMA_SVCRESTORE_TEST_CLI=1")
	return cmd
}

// slowPgRestore is a folder holding a pg_restore that passes the first
// lines of a script through, then waits until the file it returns
// exists.
func slowPgRestore(t *testing.T) (dir, release string) {
	t.Helper()
	dir = t.TempDir()
	release = filepath.Join(dir, "release")
	real := filepath.Join(pgtest.Server(t).Binaries.Dir, "pg_restore")
	script := `#!/bin/sh
for a in "$@"; do
  if [ "$a" = "--file=-" ]; then
    "` + real + `" "$@" | { head -n 40; i=0; while [ ! -e "` + release + `" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; cat; }
    exit 0
  fi
done
exec "` + real + `" "$@"
`
	if err := os.WriteFile(filepath.Join(dir, "pg_restore"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.WriteFile(release, nil, 0o600) })
	return dir, release
}

// waitSession waits until the restore's session shows in pg_stat_activity
// with the condition cond.
func waitSession(t *testing.T, url, cond string) {
	t.Helper()
	for range 1500 {
		if queryInt(t, url, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND "+cond, ApplicationName) > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no restore session with %s within 15s", cond)
}

// The command killed (SIGKILL, no cleanup of its own) while it streams the
// backup's rows, or while it waits for the tables' locks in its merge
// transaction, leaves the live data as it was and no staging table; the
// next run is not hindered and restores.
func TestRestoreKilled(t *testing.T) {
	t.Parallel()
	shop := backuptest.New(t)
	b := mustBackup(t, shop)
	want := digest(t, shop.URL, "payments")
	damagePayments(t, shop)
	before := digest(t, shop.URL, shopSchemas...)

	bin, release := slowPgRestore(t)
	cmd := cliCommand(t, shop, "restore", b.ID, "--service", "payments", "--in-place", "--pg-bindir", bin)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitSession(t, shop.URL, "query LIKE 'COPY %' AND state = 'active'")
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	waitNoRestoreSession(t, shop.URL)
	os.WriteFile(release, nil, 0o600)
	sameDigest(t, "after a restore killed while loading", digest(t, shop.URL, shopSchemas...), before)
	if n := stagingLeft(t, shop.URL); n != 0 {
		t.Errorf("killed while loading: %d staging tables left", n)
	}

	// Killed inside the merge transaction, waiting for a lock that a
	// writer of payments holds.
	ctx := testCtx(t)
	holder := connect(t, shop.URL)
	tx, err := holder.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE payments.payment IN ROW EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	cmd = cliCommand(t, shop, "restore", b.ID, "--service", "payments", "--in-place")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitSession(t, shop.URL, "wait_event_type = 'Lock'")
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if err := tx.Rollback(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitNoRestoreSession(t, shop.URL)
	sameDigest(t, "after a restore killed in its merge transaction", digest(t, shop.URL, shopSchemas...), before)

	// A dry run reports, as JSON, and changes nothing; then the restore.
	var out, errOut bytes.Buffer
	cmd = cliCommand(t, shop, "restore", b.ID, "--service", "payments", "--dry-run", "--json")
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("dry run: %v\n%s", err, errOut.String())
	}
	var res Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("dry run --json: %v\n%s", err, out.String())
	}
	if !res.OK || res.Applied || !res.DryRun || len(res.Tables) == 0 {
		t.Errorf("dry run result %+v", res)
	}
	sameDigest(t, "after a dry run", digest(t, shop.URL, shopSchemas...), before)
	out.Reset()
	errOut.Reset()
	cmd = cliCommand(t, shop, "restore", b.ID, "--service", "payments", "--in-place")
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("restore after the killed ones: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	t.Logf("\n%s", out.String())
	sameDigest(t, "payments after the restore", digest(t, shop.URL, "payments"), want)
}
