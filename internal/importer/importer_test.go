package importer_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/splitschema/splitschema/internal/importer"
	"github.com/splitschema/splitschema/internal/localpg"
	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/migrate"
	"github.com/splitschema/splitschema/internal/pgtest"
	"github.com/splitschema/splitschema/internal/pipeline"
	"github.com/splitschema/splitschema/internal/provision/provisiontest"
	"github.com/splitschema/splitschema/internal/target"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// apply runs the whole pipeline of p on srv.
func apply(t *testing.T, p *manifest.Project, srv *target.Server) {
	t.Helper()
	res, err := pipeline.Apply(provisiontest.Context(t), p, srv, migrate.Options{})
	if err != nil {
		if res != nil {
			t.Log(res.Human())
		}
		t.Fatalf("apply %s: %v", p.Dir, err)
	}
}

var restrictLine = regexp.MustCompile(`(?m)^\\(?:un)?restrict .*\n`)

// schemaDump is pg_dump --schema-only of srv's database without owners,
// grants, the toolkit's schema and the migration version tables.
func schemaDump(t *testing.T, srv *target.Server) string {
	t.Helper()
	b, err := localpg.FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(b.Dir, "pg_dump"), "--schema-only", "--no-owner", "--no-privileges",
		"--exclude-schema", "splitschema", "--exclude-table", "*.goose_db_version")
	cmd.Env = srv.ToolEnv(srv.Database)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("pg_dump: %v: %s", err, errb.String())
	}
	return restrictLine.ReplaceAllString(out.String(), "")
}

// roundTrip applies p to a database, imports that database into a new
// project, applies the new project to an empty database and compares the
// two schema dumps.
func roundTrip(t *testing.T, p *manifest.Project, prefix string, into map[string]string) *importer.Result {
	t.Helper()
	src := provisiontest.Server(t)
	apply(t, p, src)
	dir := filepath.Join(t.TempDir(), "imported")
	res, err := importer.Run(provisiontest.Context(t), src, importer.Options{Dir: dir, Into: into})
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	dst := provisiontest.Server(t)
	settings := filepath.Join(dir, manifest.SettingsFile)
	conf, err := os.ReadFile(settings)
	if err != nil {
		t.Fatal(err)
	}
	conf = []byte(strings.Replace(string(conf), "database: "+src.Database, "database: "+dst.Database, 1) + "naming:\n  prefix: " + prefix + "\n")
	provisiontest.Write(t, settings, string(conf))
	imported := provisiontest.Load(t, dir)
	apply(t, imported, dst)
	want := schemaDump(t, src)
	if got := schemaDump(t, dst); got != want {
		t.Errorf("the imported project's schema differs from the source's:\n--- source\n%s\n--- imported\n%s", want, got)
	}
	// The comparison sees a difference when there is one.
	if _, err := provisiontest.Connect(t, dst).Exec(provisiontest.Context(t), "CREATE TABLE "+imported.OrderedServices()[0].Schema+".extra (i int)"); err != nil {
		t.Fatal(err)
	}
	if schemaDump(t, dst) == want {
		t.Error("the dumps compare equal after a table was added")
	}
	return res
}

func TestImportRoundTripShop(t *testing.T) {
	t.Parallel()
	p := provisiontest.Shop(t, "im1_")
	if err := os.CopyFS(p.Path("migrations"), os.DirFS(filepath.Join(provisiontest.RepoRoot(t), "migrations"))); err != nil {
		t.Fatal(err)
	}
	res := roundTrip(t, p, "im2_", nil)
	if len(res.Notes) != 0 {
		t.Errorf("notes on the shop, want none:\n%s", res.Human())
	}
	data, err := os.ReadFile(filepath.Join(res.Dir, "schemas", "orders.yaml"))
	if err != nil || !strings.Contains(string(data), `"customers.customer(id)"`) || !strings.Contains(string(data), `"catalog.product(id)"`) {
		t.Errorf("orders.yaml does not link customers and catalog (%v):\n%s", err, data)
	}
}

func TestImportRoundTripRealshop(t *testing.T) {
	t.Parallel()
	p := provisiontest.Realshop(t, "im3_")
	// pe is the second schema of service person, as the project has it.
	res := roundTrip(t, p, "im4_", map[string]string{"pe": "person"})
	text := res.Human()
	for _, want := range []string{"common (shared)", "person (schemas person, pe): 0 links, 0 soft links, 0 reads, 1 uses"} {
		if !strings.Contains(text, want) {
			t.Errorf("import result does not say %q:\n%s", want, text)
		}
	}
	data, err := os.ReadFile(filepath.Join(res.Dir, "schemas", "person.yaml"))
	if err != nil || !strings.Contains(string(data), "schemas: [person, pe]") {
		t.Errorf("person.yaml does not give person both schemas (%v):\n%s", err, data)
	}
	if _, err := os.Stat(filepath.Join(res.Dir, "schemas", "pe.yaml")); err == nil {
		t.Error("pe.yaml written: pe is person's")
	}
}

// TestImportReportsWhatDoesNotFit: a foreign key cycle becomes a soft link
// (its constraint left out of the baseline), and a table in schema public,
// a schema whose name is no identifier and an extension outside schema
// extensions are each one line naming the file to edit.
func TestImportReportsWhatDoesNotFit(t *testing.T) {
	t.Parallel()
	src := provisiontest.Server(t)
	conn := provisiontest.Connect(t, src)
	if _, err := conn.Exec(provisiontest.Context(t), `
		CREATE EXTENSION citext SCHEMA public;
		CREATE TABLE public.stray (i int);
		CREATE SCHEMA "Odd-Name";
		CREATE SCHEMA a; CREATE SCHEMA b;
		CREATE TABLE a.t (id int PRIMARY KEY, u_id int);
		CREATE TABLE b.u (id int PRIMARY KEY, t_id int REFERENCES a.t (id));
		ALTER TABLE a.t ADD CONSTRAINT t_u_fk FOREIGN KEY (u_id) REFERENCES b.u (id);`); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "imported")
	res, err := importer.Run(provisiontest.Context(t), src, importer.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	text := res.Human()
	for _, want := range []string{
		"migrations/b/00001_baseline.sql: foreign key u_t_id_fkey of b.u closes a cycle of services: it is a soft link",
		"schemas: schema public holds 1 relations",
		`schemas: schema Odd-Name is not imported`,
		"splitschema.yaml: extension citext lives in schema public",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no note %q in:\n%s", want, text)
		}
	}
	read := func(rel string) string {
		data, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	if b := read("schemas/b.yaml"); !strings.Contains(b, `"u(t_id) -> a.t(id)"`) {
		t.Errorf("b.yaml lacks the soft link:\n%s", b)
	}
	if a := read("schemas/a.yaml"); !strings.Contains(a, `"b.u(id)"`) {
		t.Errorf("a.yaml lacks the link:\n%s", a)
	}
	if base := read("migrations/b/00001_baseline.sql"); strings.Contains(base, "u_t_id_fkey") || !strings.Contains(base, "CREATE TABLE b.u") {
		t.Errorf("b's baseline keeps the soft link's constraint or lacks its table:\n%s", base)
	}
	if base := read("migrations/a/00001_baseline.sql"); !strings.Contains(base, "t_u_fk") {
		t.Errorf("a's baseline lacks its link's constraint:\n%s", base)
	}
	if _, err := manifest.Load(dir); err != nil {
		t.Errorf("the imported project does not load: %v", err)
	}

	// a and b as one service of two schemas: their foreign keys are inside
	// it, so no cycle and no soft link; one baseline holds both.
	merged := filepath.Join(t.TempDir(), "merged")
	res2, err := importer.Run(provisiontest.Context(t), src, importer.Options{Dir: merged, Schemas: []string{"a", "b"}, Into: map[string]string{"b": "a"}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(res2.Human(), "cycle") || len(res2.Services) != 1 {
		t.Errorf("a and b as one service:\n%s", res2.Human())
	}
	if data, err := os.ReadFile(filepath.Join(merged, "schemas", "a.yaml")); err != nil || !strings.Contains(string(data), "schemas: [a, b]") || strings.Contains(string(data), "soft_links") {
		t.Errorf("a.yaml (%v):\n%s", err, data)
	}
	if data, err := os.ReadFile(filepath.Join(merged, "migrations", "a", "00001_baseline.sql")); err != nil ||
		!strings.Contains(string(data), "t_u_fk") || !strings.Contains(string(data), "u_t_id_fkey") || !strings.Contains(string(data), "CREATE TABLE b.u") {
		t.Errorf("a's baseline does not hold both schemas and both foreign keys (%v):\n%s", err, data)
	}
	for into, want := range map[string]string{"zz=a": "schema zz is not imported", "b=b": "in its own service", "a=b": "there is no service b"} {
		from, to, _ := strings.Cut(into, "=")
		o := importer.Options{Dir: filepath.Join(t.TempDir(), "x"), Schemas: []string{"a", "b"}, Into: map[string]string{from: to}}
		if into == "a=b" {
			o.Into["b"] = "a"
		}
		if _, err := importer.Run(provisiontest.Context(t), src, o); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("--into %s: err = %v, want %q", into, err, want)
		}
	}
	if _, err := importer.Run(provisiontest.Context(t), src, importer.Options{Dir: dir}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("a second import into the same folder: err = %v", err)
	}
}
