package pipeline_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/splitschema/splitschema"
	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/migrate"
	"github.com/splitschema/splitschema/internal/pgtest"
	"github.com/splitschema/splitschema/internal/pipeline"
	"github.com/splitschema/splitschema/internal/provision/provisiontest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// exampleShop copies the example shop, migrations included, into a temp
// folder with a role prefix of its own.
func exampleShop(tb testing.TB, prefix string) *manifest.Project {
	tb.Helper()
	dir := tb.TempDir()
	if err := os.CopyFS(dir, splitschema.ExampleShop); err != nil {
		tb.Fatal(err)
	}
	provisiontest.Write(tb, filepath.Join(dir, manifest.SettingsFile), "database: shop\nnaming:\n  prefix: "+prefix+"\n")
	return provisiontest.Load(tb, dir)
}

// TestApply: the first apply provisions, migrates and audits the example
// shop; the second changes nothing and says so.
func TestApply(t *testing.T) {
	p := exampleShop(t, "pl1_")
	srv := provisiontest.Server(t)
	ctx := context.Background()
	res, err := pipeline.Apply(ctx, p, srv, migrate.Options{})
	if err != nil {
		t.Fatalf("first apply: %v\n%v", err, res)
	}
	if !res.OK || !res.Changed || len(res.Provision.Changes) == 0 || !res.Migrate.Changed {
		t.Errorf("first apply: %s", res.Human())
	}
	st, err := migrate.Status(ctx, p, srv, "")
	if err != nil {
		t.Fatal(err)
	}
	if st.HasPending() {
		t.Errorf("pending after apply:\n%s", st.Human())
	}
	again, err := pipeline.Apply(ctx, p, srv, migrate.Options{})
	if err != nil {
		t.Fatalf("second apply: %v", err)
	}
	t.Logf("first apply:\n%s\nsecond apply:\n%s", res.Human(), again.Human())
	if again.Changed || len(again.Provision.Changes) != 0 || again.Migrate.Changed {
		t.Errorf("second apply changed something:\n%s", again.Human())
	}
	if h := again.Human(); !strings.Contains(h, "nothing changed") {
		t.Errorf("second apply does not say nothing changed:\n%s", h)
	}
	if again.Audit == nil || len(again.Audit.Findings) > 0 {
		t.Errorf("the audit after apply is not clean: %+v", again.Audit)
	}
	// The foreign keys of the links exist, so the grants came in time.
	conn := provisiontest.Connect(t, srv)
	var fks int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND connamespace <> (SELECT relnamespace FROM pg_class WHERE oid = confrelid)`).Scan(&fks); err != nil {
		t.Fatal(err)
	}
	if fks != 5 {
		t.Errorf("%d cross-schema foreign keys, want 5", fks)
	}
	// The migration history is the owner's: the application role may read
	// its version table, not rewrite it.
	for _, c := range []struct{ privilege string }{{"SELECT"}, {"INSERT"}, {"UPDATE"}, {"DELETE"}, {"TRUNCATE"}} {
		var has bool
		if err := conn.QueryRow(ctx, "SELECT has_table_privilege($1, 'orders.goose_db_version', $2)", p.AppRole("orders"), c.privilege).Scan(&has); err != nil {
			t.Fatal(err)
		}
		if has != (c.privilege == "SELECT") {
			t.Errorf("%s holds %s on orders.goose_db_version: %v", p.AppRole("orders"), c.privilege, has)
		}
	}
}

// TestApplyRealshop: the realistic example goes through the pipeline.
func TestApplyRealshop(t *testing.T) {
	p := provisiontest.Realshop(t, "pl2_")
	srv := provisiontest.Server(t)
	res, err := pipeline.Apply(provisiontest.Context(t), p, srv, migrate.Options{})
	if err != nil {
		if res != nil {
			t.Log(res.Human())
		}
		t.Fatalf("apply: %v", err)
	}
	if !res.OK {
		t.Fatalf("apply not OK:\n%s", res.Human())
	}
}
