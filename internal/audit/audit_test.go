package audit_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/audit"
	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/pgtest"
	"github.com/splitschema/splitschema/internal/provision"
	"github.com/splitschema/splitschema/internal/provision/provisiontest"
	"github.com/splitschema/splitschema/internal/secrets"
	"github.com/splitschema/splitschema/internal/target"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func mustAudit(t *testing.T, p *manifest.Project, srv *target.Server) *audit.Report {
	t.Helper()
	r, err := audit.Run(provisiontest.Context(t), p, srv, nil)
	if err != nil {
		t.Fatalf("audit: %v", err)
	}
	return r
}

// fingerprint sums up what an audit must leave as it found: objects,
// privileges, roles, memberships, default privileges, sequence positions,
// table contents. Roles and memberships are cluster-wide, and the package's
// tests run in parallel on one cluster: only those of the roles named
// prefix* (the test's own) count.
func fingerprint(t *testing.T, conn *pgx.Conn, prefix string) string {
	t.Helper()
	var fp string
	err := conn.QueryRow(provisiontest.Context(t), `SELECT concat_ws('|',
		(SELECT md5(string_agg(format('%s %s %s %s', c.oid, c.relname, c.relacl, c.relowner), ',' ORDER BY c.oid)) FROM pg_class c),
		(SELECT md5(string_agg(format('%s %s %s', a.attrelid, a.attname, a.attacl), ',' ORDER BY a.attrelid, a.attnum)) FROM pg_attribute a),
		(SELECT md5(string_agg(format('%s %s %s', n.oid, n.nspname, n.nspacl), ',' ORDER BY n.oid)) FROM pg_namespace n),
		(SELECT md5(string_agg(format('%s %s %s %s %s', r.rolname, r.rolsuper, r.rolcanlogin, r.rolcreatedb, r.rolinherit), ',' ORDER BY r.oid)) FROM pg_roles r
			WHERE starts_with(r.rolname, $1)),
		(SELECT md5(string_agg(format('%s %s', m.roleid, m.member), ',' ORDER BY m.roleid, m.member)) FROM pg_auth_members m
			WHERE m.roleid IN (SELECT oid FROM pg_roles WHERE starts_with(rolname, $1)) OR m.member IN (SELECT oid FROM pg_roles WHERE starts_with(rolname, $1))),
		(SELECT md5(string_agg(format('%s %s', d.oid, d.defaclacl), ',' ORDER BY d.oid)) FROM pg_default_acl d),
		(SELECT md5(string_agg(format('%s %s %s', s.schemaname, s.sequencename, s.last_value), ',' ORDER BY 1)) FROM pg_sequences s),
		(SELECT count(*) FROM customers.customer), (SELECT count(*) FROM orders.customer_order))`, prefix).Scan(&fp)
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

// TestAuditCleanAfterProvision: on the provisioned and migrated shop the
// audit finds nothing, tries every pair, and leaves no trace.
func TestAuditCleanAfterProvision(t *testing.T) {
	t.Parallel()
	p, srv := provisiontest.Provisioned(t, "t4a_")
	conn := provisiontest.Connect(t, srv)
	mustExec(t, conn, "SET ROLE t4a_customers_owner; INSERT INTO customers.customer (email, name) VALUES ('a@b.c', 'A'); RESET ROLE")
	before := fingerprint(t, conn, "t4a_")
	r := mustAudit(t, p, srv)
	if !r.OK || len(r.Findings) != 0 {
		t.Fatalf("audit after provision:\n%s", r.Human())
	}
	// 5 services, 20 ordered pairs: each app role reads and writes every
	// other table (5 probes each) and so on; far more than a handful.
	if r.Probes < 200 {
		t.Errorf("audit tried %d statements; it should try hundreds", r.Probes)
	}
	if after := fingerprint(t, conn, "t4a_"); after != before {
		t.Errorf("the audit left a trace:\nbefore %s\nafter  %s", before, after)
	}
	if h := r.Human(); !strings.Contains(h, "isolation holds for what was checked") || !strings.Contains(h, "Postgres cannot close and the audit does not check: LISTEN/NOTIFY") {
		t.Errorf("a clean audit does not say what it did not check:\n%s", h)
	}
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), `{"ok":true,`) || !strings.Contains(string(data), `"findings":[]`) {
		t.Errorf("json = %s", data)
	}
}

// hole is one way to break isolation by hand, how to undo it, and the
// findings the audit must report while it is open.
type hole struct {
	name string
	open string
	undo string // "" when provision undoes it
	want []string
}

// TestAuditCatchesEveryHole opens each kind of hole by hand, one at a time,
// and checks the audit reports it, by the check that catches it, as an
// error (or a warning where noted); then it closes the hole and checks the
// audit is clean again.
func TestAuditCatchesEveryHole(t *testing.T) {
	t.Parallel()
	p, srv := provisiontest.Provisioned(t, "t4b_")
	conn := provisiontest.Connect(t, srv)
	r := func(role string) string { return pgx.Identifier{"t4b_" + role}.Sanitize() }
	db := pgx.Identifier{srv.Database}.Sanitize()
	holes := []hole{
		{name: "app reads another service's table",
			open: "GRANT USAGE ON SCHEMA customers TO " + r("orders_app") + "; GRANT SELECT ON customers.customer TO " + r("orders_app"),
			want: []string{"error read orders_app can read customers.customer", "error privileges"}},
		{name: "app writes a column of another service's table",
			open: "GRANT USAGE ON SCHEMA customers TO " + r("shipping_app") + "; GRANT INSERT (email) ON customers.customer TO " + r("shipping_app"),
			want: []string{"error write shipping_app can insert into customers.customer", "error privileges"}},
		{name: "app truncates another service's table",
			open: "GRANT USAGE ON SCHEMA orders TO " + r("payments_app") + "; GRANT TRUNCATE ON orders.order_line TO " + r("payments_app"),
			want: []string{"error write payments_app can truncate orders.order_line", "error privileges"}},
		{name: "app is a member of another service's owner",
			open: "GRANT " + r("customers_owner") + " TO " + r("orders_app"),
			want: []string{"error set_role orders_app can become t4b_customers_owner", "error membership", "error read"}},
		{name: "app holds a predefined role",
			open: "GRANT pg_write_all_data TO " + r("payments_app"),
			want: []string{"error membership payments_app is a member of pg_write_all_data", "error write payments_app can delete from"}},
		{name: "PUBLIC may create in schema public",
			open: "GRANT CREATE ON SCHEMA public TO PUBLIC",
			want: []string{"error create can create a table in schema public", "error public PUBLIC holds CREATE on schema public"}},
		{name: "PUBLIC reads a service's table",
			open: "GRANT SELECT ON orders.customer_order TO PUBLIC",
			want: []string{"error public PUBLIC holds SELECT on table orders.customer_order", "error privileges"}},
		{name: "PUBLIC connects",
			open: "GRANT CONNECT, TEMPORARY ON DATABASE " + db + " TO PUBLIC",
			want: []string{"error public PUBLIC holds CONNECT on database", "warning create may create temporary tables"}},
		{name: "app may create in its own schema",
			open: "GRANT CREATE ON SCHEMA orders TO " + r("orders_app"),
			want: []string{"error create orders_app can create a table in its own schema", "error create application role"}},
		{name: "owner may create in another schema",
			open: "GRANT CREATE ON SCHEMA catalog TO " + r("shipping_owner"),
			want: []string{"error ddl shipping_owner can create a table in schema catalog", "error create"}},
		{name: "owner owns another service's table",
			open: "ALTER TABLE catalog.product OWNER TO " + r("orders_owner"),
			undo: "ALTER TABLE catalog.product OWNER TO " + r("catalog_owner"),
			want: []string{"error ddl orders_owner can alter catalog.product", "error ownership table catalog.product in schema catalog is owned by t4b_orders_owner, not t4b_catalog_owner: service orders may alter or drop it; run ALTER TABLE catalog.product OWNER TO"}},
		{name: "admin owns a view in a service's schema",
			open: "CREATE VIEW customers.peek AS SELECT 1 AS one",
			undo: "DROP VIEW customers.peek",
			want: []string{"error ownership view customers.peek in schema customers is owned by", "error ownership a view reads, and a SECURITY DEFINER or trigger function runs, with them"}},
		{name: "another service owns a type and a function",
			open: "CREATE TYPE payments.mood AS ENUM ('ok'); ALTER TYPE payments.mood OWNER TO " + r("shipping_owner") +
				"; CREATE FUNCTION payments.f() RETURNS int LANGUAGE sql AS 'SELECT 1'; ALTER FUNCTION payments.f() OWNER TO " + r("shipping_owner"),
			undo: "DROP FUNCTION payments.f(); DROP TYPE payments.mood",
			want: []string{"error ownership type payments.mood in schema payments is owned by t4b_shipping_owner", "error ownership function payments.f() in schema payments is owned by t4b_shipping_owner, not t4b_payments_owner: service shipping may alter or drop it; run ALTER FUNCTION payments.f() OWNER TO"}},
		{name: "large object of one service granted to another",
			open: "SELECT lo_create(4242); ALTER LARGE OBJECT 4242 OWNER TO " + r("orders_app") + "; GRANT SELECT, UPDATE ON LARGE OBJECT 4242 TO " + r("customers_app"),
			undo: "SELECT lo_unlink(4242)",
			want: []string{"error large_objects large object 4242 of t4b_orders_app is granted SELECT, UPDATE to t4b_customers_app: a large object lives in no schema, so this is a channel between t4b_orders_app (service orders) and t4b_customers_app (service customers)"}},
		{name: "large object a service owns",
			open: "SELECT lo_create(4243); ALTER LARGE OBJECT 4243 OWNER TO " + r("shipping_app"),
			undo: "SELECT lo_unlink(4243)",
			want: []string{"warning large_objects large object 4243 is owned by t4b_shipping_app: it lives in no schema"}},
		{name: "PUBLIC may create large objects again",
			open: "GRANT EXECUTE ON FUNCTION lo_from_bytea(oid, bytea) TO PUBLIC",
			want: []string{"error large_objects PUBLIC may execute pg_catalog.lo_from_bytea(oid, bytea), so every service role may create a large object"}},
		{name: "a service role may create large objects",
			open: "GRANT EXECUTE ON FUNCTION lo_creat(integer) TO " + r("payments_owner"),
			undo: "REVOKE EXECUTE ON FUNCTION lo_creat(integer) FROM " + r("payments_owner"),
			want: []string{"error large_objects t4b_payments_owner may execute pg_catalog.lo_creat(integer)"}},
		{name: "lo_compat_privileges on",
			open: "ALTER DATABASE " + db + " SET lo_compat_privileges = on",
			undo: "ALTER DATABASE " + db + " RESET lo_compat_privileges",
			want: []string{"error large_objects lo_compat_privileges is on"}},
		{name: "role settings",
			open: "ALTER ROLE " + r("orders_app") + " SET search_path = customers; ALTER ROLE " + r("orders_owner") + " SET statement_timeout = '1s'; ALTER ROLE " + r("catalog_app") + " IN DATABASE " + db + " SET role = " + r("catalog_owner"),
			undo: "ALTER ROLE " + r("orders_app") + " RESET search_path; ALTER ROLE " + r("orders_owner") + " RESET statement_timeout; ALTER ROLE " + r("catalog_app") + " IN DATABASE " + db + " RESET role",
			want: []string{"error role_settings t4b_orders_app has search_path = customers for every database: unqualified names of every session of the role resolve through it; run `splitschema provision` (it resets it) or ALTER ROLE",
				"error role_settings t4b_catalog_app has role = t4b_catalog_owner for database",
				"warning role_settings t4b_orders_owner has statement_timeout = 1s for every database, a setting splitschema does not make"}},
		{name: "app's search_path changed",
			open: "ALTER ROLE " + r("payments_app") + " IN DATABASE " + db + " SET search_path = orders, payments",
			want: []string{"error role_settings t4b_payments_app has search_path = orders, payments for database", "error role_settings instead of payments, the path provisioning sets; run `splitschema provision`"}},
		{name: "owner role has a password",
			open: "ALTER ROLE " + r("orders_owner") + " PASSWORD 'owner-secret'",
			want: []string{"error roles owner role t4b_orders_owner has a password"}},
		{name: "default privileges for another service",
			open: "ALTER DEFAULT PRIVILEGES FOR ROLE " + r("customers_owner") + " IN SCHEMA customers GRANT SELECT, UPDATE ON TABLES TO " + r("orders_app"),
			want: []string{"error default_privileges ALTER DEFAULT PRIVILEGES FOR ROLE t4b_customers_owner gives t4b_orders_app (service orders) SELECT, UPDATE on the tables it creates in schema customers from now on", "error default_privileges run `splitschema provision`"}},
		{name: "default privileges of the admin for a service",
			open: "ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO " + r("orders_app"),
			undo: "ALTER DEFAULT PRIVILEGES REVOKE SELECT ON TABLES FROM " + r("orders_app"),
			want: []string{"error default_privileges gives t4b_orders_app (service orders) SELECT on the tables it creates anywhere from now on", "error default_privileges REVOKE SELECT ON TABLES FROM"}},
		{name: "default privileges to PUBLIC",
			open: "ALTER DEFAULT PRIVILEGES FOR ROLE " + r("catalog_owner") + " GRANT EXECUTE ON FUNCTIONS TO PUBLIC",
			want: []string{"error default_privileges ALTER DEFAULT PRIVILEGES FOR ROLE t4b_catalog_owner gives PUBLIC EXECUTE on the functions it creates anywhere"}},
		{name: "CONNECT on a maintenance database",
			open: "GRANT CONNECT ON DATABASE template1 TO " + r("payments_app"),
			undo: "REVOKE CONNECT ON DATABASE template1 FROM " + r("payments_app"),
			want: []string{"warning connect t4b_payments_app may connect to database template1"}},
		{name: "guard disabled",
			open: "ALTER EVENT TRIGGER splitschema_guard DISABLE",
			want: []string{"error cascade_drop customers_owner can drop foreign key", "error guard the guard's event trigger splitschema_guard is disabled"}},
		{name: "guard dropped",
			open: "DROP EVENT TRIGGER splitschema_guard",
			want: []string{"error cascade_drop catalog_owner can drop foreign key order_line_product_id_fkey", "error guard"}},
		{name: "guard's DDL trigger disabled",
			open: "ALTER EVENT TRIGGER splitschema_guard_ddl DISABLE",
			want: []string{"error guard the guard's event trigger splitschema_guard_ddl is disabled"}},
		{name: "cascading foreign key between services",
			open: "ALTER TABLE orders.customer_order ADD CONSTRAINT admin_fk FOREIGN KEY (customer_id) REFERENCES customers.customer (id) ON DELETE CASCADE ON UPDATE SET NULL",
			undo: "ALTER TABLE orders.customer_order DROP CONSTRAINT admin_fk",
			want: []string{"error foreign_keys foreign key admin_fk of orders.customer_order references customers.customer(id) ON DELETE CASCADE ON UPDATE SET NULL: it makes service customers change rows of service orders"}},
		{name: "guard forgets a service",
			open: "DELETE FROM splitschema.service WHERE schema_name = 'orders'",
			want: []string{"error cascade_drop catalog_owner can drop foreign key order_line_product_id_fkey of orders.order_line", "error guard the guard does not know service orders"}},
		{name: "forbidden role attributes",
			open: "ALTER ROLE " + r("catalog_owner") + " CREATEDB; ALTER ROLE " + r("customers_app") + " BYPASSRLS",
			want: []string{"error roles t4b_catalog_owner holds CREATEDB", "error roles t4b_customers_app holds BYPASSRLS"}},
		{name: "owner can log in",
			open: "ALTER ROLE " + r("orders_owner") + " LOGIN",
			want: []string{"error roles owner role t4b_orders_owner can log in"}},
		{name: "wrong password",
			open: "ALTER ROLE " + r("customers_app") + " PASSWORD 'not-the-one-in-the-file'",
			want: []string{"error login cannot log in as t4b_customers_app with the password from the secrets file"}},
		{name: "undeclared foreign key",
			open: "GRANT REFERENCES (id) ON catalog.product TO " + r("shipping_owner") + "; GRANT USAGE ON SCHEMA catalog TO " + r("shipping_owner") +
				"; SET ROLE " + r("shipping_owner") + "; CREATE TABLE shipping.item (product_id bigint REFERENCES catalog.product (id)); RESET ROLE",
			undo: "DROP TABLE shipping.item",
			want: []string{"error foreign_keys foreign key item_product_id_fkey of shipping.item references catalog.product(id), which service shipping declares no link to", "error privileges"}},
		{name: "declared link without foreign key",
			open: "ALTER TABLE payments.payment DROP CONSTRAINT payment_order_id_fkey",
			undo: "ALTER TABLE payments.payment ADD CONSTRAINT payment_order_id_fkey FOREIGN KEY (order_id) REFERENCES orders.customer_order (id)",
			want: []string{"warning links link orders.customer_order(id) is declared but no foreign key uses it"}},
		{name: "dependency on another service's row type",
			open: "CREATE TABLE orders.snapshot (c customers.customer); ALTER TABLE orders.snapshot OWNER TO " + r("orders_owner"),
			undo: "DROP TABLE orders.snapshot",
			want: []string{"error dependencies column c of table orders.snapshot depends on type customers.customer"}},
		{name: "app cannot log in",
			open: "ALTER ROLE " + r("shipping_app") + " NOLOGIN",
			want: []string{"error roles application role t4b_shipping_app cannot log in"}},
		{name: "migrator inherits",
			open: "ALTER ROLE " + r("orders_migrator") + " INHERIT",
			undo: "ALTER ROLE " + r("orders_migrator") + " NOINHERIT",
			want: []string{"error roles migrator role t4b_orders_migrator inherits the owner's privileges"}},
		{name: "migrator member of another service",
			open: "GRANT " + r("customers_owner") + " TO " + r("orders_migrator"),
			undo: "REVOKE " + r("customers_owner") + " FROM " + r("orders_migrator"),
			want: []string{"error membership t4b_orders_migrator is a member of t4b_customers_owner"}},
	}
	for _, h := range holes {
		t.Run(strings.ReplaceAll(h.name, " ", "_"), func(t *testing.T) {
			mustExec(t, conn, h.open)
			rep := mustAudit(t, p, srv)
			wantOK := !strings.Contains(strings.Join(h.want, "\n"), "error ")
			if rep.OK != wantOK {
				t.Errorf("audit OK = %v with the hole open, want %v", rep.OK, wantOK)
			}
			for _, w := range h.want {
				if !hasFinding(rep, w) {
					t.Errorf("no finding %q", w)
				}
			}
			if t.Failed() {
				t.Logf("findings:\n%s", rep.Human())
			}
			if h.undo != "" {
				mustExec(t, conn, h.undo)
			}
			if _, err := provision.Apply(provisiontest.Context(t), p, srv, nil); err != nil {
				t.Fatalf("provision: %v", err)
			}
			if h.name == "wrong password" {
				return // provision resets it: checked below with the others
			}
			if rep := mustAudit(t, p, srv); !rep.OK || len(rep.Findings) != 0 {
				t.Fatalf("after closing the hole:\n%s", rep.Human())
			}
		})
	}
}

// hasFinding looks for a finding "severity check words...", the words found
// in its service and detail.
func hasFinding(r *audit.Report, want string) bool {
	parts := strings.SplitN(want, " ", 3)
	for _, f := range r.Findings {
		if f.Severity != parts[0] || f.Check != parts[1] {
			continue
		}
		if len(parts) < 3 || strings.Contains(f.Detail, parts[2]) {
			return true
		}
	}
	return false
}

// TestAuditWithoutPasswords: without the secrets files the audit warns and
// runs the application roles' attempts through SET ROLE.
func TestAuditWithoutPasswords(t *testing.T) {
	t.Parallel()
	p, srv := provisiontest.Provisioned(t, "t4c_")
	for _, svc := range p.Services {
		if err := os.Remove(secrets.Path(p.Dir, svc.Name)); err != nil {
			t.Fatal(err)
		}
	}
	rep := mustAudit(t, p, srv)
	if !rep.OK {
		t.Fatalf("audit without passwords:\n%s", rep.Human())
	}
	n := 0
	for _, f := range rep.Findings {
		if f.Severity == audit.Warning && f.Check == "login" {
			n++
		}
	}
	if n != len(p.Services) || len(rep.Findings) != n {
		t.Errorf("want one login warning per service:\n%s", rep.Human())
	}
	conn := provisiontest.Connect(t, srv)
	mustExec(t, conn, fmt.Sprintf("GRANT USAGE ON SCHEMA orders TO %s; GRANT SELECT ON orders.order_line TO %s",
		pgx.Identifier{"t4c_catalog_app"}.Sanitize(), pgx.Identifier{"t4c_catalog_app"}.Sanitize()))
	if rep := mustAudit(t, p, srv); rep.OK || !hasFinding(rep, "error read catalog_app can read orders.order_line") {
		t.Errorf("through SET ROLE the read is not caught:\n%s", rep.Human())
	}
}

func mustExec(t *testing.T, conn *pgx.Conn, sql string) {
	t.Helper()
	if _, err := conn.Exec(provisiontest.Context(t), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
