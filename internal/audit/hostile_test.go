package audit_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/provision/provisiontest"
	"github.com/splitschema/splitschema/internal/secrets"
	"github.com/splitschema/splitschema/internal/target"
)

// TestAuditReportsHostileServiceActions: a hostile service, acting only
// with its own roles (its owner through SET ROLE, as a migration would, and
// its application role logged in with its own password), tries to open
// channels to other services. What Postgres or the guard refuses is refused;
// what a role may do to itself, the audit reports, each as an error. Another
// service's objects and the toolkit's schema are unchanged throughout.
func TestAuditReportsHostileServiceActions(t *testing.T) {
	t.Parallel()
	p, srv := provisiontest.Provisioned(t, "t4e_")
	ctx := provisiontest.Context(t)
	admin := provisiontest.Connect(t, srv)
	owner, app := p.OwnerRole("orders"), p.AppRole("orders")
	mustExec(t, admin, "INSERT INTO customers.customer (email, name) VALUES ('a@b.c', 'A')")
	before := untouched(t, admin)

	asOwner := func(sql string) error {
		_, err := admin.Exec(ctx, "SET ROLE "+pgx.Identifier{owner}.Sanitize()+"; "+sql+"; RESET ROLE")
		if err != nil {
			admin.Exec(ctx, "RESET ROLE") // the failed statement left the role set
		}
		return err
	}
	pw, _, err := secrets.Lookup(p.Dir, "orders")
	if err != nil {
		t.Fatal(err)
	}
	appConn, err := pgx.Connect(ctx, srv.RoleURL(app, pw))
	if err != nil {
		t.Fatalf("log in as %s: %v", app, err)
	}
	defer appConn.Close(context.Background())
	asApp := func(sql string) error { _, err := appConn.Exec(ctx, sql); return err }

	refused := []struct{ who, sql string }{
		{"owner", "ALTER TABLE orders.customer_order ADD CONSTRAINT evil_fk FOREIGN KEY (customer_id) REFERENCES customers.customer (id) ON DELETE CASCADE"},
		{"owner", "CREATE VIEW orders.peek AS SELECT 1 AS one; ALTER VIEW orders.peek OWNER TO " + pgx.Identifier{p.OwnerRole("customers")}.Sanitize()},
		{"app", "SELECT lo_creat(-1)"},
		{"app", `SELECT lo_from_bytea(0, '\x00')`},
		{"app", "ALTER ROLE " + pgx.Identifier{p.AppRole("customers")}.Sanitize() + " SET search_path = orders"},
	}
	for _, r := range refused {
		run := asOwner
		if r.who == "app" {
			run = asApp
		}
		if err := run(r.sql); err == nil {
			t.Errorf("as the %s, %s passed; it must be refused", r.who, r.sql)
		}
	}

	opened := []struct {
		who, sql string
		want     string
	}{
		{"owner", "ALTER DEFAULT PRIVILEGES FOR ROLE " + pgx.Identifier{owner}.Sanitize() + " IN SCHEMA orders GRANT SELECT ON TABLES TO " + pgx.Identifier{p.AppRole("customers")}.Sanitize(),
			"error default_privileges ALTER DEFAULT PRIVILEGES FOR ROLE t4e_orders_owner gives t4e_customers_app (service customers) SELECT on the tables it creates in schema orders"},
		{"owner", "ALTER DEFAULT PRIVILEGES FOR ROLE " + pgx.Identifier{owner}.Sanitize() + " GRANT EXECUTE ON FUNCTIONS TO PUBLIC",
			"error default_privileges ALTER DEFAULT PRIVILEGES FOR ROLE t4e_orders_owner gives PUBLIC EXECUTE on the functions it creates anywhere"},
		{"owner", "ALTER ROLE " + pgx.Identifier{owner}.Sanitize() + " PASSWORD 'owner-now-has-one'",
			"error roles owner role t4e_orders_owner has a password"},
		{"owner", "ALTER ROLE " + pgx.Identifier{owner}.Sanitize() + " SET role = " + pgx.Identifier{app}.Sanitize(),
			"error role_settings t4e_orders_owner has role = t4e_orders_app for every database"},
		{"app", "ALTER ROLE CURRENT_USER SET search_path = customers, orders",
			"error role_settings t4e_orders_app has search_path = customers, orders for every database"},
	}
	for _, o := range opened {
		run := asOwner
		if o.who == "app" {
			run = asApp
		}
		if err := run(o.sql); err != nil {
			t.Fatalf("as the %s, %s: %v (a role may do this to itself)", o.who, o.sql, err)
		}
	}
	// NOTIFY crosses every boundary and cannot be closed: the audit does not
	// claim it.
	if err := asApp("NOTIFY customers_events, 'from orders'"); err != nil {
		t.Fatalf("NOTIFY: %v", err)
	}

	rep := mustAudit(t, p, srv)
	if rep.OK {
		t.Errorf("audit OK after the hostile actions")
	}
	for _, o := range opened {
		if !hasFinding(rep, o.want) {
			t.Errorf("no finding %q", o.want)
		}
	}
	if !strings.Contains(rep.Human(), "LISTEN/NOTIFY") || strings.Contains(rep.Human(), "isolation holds") {
		t.Errorf("the report claims what it does not check, or hides it")
	}
	if t.Failed() {
		t.Logf("findings:\n%s", rep.Human())
	}
	if after := untouched(t, admin); after != before {
		t.Errorf("another service or the toolkit changed:\nbefore %s\nafter  %s", before, after)
	}
}

// untouched sums up what the orders service must not be able to change:
// the customers service's objects, owners, privileges and rows, and the
// toolkit's schema, table, guard function and event triggers.
func untouched(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	var fp string
	err := conn.QueryRow(provisiontest.Context(t), `SELECT concat_ws('|',
		(SELECT md5(string_agg(format('%s %s %s %s', c.oid, c.relname, c.relacl, c.relowner), ',' ORDER BY c.oid))
		 FROM pg_class c WHERE c.relnamespace IN ('customers'::regnamespace, 'splitschema'::regnamespace)),
		(SELECT md5(string_agg(format('%s %s %s %s', f.oid, f.proname, f.proacl, md5(f.prosrc)), ',' ORDER BY f.oid))
		 FROM pg_proc f WHERE f.pronamespace IN ('customers'::regnamespace, 'splitschema'::regnamespace)),
		(SELECT md5(string_agg(format('%s %s %s', n.nspname, n.nspowner, n.nspacl), ',' ORDER BY n.oid))
		 FROM pg_namespace n WHERE n.nspname IN ('customers', 'splitschema')),
		(SELECT md5(string_agg(format('%s %s %s', e.evtname, e.evtenabled, e.evtfoid), ',' ORDER BY e.oid)) FROM pg_event_trigger e),
		(SELECT md5(string_agg(format('%s', s), ',' ORDER BY s.schema_name)) FROM splitschema.service s),
		(SELECT md5(string_agg(format('%s', c), ',' ORDER BY c.id)) FROM customers.customer c))`).Scan(&fp)
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

// TestAuditSaysWhatItCouldNotCheck: an admin that is no superuser cannot
// read the owner roles' passwords; the audit says so instead of counting
// the check as passed, while a superuser's audit of the same database
// reports the password.
func TestAuditSaysWhatItCouldNotCheck(t *testing.T) {
	t.Parallel()
	p, srv := provisiontest.Provisioned(t, "t4f_")
	conn := provisiontest.Connect(t, srv)
	var roles []string
	for _, svc := range p.Services {
		roles = append(roles, pgx.Identifier{p.OwnerRole(svc.Name)}.Sanitize(), pgx.Identifier{p.AppRole(svc.Name)}.Sanitize())
	}
	mustExec(t, conn, "CREATE ROLE t4f_dba LOGIN CREATEROLE PASSWORD 'dba-secret'; GRANT "+strings.Join(roles, ", ")+" TO t4f_dba")
	mustExec(t, conn, "ALTER ROLE "+roles[0]+" PASSWORD 'owner-secret'")
	dba, err := target.FromURL(srv.RoleURL("t4f_dba", "dba-secret"), "")
	if err != nil {
		t.Fatal(err)
	}
	rep := mustAudit(t, p, dba)
	want := "whether the owner roles have passwords: only a superuser can read pg_authid, and t4f_dba is not one"
	if !slices.Contains(rep.NotChecked, want) || !strings.Contains(rep.Human(), "Not checked:\n  "+want) {
		t.Errorf("the audit does not say what it could not check:\n%s", rep.Human())
	}
	if hasFinding(rep, "error roles has a password") {
		t.Errorf("the dba's audit reports a password it cannot read:\n%s", rep.Human())
	}
	if rep := mustAudit(t, p, srv); !hasFinding(rep, "error roles owner role t4f_catalog_owner has a password") || len(rep.NotChecked) != 0 {
		t.Errorf("the superuser's audit:\n%s", rep.Human())
	}
}
