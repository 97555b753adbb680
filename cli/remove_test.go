package cli

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/pgtest"
)

// TestServiceRemove: service remove plans first (the SQL, the rows, the
// files) and changes nothing; it refuses a service another one links to;
// with --yes it drops the schema and the roles in one transaction and
// deletes the files.
func TestServiceRemove(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shop")
	for _, f := range []string{"schemas", "migrations", "queries"} {
		copyTree(t, filepath.Join(repoRoot(t), f), filepath.Join(dir, f))
	}
	if err := os.WriteFile(filepath.Join(dir, "splitschema.yaml"), []byte("database: rmshop\nnaming:\n  prefix: rm_\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(pgtest.Server(t).URL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/rmshop"
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, pgtest.Server(t).URL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	t.Cleanup(func() { _, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS rmshop WITH (FORCE)") })
	expect := func(want int, args ...string) (string, string) {
		t.Helper()
		code, out, errOut := run(t, append([]string{"--dir", dir, "--database-url", u.String()}, args...)...)
		if code != want {
			t.Fatalf("%v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, code, want, out, errOut)
		}
		return out, errOut
	}
	expect(0, "apply")
	state := func() (schema bool, roles int, file bool) {
		t.Helper()
		u.Path = "/rmshop"
		conn, err := pgx.Connect(ctx, u.String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = 'shipping'), (SELECT count(*) FROM pg_roles WHERE rolname LIKE 'rm\\_shipping\\_%')").Scan(&schema, &roles); err != nil {
			t.Fatal(err)
		}
		_, err = os.Stat(filepath.Join(dir, "schemas", "shipping.yaml"))
		return schema, roles, err == nil
	}

	if _, errOut := expect(1, "service", "remove", "customers"); !strings.Contains(errOut, "linked to by orders, shipping") {
		t.Errorf("removing a linked-to service: stderr %s", errOut)
	}
	out, _ := expect(0, "service", "remove", "shipping")
	for _, want := range []string{`DROP SCHEMA "shipping" CASCADE`, `DROP ROLE "rm_shipping_app"`, `DROP ROLE "rm_shipping_migrator"`, "DELETE FROM splitschema.service WHERE schema_name = 'shipping'", "to delete ", "/schemas/shipping.yaml", "/migrations/shipping", "rows", "nothing was changed"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan does not say %q:\n%s", want, out)
		}
	}
	if schema, roles, file := state(); !schema || roles != 3 || !file {
		t.Fatalf("the plan changed something: schema %v, roles %d, file %v", schema, roles, file)
	}
	expect(0, "service", "remove", "shipping", "--yes")
	if schema, roles, file := state(); schema || roles != 0 || file {
		t.Errorf("after --yes: schema %v, roles %d, file %v; want all gone", schema, roles, file)
	}
	if _, err := os.Stat(filepath.Join(dir, "migrations", "shipping")); !os.IsNotExist(err) {
		t.Errorf("migrations/shipping after remove: %v", err)
	}
	expect(0, "validate")
	if out, _ := expect(0, "plan"); strings.Contains(out, "shipping") {
		t.Errorf("plan after remove still mentions shipping:\n%s", out)
	}
}
