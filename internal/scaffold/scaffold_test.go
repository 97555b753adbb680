package scaffold

import (
	"context"
	"errors"
	"flag"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/migrate"
	"github.com/splitschema/splitschema/internal/pgtest"
	"github.com/splitschema/splitschema/internal/pipeline"
	"github.com/splitschema/splitschema/internal/target"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func TestMain(m *testing.M) { pgtest.Main(m) }

// snapshot reads every file under dir, by slash path.
func snapshot(tb testing.TB, dir string) map[string]string {
	tb.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		data, err := os.ReadFile(path)
		out[filepath.ToSlash(rel)] = string(data)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// golden compares every file of dir with testdata/<name>/<path>.golden.
func golden(t *testing.T, name, dir string) {
	t.Helper()
	files := snapshot(t, dir)
	gdir := filepath.Join("testdata", name)
	if *update {
		os.RemoveAll(gdir)
		for rel, content := range files {
			path := filepath.Join(gdir, filepath.FromSlash(rel)+".golden")
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	want := map[string]string{}
	for rel, content := range snapshot(t, gdir) {
		want[strings.TrimSuffix(rel, ".golden")] = content
	}
	for rel, content := range files {
		w, ok := want[rel]
		switch {
		case !ok:
			t.Errorf("%s: unexpected file (run go test -update to accept)", rel)
		case w != content:
			t.Errorf("%s differs from its golden file (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", rel, content, w)
		}
	}
	for rel := range want {
		if _, ok := files[rel]; !ok {
			t.Errorf("%s: missing", rel)
		}
	}
}

// newProject inits a project in a folder named shop.
func newProject(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "shop")
	r, err := Init(dir, InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Files) != 7 {
		t.Errorf("init wrote %v", r.Files)
	}
	return dir
}

func TestInitAndAddServiceGolden(t *testing.T) {
	dir := newProject(t)
	golden(t, "init", dir)
	if _, err := AddService(dir, ServiceOptions{Name: "customers", Description: "Customer accounts: who buys."}); err != nil {
		t.Fatal(err)
	}
	r, err := AddService(dir, ServiceOptions{Name: "orders", Links: []string{"customers.customers(id)"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Notes) != 0 {
		t.Errorf("notes: %v", r.Notes)
	}
	// A link whose column type is not bigint, and one to a table no
	// migration creates (yet).
	// A link to a table no migration creates is refused (a typo, most of
	// the time) and nothing is written; --defer-links accepts it.
	before := snapshot(t, dir)
	items := ServiceOptions{Name: "ship_items", Schema: "shipping", Links: []string{"orders.orders(created_at)", "customers.address(id)"}}
	_, err = AddService(dir, items)
	var merr *manifest.Error
	if !errors.As(err, &merr) || !strings.Contains(err.Error(), "link customers.address(id): the migrations of customers create no table address") ||
		!strings.Contains(err.Error(), "--defer-links") {
		t.Fatalf("link to an unknown table: err = %v, want a refusal", err)
	}
	if after := snapshot(t, dir); len(after) != len(before) {
		t.Errorf("a refused service add wrote %d files", len(after)-len(before))
	}
	_, err = AddService(dir, ServiceOptions{Name: "ship_items", Links: []string{"customers.customers(acount)"}})
	if err == nil || !strings.Contains(err.Error(), "has no column acount") {
		t.Errorf("link to an unknown column: err = %v, want a refusal", err)
	}
	items.DeferLinks = true
	r, err = AddService(dir, items)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "create no table address") {
		t.Errorf("notes: %v", r.Notes)
	}
	golden(t, "services", dir)
	p, err := manifest.Load(dir)
	if err != nil {
		t.Fatalf("the scaffolded project does not load: %v", err)
	}
	if strings.Join(p.Order, ",") != "customers,orders,ship_items" {
		t.Errorf("order = %v", p.Order)
	}
}

func TestInitNeverOverwrites(t *testing.T) {
	dir := newProject(t)
	before := snapshot(t, dir)
	_, err := Init(dir, InitOptions{Database: "other"})
	var ee *ExistsError
	if !errors.As(err, &ee) || !strings.Contains(err.Error(), "splitschema.yaml") || !strings.Contains(err.Error(), "nothing was written") {
		t.Fatalf("second init: err = %v", err)
	}
	if len(ee.Paths) != 6 {
		t.Errorf("exists error names %v, want the 6 files init creates (.gitignore is appended to)", ee.Paths)
	}
	if after := snapshot(t, dir); len(after) != len(before) || after["splitschema.yaml"] != before["splitschema.yaml"] {
		t.Error("a failed init changed files")
	}

	// An existing .gitignore gets the missing lines, once.
	dir2 := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir2, ".gitignore"), []byte("/bin\n.splitschema/"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := Init(dir2, InitOptions{Database: "app"})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir2, ".gitignore"))
	if string(got) != "/bin\n.splitschema/\n# splitschema\n/backups/\n" {
		t.Errorf(".gitignore = %q", got)
	}
	if fi, _ := os.Stat(filepath.Join(dir2, ".gitignore")); fi.Mode().Perm() != 0o600 {
		t.Errorf(".gitignore mode = %v, want its own 0600", fi.Mode().Perm())
	}
	if !strings.Contains(r.Human(), "updated "+filepath.ToSlash(dir2)+"/.gitignore") {
		t.Errorf("human: %s", r.Human())
	}

	if _, err := Init(t.TempDir(), InitOptions{Database: "Bad-Name"}); err == nil || !strings.Contains(err.Error(), "not a valid identifier") {
		t.Errorf("bad database: err = %v", err)
	}
}

func TestDatabaseFromDir(t *testing.T) {
	for dir, want := range map[string]string{
		"/x/My Shop":   "my_shop",
		"/x/2024-shop": "db_2024_shop",
		"/x/--":        "app",
		"/x/order":     "app", // a reserved word
		"/x/public":    "app",
	} {
		if got := databaseFromDir(dir); got != want {
			t.Errorf("databaseFromDir(%q) = %q, want %q", dir, got, want)
		}
	}
}

func TestAddServiceRefuses(t *testing.T) {
	dir := newProject(t)
	if _, err := AddService(dir, ServiceOptions{Name: "customers"}); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)
	cases := map[string]struct {
		o    ServiceOptions
		want string
	}{
		"invalid name":    {ServiceOptions{Name: "Orders"}, "not a valid identifier"},
		"reserved":        {ServiceOptions{Name: "pg_orders"}, "reserved"},
		"keyword":         {ServiceOptions{Name: "select"}, "reserved word"},
		"too long":        {ServiceOptions{Name: strings.Repeat("a", 60)}, "63 bytes"},
		"bad schema":      {ServiceOptions{Name: "orders", Schema: "public"}, "reserved"},
		"bad link":        {ServiceOptions{Name: "orders", Links: []string{"customers.customers"}}, "want service.table(column, ...)"},
		"unknown service": {ServiceOptions{Name: "orders", Links: []string{"billing.invoice(id)"}}, `no service "billing"`},
		"self link":       {ServiceOptions{Name: "orders", Links: []string{"orders.orders(id)"}}, "itself"},
		"exists":          {ServiceOptions{Name: "customers"}, "schemas/customers.yaml already exists"},
		"schema taken":    {ServiceOptions{Name: "clients", Schema: "customers"}, `schema "customers" is already the schema of service`},
	}
	for name, tc := range cases {
		_, err := AddService(dir, tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
		}
	}
	// Migrations already there would clash with 00001_init.sql.
	if err := os.MkdirAll(filepath.Join(dir, "migrations", "orders"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "migrations", "orders", "00001_x.sql"), []byte("-- +goose Up\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := AddService(dir, ServiceOptions{Name: "orders"}); err == nil || !strings.Contains(err.Error(), "migrations/orders/00001_x.sql already exists") {
		t.Errorf("existing migrations: err = %v", err)
	}
	os.RemoveAll(filepath.Join(dir, "migrations", "orders"))
	if after := snapshot(t, dir); len(after) != len(before) || after["sqlc.yaml"] != before["sqlc.yaml"] {
		t.Error("a refused service add changed files")
	}

	if _, err := AddService(t.TempDir(), ServiceOptions{Name: "orders"}); err == nil || !strings.Contains(err.Error(), "splitschema init") {
		t.Errorf("no project: err = %v", err)
	}
}

func TestAppendSqlcPackage(t *testing.T) {
	entry := "  - engine: postgresql\n    queries: queries/orders\n    gen:\n      go:\n        out: gen/orders\n"
	cases := map[string]struct{ in, want string }{
		"flow empty": {"version: \"2\"\nsql: [] # none yet\n", "version: \"2\"\nsql: # none yet\n" + entry},
		"null":       {"version: \"2\"\nsql:\n", "version: \"2\"\nsql:\n" + entry},
		"block, two spaces": {"version: \"2\"\nsql:\n  - engine: postgresql\n    queries: queries/a\n",
			"version: \"2\"\nsql:\n  - engine: postgresql\n    queries: queries/a\n\n" + entry},
		"block, no indent": {"version: \"2\"\nsql:\n- engine: postgresql\n  queries: queries/a\n",
			"version: \"2\"\nsql:\n- engine: postgresql\n  queries: queries/a\n\n" + reindent(entry, -2)},
		"sql not last": {"sql:\n  - queries: queries/a # first\nversion: \"2\"\n",
			"sql:\n  - queries: queries/a # first\n  - engine: postgresql\n    queries: queries/orders\n    gen:\n      go:\n        out: gen/orders\nversion: \"2\"\n"},
	}
	for name, tc := range cases {
		got, err := appendSqlcPackage([]byte(tc.in), entry, "orders")
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if string(got) != tc.want {
			t.Errorf("%s:\n--- got\n%s--- want\n%s", name, got, tc.want)
		}
	}
	for in, want := range map[string]string{
		"version: \"2\"\nsql:\n  - queries: queries/orders/\n":     "already has a package for orders",
		"version: \"2\"\nsql:\n  - gen: {go: {out: gen/orders}}\n": "already has a package writing to gen/orders",
		"version: \"2\"\nsql: 3\n":                                 "sql is not a list",
		"version: \"2\"\n":                                         "no sql list",
		"- a\n":                                                    "want a mapping",
	} {
		if _, err := appendSqlcPackage([]byte(in), entry, "orders"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", in, err, want)
		}
	}
}

// TestScaffoldedProjectWorks: init, service add with links, then apply on
// a real server, and sqlc generates the scaffolded queries.
func TestScaffoldedProjectWorks(t *testing.T) {
	dir := newProject(t)
	for _, o := range []ServiceOptions{
		{Name: "customers"},
		{Name: "orders", Links: []string{"customers.customers(id)"}},
		{Name: "payments", Links: []string{"orders.orders(id)", "customers.customers(id)"}},
	} {
		if _, err := AddService(dir, o); err != nil {
			t.Fatal(err)
		}
	}
	// Roles are cluster-wide: keep this project's apart.
	settings := filepath.Join(dir, manifest.SettingsFile)
	data, _ := os.ReadFile(settings)
	if err := os.WriteFile(settings, []byte(strings.Replace(string(data), `prefix: ""`, "prefix: scaf_", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := manifest.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := target.FromURL(pgtest.NewDatabase(t), "")
	if err != nil {
		t.Fatal(err)
	}
	res, err := pipeline.Apply(context.Background(), p, srv, migrate.Options{})
	if err != nil {
		t.Fatalf("apply: %v\n%v", err, res)
	}
	if !res.OK || res.Migrate.Service("payments").To != 1 {
		t.Errorf("apply:\n%s", res.Human())
	}

	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go toolchain to run sqlc with")
	}
	abs, _ := filepath.Abs(filepath.Join(dir, "sqlc.yaml"))
	cmd := exec.Command(goBin, "tool", "sqlc", "generate", "-f", abs)
	cmd.Dir = "../.." // the module that has sqlc as a tool
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sqlc generate on the scaffolded project: %v\n%s", err, out)
	}
	for _, f := range []string{"gen/customers/models.go", "gen/orders/orders.sql.go", "gen/payments/db.go"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("sqlc did not write %s", f)
		}
	}
	models, _ := os.ReadFile(filepath.Join(dir, "gen/orders/models.go"))
	if !strings.Contains(string(models), "type Order struct") {
		t.Errorf("the rename did not apply:\n%s", models)
	}
}
