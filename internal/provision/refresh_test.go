package provision_test

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/provision"
	"github.com/splitschema/splitschema/internal/provision/provisiontest"
	"github.com/splitschema/splitschema/internal/secrets"
	"github.com/splitschema/splitschema/internal/target"
)

// loginApp logs in as the application role of svc with its password.
func loginApp(t *testing.T, p *manifest.Project, srv *target.Server, svc string) *pgx.Conn {
	t.Helper()
	pw, _, err := secrets.Lookup(p.Dir, svc)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctxFor(t), srv.RoleURL(p.AppRole(svc), pw))
	if err != nil {
		t.Fatalf("log in as %s: %v", p.AppRole(svc), err)
	}
	t.Cleanup(func() { conn.Close(ctxFor(t)) })
	return conn
}

// TestAppRefreshesItsMaterializedView: REFRESH needs ownership, which the
// application role lacks; the toolkit's function lets it refresh its own
// service's materialized views, and no other service's.
func TestAppRefreshesItsMaterializedView(t *testing.T) {
	t.Parallel()
	p, srv := provisiontest.RealshopProvisioned(t, "t8r_")
	mustNoChanges(t, p, srv)
	sales, person := loginApp(t, p, srv, "sales"), loginApp(t, p, srv, "person")
	ctx := ctxFor(t)
	if _, err := sales.Exec(ctx, "REFRESH MATERIALIZED VIEW sales.daily_total"); sqlState(err) != "42501" {
		t.Fatalf("plain REFRESH as the app: err = %v, want 42501 (it needs ownership)", err)
	}
	if _, err := sales.Exec(ctx, "SELECT splitschema.refresh_materialized_view('sales.daily_total')"); err != nil {
		t.Fatalf("refresh through the toolkit: %v", err)
	}
	// CONCURRENTLY builds a temporary table as the view's owner, and no
	// service role may create temporary tables (a documented limit).
	_, err := sales.Exec(ctx, "SELECT splitschema.refresh_materialized_view('sales.daily_total', true)")
	if sqlState(err) != "42501" || !strings.Contains(err.Error(), "temporary tables") {
		t.Errorf("concurrent refresh: err = %v, want permission denied to create temporary tables", err)
	}
	// person_app cannot even name sales' view (no USAGE on schema sales);
	// by its oid, the function itself refuses.
	var oid uint32
	if err := mustConnect(t, srv).QueryRow(ctx, "SELECT 'sales.daily_total'::regclass::oid").Scan(&oid); err != nil {
		t.Fatal(err)
	}
	_, err = person.Exec(ctx, "SELECT splitschema.refresh_materialized_view($1::oid::regclass)", oid)
	if sqlState(err) != "42501" || !strings.Contains(err.Error(), "materialized view of service sales") {
		t.Errorf("person_app refreshing sales' view: err = %v, want 42501", err)
	}
	if _, err := sales.Exec(ctx, "SELECT splitschema.refresh_materialized_view('sales.sales_order')"); sqlState(err) != "42809" {
		t.Errorf("refresh of a table: err = %v, want 42809", err)
	}
}

// TestExtensionElsewhereRefused: an extension the project declares but
// that lives in another schema is a problem the admin settles; nothing is
// changed. Once moved, provisioning accepts it and the plan is empty.
func TestExtensionElsewhereRefused(t *testing.T) {
	t.Parallel()
	p, srv := provisiontest.Realshop(t, "t8x_"), mustServer(t)
	conn := mustConnect(t, srv)
	if _, err := conn.Exec(ctxFor(t), `CREATE EXTENSION pg_trgm SCHEMA public`); err != nil {
		t.Fatal(err)
	}
	_, err := provision.Apply(ctxFor(t), p, srv, nil)
	if err == nil || !strings.Contains(err.Error(), "extension pg_trgm is installed in schema public") || !strings.Contains(err.Error(), `ALTER EXTENSION "pg_trgm" SET SCHEMA "extensions"`) {
		t.Fatalf("apply with pg_trgm in public: err = %v", err)
	}
	var roles int
	if err := conn.QueryRow(ctxFor(t), `SELECT count(*) FROM pg_roles WHERE rolname LIKE 't8x\_%'`).Scan(&roles); err != nil || roles != 0 {
		t.Fatalf("a refused apply created %d roles (%v)", roles, err)
	}
	if _, err := conn.Exec(ctxFor(t), `CREATE SCHEMA extensions; ALTER EXTENSION pg_trgm SET SCHEMA extensions`); err != nil {
		t.Fatal(err)
	}
	mustApply(t, p, srv)
	mustNoChanges(t, p, srv)
}
