// Package provisiontest sets up the example shop for tests on a real
// cluster (internal/pgtest): a project folder with its own role prefix, a
// provisioned database, and the shop's migrations run as each owner role.
package provisiontest

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/pgtest"
	"github.com/splitschema/splitschema/internal/provision"
	"github.com/splitschema/splitschema/internal/target"
)

// RepoRoot is the repository, which holds the example shop.
func RepoRoot(tb testing.TB) string {
	tb.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		tb.Fatal("provisiontest: cannot locate the repository")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// Shop copies the example shop's service files into a new project folder
// whose roles carry prefix (role names are cluster-wide: each test uses its
// own prefix), and loads it.
func Shop(tb testing.TB, prefix string) *manifest.Project {
	tb.Helper()
	dir := tb.TempDir()
	if err := os.Mkdir(filepath.Join(dir, manifest.SchemasDir), 0o755); err != nil {
		tb.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(RepoRoot(tb), manifest.SchemasDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("provisiontest: no shop service files: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		Write(tb, filepath.Join(dir, manifest.SchemasDir, filepath.Base(f)), string(data))
	}
	Write(tb, filepath.Join(dir, manifest.SettingsFile), "database: shop\nnaming:\n  prefix: "+prefix+"\n")
	return Load(tb, dir)
}

// Load loads the project in dir.
func Load(tb testing.TB, dir string) *manifest.Project {
	tb.Helper()
	p, err := manifest.Load(dir)
	if err != nil {
		tb.Fatalf("load project: %v", err)
	}
	return p
}

// Write writes a file.
func Write(tb testing.TB, path, content string) {
	tb.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// Server gives a test its own empty database on the test cluster.
func Server(tb testing.TB) *target.Server {
	tb.Helper()
	srv, err := target.FromURL(pgtest.NewDatabase(tb), "")
	if err != nil {
		tb.Fatal(err)
	}
	return srv
}

// Context is a context that ends with the test.
func Context(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	tb.Cleanup(cancel)
	return ctx
}

// Connect opens an admin connection to the project database, closed at the
// end of the test.
func Connect(tb testing.TB, srv *target.Server) *pgx.Conn {
	tb.Helper()
	conn, err := srv.Connect(Context(tb), srv.Database)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// Migrate runs the Up part of every example-shop migration of each service,
// in dependency order, as the service's owner role (admin + SET ROLE, as
// the migration pipeline does), then grants the links to it
// (provision.GrantLinks). It stands in for internal/migrate.
func Migrate(tb testing.TB, p *manifest.Project, srv *target.Server) {
	tb.Helper()
	MigrateFrom(tb, p, srv, filepath.Join(RepoRoot(tb), "migrations"))
}

// MigrateFrom is Migrate with the migrations of the folder dir, each
// service's run with its search_path (manifest.Project.SearchPath).
func MigrateFrom(tb testing.TB, p *manifest.Project, srv *target.Server, dir string) {
	tb.Helper()
	ctx := Context(tb)
	conn := Connect(tb, srv)
	for _, svc := range p.OrderedServices() {
		files, _ := filepath.Glob(filepath.Join(dir, svc.Name, "*.sql"))
		sort.Strings(files)
		if _, err := conn.Exec(ctx, "SET ROLE "+pgx.Identifier{p.OwnerRole(svc.Name)}.Sanitize()+"; SET search_path = "+provision.SearchPathSetting(p.SearchPath(svc))); err != nil {
			tb.Fatal(err)
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				tb.Fatal(err)
			}
			up, _, _ := strings.Cut(string(data), "-- +goose Down")
			if _, err := conn.Exec(ctx, up); err != nil {
				tb.Fatalf("migrate %s: %v", f, err)
			}
		}
		if _, err := conn.Exec(ctx, "RESET ROLE; RESET search_path"); err != nil {
			tb.Fatal(err)
		}
		if err := provision.GrantLinks(ctx, conn, p, svc.Name); err != nil {
			tb.Fatalf("grant links of %s: %v", svc.Name, err)
		}
	}
}

// Provisioned is the shop, provisioned and migrated on a database of its own.
func Provisioned(tb testing.TB, prefix string) (*manifest.Project, *target.Server) {
	tb.Helper()
	p, srv := Shop(tb, prefix), Server(tb)
	if _, err := provision.Apply(Context(tb), p, srv, nil); err != nil {
		tb.Fatalf("provision: %v", err)
	}
	Migrate(tb, p, srv)
	return p, srv
}

// Realshop copies examples/realshop (extensions, a shared library, reads, a
// soft link, two schemas in a service) into a new project folder whose
// roles carry prefix, and loads it.
func Realshop(tb testing.TB, prefix string) *manifest.Project {
	tb.Helper()
	dir := tb.TempDir()
	src := filepath.Join(RepoRoot(tb), "examples", "realshop")
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		tb.Fatal(err)
	}
	conf, err := os.ReadFile(filepath.Join(dir, manifest.SettingsFile))
	if err != nil {
		tb.Fatal(err)
	}
	Write(tb, filepath.Join(dir, manifest.SettingsFile), strings.TrimRight(string(conf), "\n")+"\nnaming:\n  prefix: "+prefix+"\n")
	return Load(tb, dir)
}

// RealshopProvisioned is Realshop, provisioned and migrated on a database of its own.
func RealshopProvisioned(tb testing.TB, prefix string) (*manifest.Project, *target.Server) {
	tb.Helper()
	p, srv := Realshop(tb, prefix), Server(tb)
	if _, err := provision.ApplyWith(Context(tb), p, srv, nil, provision.Options{DeferLinks: true}); err != nil {
		tb.Fatalf("provision: %v", err)
	}
	MigrateFrom(tb, p, srv, p.Path("migrations"))
	return p, srv
}
