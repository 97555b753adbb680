package pitr

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/splitschema/splitschema/internal/backup/backuptest"
	"github.com/splitschema/splitschema/internal/localpg"
	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/migrate"
	"github.com/splitschema/splitschema/internal/pipeline"
	"github.com/splitschema/splitschema/internal/target"
)

// The tests share one embedded cluster with PITR enabled (enabling means a
// restart and a first full backup); each restore makes a cluster of its own.

var (
	envOnce sync.Once
	shared  *testEnv
	envErr  error
	tmpRoot string
)

type testEnv struct {
	setup *Setup
	shop  *backuptest.Shop
	dir   string // holds the server and the restores; the server user can reach it
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		shared.setup.Cluster.Destroy(ctx)
		cancel()
	}
	if tmpRoot != "" {
		stopRestores(tmpRoot)
		os.RemoveAll(tmpRoot)
	}
	os.Exit(code)
}

// needPgBackRest skips a test when pgbackrest is missing, except in CI,
// where the Makefile installs it and its absence is a failure.
func needPgBackRest(t *testing.T) {
	t.Helper()
	if _, err := LookPath(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and %v", err)
		}
		t.Skipf("skipped: %v (CI installs it)", err)
	}
}

// env returns the shared cluster with the example shop applied, seeded and
// PITR enabled.
func env(t *testing.T) *testEnv {
	t.Helper()
	needPgBackRest(t)
	envOnce.Do(func() { shared, envErr = newEnv(t) })
	if envErr != nil {
		t.Fatalf("test cluster: %v", envErr)
	}
	return shared
}

func newEnv(t *testing.T) (*testEnv, error) {
	dir, err := os.MkdirTemp("", "splitschema-pitr-")
	if err != nil {
		return nil, err
	}
	tmpRoot = dir
	if err := os.Chmod(dir, 0o711); err != nil {
		return nil, err
	}
	p := backuptest.CopyProject(t, "shop", "")
	// CopyProject's folder is the test's and goes with it: keep one of our own.
	proj := filepath.Join(dir, "project")
	if err := os.CopyFS(proj, os.DirFS(p.Dir)); err != nil {
		return nil, err
	}
	if p, err = manifest.Load(proj); err != nil {
		return nil, err
	}
	cl, err := localpg.New(proj, nil, localpg.WithRuntimeDir(filepath.Join(dir, "server")), localpg.Ephemeral())
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := cl.Start(ctx); err != nil {
		return nil, err
	}
	admin, err := cl.AdminURL()
	if err != nil {
		return nil, err
	}
	srv, err := target.FromURL(admin, p.Settings.Database)
	if err != nil {
		return nil, err
	}
	// The admin URL names the maintenance database: the project's is another.
	srv.Database = p.Settings.Database
	if _, err := pipeline.Apply(ctx, p, srv, migrate.Options{}); err != nil {
		return nil, fmt.Errorf("apply the shop: %w", err)
	}
	shop := &backuptest.Shop{Project: p, Server: srv, URL: srv.URL(srv.Database)}
	shop.Seed(t, 100)
	s, err := Open(ctx, p, cl)
	if err != nil {
		return nil, err
	}
	if _, err := s.Enable(ctx, EnableOptions{}); err != nil {
		return nil, err
	}
	return &testEnv{setup: s, shop: shop, dir: dir}, nil
}

// stopRestores stops every restored cluster left under root.
func stopRestores(root string) {
	matches, _ := filepath.Glob(filepath.Join(root, "restore-*"))
	for _, m := range matches {
		cl, err := localpg.New(filepath.Join(root, "project"), nil, localpg.WithRuntimeDir(m), localpg.WithStateDir(filepath.Join(m, "state")))
		if err != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cl.Stop(ctx)
		cancel()
	}
}

// restoreDir is a new folder name for a restore.
func (e *testEnv) restoreDir(t *testing.T) string {
	return filepath.Join(e.dir, "restore-"+filepath.Base(t.Name())+fmt.Sprint(time.Now().UnixNano()))
}
