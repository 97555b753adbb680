package provision_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/provision"
	"github.com/splitschema/splitschema/internal/secrets"
	"github.com/splitschema/splitschema/internal/target"
)

// TestDriftPlannedAndRemoved opens holes and changes by hand, each of a
// different kind, checks that the plan shows the statement that undoes each
// one, and that one provision removes them all.
func TestDriftPlannedAndRemoved(t *testing.T) {
	t.Parallel()
	p := mustShop(t, "t3g_")
	srv := mustServer(t)
	mustApply(t, p, srv)
	mustMigrate(t, p, srv)
	conn := mustConnect(t, srv)
	r := func(role string) string { return q("t3g_" + role) }
	db := q(srv.Database)
	// From PostgreSQL 16 on a membership is revoked grantor by grantor.
	by := ""
	if serverVersion(t, conn) >= 160000 {
		by = ` GRANTED BY "postgres" CASCADE`
	}

	drift := []struct{ hole, fix string }{
		{"GRANT SELECT ON customers.customer TO " + r("orders_app"),
			`REVOKE SELECT ON TABLE "customers"."customer" FROM "t3g_orders_app" CASCADE`},
		{"ALTER ROLE " + r("orders_owner") + " LOGIN CREATEDB",
			`ALTER ROLE "t3g_orders_owner" NOLOGIN NOCREATEDB`},
		{"ALTER ROLE " + r("payments_app") + " SUPERUSER BYPASSRLS",
			`ALTER ROLE "t3g_payments_app" NOSUPERUSER NOBYPASSRLS`},
		{"ALTER ROLE " + r("customers_app") + " VALID UNTIL '2001-01-01'",
			`ALTER ROLE "t3g_customers_app" VALID UNTIL 'infinity'`},
		{"ALTER DEFAULT PRIVILEGES FOR ROLE " + r("customers_owner") + " IN SCHEMA customers REVOKE DELETE ON TABLES FROM " + r("customers_app"),
			`ALTER DEFAULT PRIVILEGES FOR ROLE "t3g_customers_owner" IN SCHEMA "customers" GRANT DELETE ON TABLES TO "t3g_customers_app"`},
		{"ALTER DEFAULT PRIVILEGES FOR ROLE " + r("orders_owner") + " IN SCHEMA orders GRANT SELECT ON TABLES TO " + r("shipping_app"),
			`ALTER DEFAULT PRIVILEGES FOR ROLE "t3g_orders_owner" IN SCHEMA "orders" REVOKE SELECT ON TABLES FROM "t3g_shipping_app" CASCADE`},
		{"ALTER DEFAULT PRIVILEGES FOR ROLE " + r("shipping_owner") + " GRANT EXECUTE ON FUNCTIONS TO PUBLIC",
			`ALTER DEFAULT PRIVILEGES FOR ROLE "t3g_shipping_owner" REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC CASCADE`},
		{"GRANT " + r("shipping_owner") + " TO " + r("shipping_app"),
			`REVOKE "t3g_shipping_owner" FROM "t3g_shipping_app"` + by},
		{"GRANT pg_read_all_data TO " + r("catalog_app"),
			`REVOKE "pg_read_all_data" FROM "t3g_catalog_app"` + by},
		{"GRANT CREATE ON SCHEMA public TO PUBLIC",
			`REVOKE CREATE ON SCHEMA "public" FROM PUBLIC CASCADE`},
		{"GRANT USAGE ON SCHEMA public TO " + r("orders_app"),
			`REVOKE USAGE ON SCHEMA "public" FROM "t3g_orders_app" CASCADE`},
		{"GRANT CONNECT, TEMPORARY ON DATABASE " + db + " TO PUBLIC",
			`REVOKE CONNECT, TEMPORARY ON DATABASE ` + db + ` FROM PUBLIC CASCADE`},
		{"GRANT TEMPORARY ON DATABASE " + db + " TO " + r("orders_app"),
			`REVOKE TEMPORARY ON DATABASE ` + db + ` FROM "t3g_orders_app" CASCADE`},
		{"GRANT SELECT (email) ON customers.customer TO " + r("shipping_owner"),
			`REVOKE SELECT ("email") ON TABLE "customers"."customer" FROM "t3g_shipping_owner" CASCADE`},
		// A table-level REVOKE also takes the column-level REFERENCES of
		// the link: the plan must grant it again.
		{"GRANT REFERENCES ON customers.customer TO " + r("orders_owner"),
			`REVOKE REFERENCES ON TABLE "customers"."customer" FROM "t3g_orders_owner" CASCADE`},
		{"",
			`GRANT REFERENCES ("id") ON TABLE "customers"."customer" TO "t3g_orders_owner"`},
		{"GRANT SELECT ON catalog.product TO " + r("catalog_app") + " WITH GRANT OPTION",
			`REVOKE GRANT OPTION FOR SELECT ON TABLE "catalog"."product" FROM "t3g_catalog_app" CASCADE`},
		{"GRANT TRUNCATE, TRIGGER ON orders.order_line TO " + r("orders_app"),
			`REVOKE TRUNCATE, TRIGGER ON TABLE "orders"."order_line" FROM "t3g_orders_app" CASCADE`},
		{"REVOKE UPDATE ON orders.order_line FROM " + r("orders_app"),
			`GRANT UPDATE ON TABLE "orders"."order_line" TO "t3g_orders_app"`},
		{"GRANT UPDATE ON SEQUENCE payments.payment_id_seq TO " + r("payments_app"),
			`REVOKE UPDATE ON SEQUENCE "payments"."payment_id_seq" FROM "t3g_payments_app" CASCADE`},
		{"REVOKE USAGE ON SCHEMA orders FROM " + r("orders_app"),
			`GRANT USAGE ON SCHEMA "orders" TO "t3g_orders_app"`},
		{"GRANT USAGE ON SCHEMA payments TO " + r("customers_owner"),
			`REVOKE USAGE ON SCHEMA "payments" FROM "t3g_customers_owner" CASCADE`},
		{"SET ROLE " + r("customers_owner") + "; CREATE FUNCTION customers.f() RETURNS int LANGUAGE sql AS 'SELECT 1'; " +
			"CREATE TYPE customers.tier AS ENUM ('gold'); RESET ROLE; " +
			"GRANT EXECUTE ON FUNCTION customers.f() TO PUBLIC; GRANT USAGE ON TYPE customers.tier TO PUBLIC",
			`REVOKE EXECUTE ON ALL ROUTINES IN SCHEMA "customers" FROM PUBLIC CASCADE`},
		{"",
			`REVOKE USAGE ON TYPE "customers"."tier" FROM PUBLIC CASCADE`},
		{"ALTER ROLE " + r("orders_app") + " IN DATABASE " + db + " RESET search_path",
			`ALTER ROLE "t3g_orders_app" IN DATABASE ` + db + ` SET search_path = orders`},
		{"GRANT INSERT ON splitschema.service TO " + r("orders_owner"),
			`REVOKE INSERT ON TABLE "splitschema"."service" FROM "t3g_orders_owner" CASCADE`},
		{"GRANT CREATE ON SCHEMA splitschema TO " + r("orders_owner"),
			`REVOKE CREATE ON SCHEMA "splitschema" FROM "t3g_orders_owner" CASCADE`},
		{"UPDATE splitschema.service SET owner_role = 'nobody' WHERE schema_name = 'shipping'",
			`UPDATE splitschema.service SET service = 'shipping', owner_role = 't3g_shipping_owner', app_role = 't3g_shipping_app' WHERE schema_name = 'shipping'`},
		{"ALTER EVENT TRIGGER splitschema_guard DISABLE",
			`ALTER EVENT TRIGGER "splitschema_guard" ENABLE`},
		{"ALTER ROLE " + r("catalog_app") + " PASSWORD 'changed-by-hand'",
			`ALTER ROLE "t3g_catalog_app" PASSWORD '***'`},
	}
	for _, d := range drift {
		if d.hole != "" {
			mustExec(t, conn, d.hole)
		}
	}
	plan := mustPlan(t, p, srv)
	var got []string
	for _, c := range plan.Changes {
		got = append(got, c.SQL)
	}
	for _, d := range drift {
		if !slices.Contains(got, d.fix) {
			t.Errorf("drift %q: plan lacks %s", d.hole, d.fix)
		}
	}
	if len(got) != len(drift) {
		t.Errorf("plan has %d changes, want %d:\n%s", len(got), len(drift), plan.Human())
	}
	if t.Failed() {
		t.Fatalf("plan:\n%s", plan.Human())
	}

	cs := mustApply(t, p, srv)
	if len(cs.Changes) != len(drift) {
		t.Errorf("provision made %d changes, want %d", len(cs.Changes), len(drift))
	}
	mustNoChanges(t, p, srv)

	// The holes are closed for real.
	if err := execAs(t, conn, "t3g_orders_app", "SELECT 1 FROM customers.customer"); sqlState(err) != "42501" {
		t.Errorf("orders_app reads customers.customer after provision: %v", err)
	}
	if err := execAs(t, conn, "t3g_orders_owner", "CREATE TABLE orders.probe (c bigint REFERENCES customers.customer (id))"); err != nil {
		t.Errorf("the link's REFERENCES did not come back: %v", err)
	}
	u, err := secrets.URL(p.Dir, "catalog")
	if err != nil {
		t.Fatal(err)
	}
	app, err := pgx.Connect(ctxFor(t), u)
	if err != nil {
		t.Fatalf("the password changed by hand was not reset: %v", err)
	}
	app.Close(context.Background())
}

// TestConcurrentProvision runs two provisions at once on a database that
// does not exist yet: both succeed, one after the other, and the second
// finds nothing left to do.
func TestConcurrentProvision(t *testing.T) {
	t.Parallel()
	p := mustShop(t, "t3h_")
	base := mustServer(t)
	// A database nobody created yet, dropped at the end.
	srv := serverFor(t, base, base.Database+"_new")
	var wg sync.WaitGroup
	results := make([]*provision.Changeset, 2)
	errs := make([]error, 2)
	for i := range results {
		wg.Go(func() {
			results[i], errs[i] = provision.Apply(ctxFor(t), p, srv, nil)
		})
	}
	wg.Wait()
	// Either run may have created the database; the rest is all made by
	// the run that took the lock first.
	var made [2]int
	creates := 0
	for i, err := range errs {
		if err != nil {
			t.Fatalf("provision %d: %v", i, err)
		}
		for _, c := range results[i].Changes {
			if strings.HasPrefix(c.SQL, "CREATE DATABASE") {
				creates++
			} else {
				made[i]++
			}
		}
	}
	if min(made[0], made[1]) != 0 || max(made[0], made[1]) == 0 || creates != 1 {
		t.Errorf("changes made: %d and %d, CREATE DATABASE %d times; want all by one run, none by the other, one CREATE DATABASE", made[0], made[1], creates)
	}
	mustNoChanges(t, p, srv)

	// Again on the existing database, with drift to undo: GRANT and REVOKE
	// on the same objects at once would fail with "tuple concurrently
	// updated" without the lock.
	conn := mustConnect(t, srv)
	mustExec(t, conn, "GRANT SELECT ON ALL TABLES IN SCHEMA public, splitschema TO "+q("t3h_orders_app"))
	mustExec(t, conn, "GRANT USAGE ON SCHEMA customers, catalog TO "+q("t3h_payments_app"))
	for i := range results {
		wg.Go(func() {
			results[i], errs[i] = provision.Apply(ctxFor(t), p, srv, nil)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("second round, provision %d: %v", i, err)
		}
	}
	if a, b := len(results[0].Changes), len(results[1].Changes); min(a, b) != 0 || max(a, b) != 3 {
		t.Errorf("second round: changes made %d and %d, want 3 and 0", a, b)
	}
	mustNoChanges(t, p, srv)
}

// serverFor is base's server with the project database db, which need not
// exist yet; it is dropped at the end of the test.
func serverFor(t *testing.T, base *target.Server, db string) *target.Server {
	t.Helper()
	srv, err := target.FromURL(base.URL(db), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn, err := base.Connect(context.Background(), base.Database)
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+q(db)+" WITH (FORCE)"); err != nil {
			t.Error(err)
		}
	})
	return srv
}
