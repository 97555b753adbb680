package migrate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema"
	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/pgtest"
	"github.com/splitschema/splitschema/internal/provision"
	"github.com/splitschema/splitschema/internal/target"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var prefixSeq atomic.Int64

// copyShop copies the example shop's settings, service files and
// migrations into a temp folder, with a role prefix of its own (roles are
// cluster-wide and this package's tests share one cluster) and the given
// extra settings lines. It returns the folder.
func copyShop(tb testing.TB, settings ...string) string {
	tb.Helper()
	dir := tb.TempDir()
	if err := os.CopyFS(dir, splitschema.ExampleShop); err != nil {
		tb.Fatal(err)
	}
	prefix := fmt.Sprintf("m%02d_", prefixSeq.Add(1))
	conf := "database: shop\nnaming:\n  prefix: " + prefix + "\n" + strings.Join(settings, "\n") + "\n"
	mustWrite(tb, dir, manifest.SettingsFile, conf)
	return dir
}

func mustWrite(tb testing.TB, dir, rel, content string) {
	tb.Helper()
	path := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
}

func mustLoad(tb testing.TB, dir string) *manifest.Project {
	tb.Helper()
	p, err := manifest.Load(dir)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// newServer gives the test a fresh database of its own.
func newServer(tb testing.TB) *target.Server {
	tb.Helper()
	srv, err := target.FromURL(pgtest.NewDatabase(tb), "")
	if err != nil {
		tb.Fatal(err)
	}
	return srv
}

func mustConnect(tb testing.TB, srv *target.Server) *pgx.Conn {
	tb.Helper()
	conn, err := srv.Connect(context.Background(), srv.Database)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func mustExec(tb testing.TB, conn *pgx.Conn, sql string, args ...any) {
	tb.Helper()
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}

// provisionShop provisions the project on srv, as apply does before it migrates.
func provisionShop(tb testing.TB, srv *target.Server, p *manifest.Project) {
	tb.Helper()
	if _, err := provision.ApplyWith(context.Background(), p, srv, nil, provision.Options{DeferLinks: true}); err != nil {
		tb.Fatalf("provision: %v", err)
	}
}

// shop is a provisioned copy of the example shop on a database of its own.
type shop struct {
	dir string
	p   *manifest.Project
	srv *target.Server
}

func newShop(tb testing.TB, settings ...string) *shop {
	tb.Helper()
	dir := copyShop(tb, settings...)
	s := &shop{dir: dir, p: mustLoad(tb, dir), srv: newServer(tb)}
	provisionShop(tb, s.srv, s.p)
	return s
}

func (s *shop) opts(service string) Options {
	return Options{Service: service}
}

// reload re-reads the project after a test changed its files.
func (s *shop) reload(tb testing.TB) {
	tb.Helper()
	s.p = mustLoad(tb, s.dir)
}

func (s *shop) up(tb testing.TB) *Result {
	tb.Helper()
	res, err := Up(context.Background(), s.p, s.srv, s.opts(""))
	if err != nil {
		tb.Fatalf("up: %v", err)
	}
	return res
}

func (s *shop) versions(tb testing.TB) map[string]int64 {
	tb.Helper()
	st, err := Status(context.Background(), s.p, s.srv, "")
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]int64{}
	for _, svc := range st.Services {
		out[svc.Service] = svc.Current
	}
	return out
}

func tableExists(tb testing.TB, conn *pgx.Conn, name string) bool {
	tb.Helper()
	var ok bool
	if err := conn.QueryRow(context.Background(), "SELECT to_regclass($1) IS NOT NULL", name).Scan(&ok); err != nil {
		tb.Fatal(err)
	}
	return ok
}

// syncBuffer is a strings.Builder a logger may write to while a test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
