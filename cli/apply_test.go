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

// TestApplyBadLinkChangesNothing: a typo in one service's link (a column
// that neither exists nor is created by the migrations) makes apply exit 1
// with a message naming the file and the link, before any change: no
// database, no role. Once fixed, the same project applies.
func TestApplyBadLinkChangesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shop")
	for _, f := range []string{"schemas", "migrations"} {
		copyTree(t, filepath.Join(repoRoot(t), f), filepath.Join(dir, f))
	}
	write := func(rel, s string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, rel), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("splitschema.yaml", "database: badlink\nnaming:\n  prefix: bl_\n")
	u, err := url.Parse(pgtest.Server(t).URL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/badlink"
	dbURL := u.String()
	t.Cleanup(func() {
		if conn, err := pgx.Connect(context.Background(), pgtest.Server(t).URL); err == nil {
			defer conn.Close(context.Background())
			_, _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS badlink WITH (FORCE)")
		}
	})

	for link, why := range map[string]string{"customers.customer(acount)": "no column acount", "customers.acount(id)": "its migrations create none"} {
		write("schemas/orders.yaml", "name: orders\nlinks:\n  - "+link+"\n  - catalog.product(id)\n")
		code, out, errOut := run(t, "--dir", dir, "--database-url", dbURL, "apply")
		if code != 1 {
			t.Fatalf("apply with link %s: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", link, code, out, errOut)
		}
		for _, want := range []string{"schemas/orders.yaml", "link " + link, why, "nothing was changed"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("stderr does not say %q:\n%s", want, errOut)
			}
		}
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, pgtest.Server(t).URL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var dbs, roles int
	if err := admin.QueryRow(ctx, "SELECT (SELECT count(*) FROM pg_database WHERE datname = 'badlink'), (SELECT count(*) FROM pg_roles WHERE rolname LIKE 'bl\\_%')").Scan(&dbs, &roles); err != nil {
		t.Fatal(err)
	}
	if dbs != 0 || roles != 0 {
		t.Fatalf("a refused apply left %d databases and %d roles, want none", dbs, roles)
	}

	write("schemas/orders.yaml", "name: orders\nlinks:\n  - customers.customer(id)\n  - catalog.product(id)\n")
	if code, out, errOut := run(t, "--dir", dir, "--database-url", dbURL, "apply"); code != 0 {
		t.Fatalf("apply once fixed: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}
