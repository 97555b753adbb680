package provision_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/splitschema/splitschema/internal/provision"
)

// TestUndeclaredNeverDropped: a schema and roles that look like a service's
// but are not declared, and a service removed from the manifest, show in
// the plan with their tables and rows; provisioning drops none of them.
func TestUndeclaredNeverDropped(t *testing.T) {
	t.Parallel()
	p := mustShop(t, "t3n_")
	srv := mustServer(t)
	mustApply(t, p, srv)
	mustMigrate(t, p, srv)
	conn := mustConnect(t, srv)
	mustExec(t, conn, "CREATE ROLE t3n_legacy_owner; CREATE ROLE t3n_legacy_app")
	mustExec(t, conn, "CREATE SCHEMA legacy AUTHORIZATION t3n_legacy_owner")
	mustExec(t, conn, "CREATE TABLE legacy.a AS SELECT generate_series(1, 3) AS i; CREATE TABLE legacy.b (i int)")
	mustExec(t, conn, "INSERT INTO shipping.shipment (order_id, customer_id, address, carrier) SELECT 1, 1, 'x', 'y' WHERE false")
	if err := os.Remove(filepath.Join(p.Dir, "schemas", "shipping.yaml")); err != nil {
		t.Fatal(err)
	}
	p = mustLoad(t, p.Dir)

	want := map[string]provision.Undeclared{
		"role t3n_legacy_app":     {Kind: "role", Name: "t3n_legacy_app", Service: "legacy"},
		"role t3n_legacy_owner":   {Kind: "role", Name: "t3n_legacy_owner", Service: "legacy"},
		"role t3n_shipping_app":   {Kind: "role", Name: "t3n_shipping_app", Service: "shipping"},
		"role t3n_shipping_owner": {Kind: "role", Name: "t3n_shipping_owner", Service: "shipping"},
		"schema legacy":           {Kind: "schema", Name: "legacy", Service: "legacy", Owner: "t3n_legacy_owner", Tables: 2, Rows: 3},
		"schema shipping":         {Kind: "schema", Name: "shipping", Service: "shipping", Owner: "t3n_shipping_owner", Tables: 1, Rows: 0, Guarded: true},
	}
	for round, run := range []func() *provision.Changeset{
		func() *provision.Changeset { return mustPlan(t, p, srv) },
		func() *provision.Changeset { return mustApply(t, p, srv) },
		func() *provision.Changeset { return mustPlan(t, p, srv) },
	} {
		cs := run()
		got := map[string]provision.Undeclared{}
		for _, u := range cs.Undeclared {
			got[u.Kind+" "+u.Name] = u
		}
		for k, w := range want {
			if got[k] != w {
				t.Errorf("round %d: undeclared %s = %+v, want %+v", round, k, got[k], w)
			}
		}
		if len(got) != len(want) {
			t.Errorf("round %d: undeclared = %+v", round, cs.Undeclared)
		}
		for _, c := range cs.Changes {
			if c.Action == "guard" {
				t.Errorf("round %d: the shipping schema must stay guarded, yet: %s", round, c.SQL)
			}
		}
	}
	var n int
	if err := conn.QueryRow(ctxFor(t), "SELECT count(*) FROM pg_namespace WHERE nspname IN ('legacy', 'shipping')").Scan(&n); err != nil || n != 2 {
		t.Errorf("undeclared schemas left: %d (%v), want 2", n, err)
	}
	// The guard still protects the undeclared shipping schema's foreign keys.
	err := execAs(t, conn, "t3n_orders_owner", "DROP TABLE orders.customer_order CASCADE")
	if sqlState(err) != "42501" {
		t.Errorf("orders_owner cascade-drops into the undeclared shipping schema: %v", err)
	}
}

// TestGuardDisabledIsDrift shows that the guard is what stops the cascade:
// with its event trigger disabled by hand the same DROP ... CASCADE goes
// through; the plan enables it again.
func TestGuardDisabledIsDrift(t *testing.T) {
	t.Parallel()
	p := mustShop(t, "t3o_")
	srv := mustServer(t)
	mustApply(t, p, srv)
	mustMigrate(t, p, srv)
	conn := mustConnect(t, srv)
	drop := "DROP TABLE customers.customer CASCADE"
	if err := execAs(t, conn, "t3o_customers_owner", drop); sqlState(err) != "42501" {
		t.Fatalf("with the guard: %v, want it stopped", err)
	}
	mustExec(t, conn, "ALTER EVENT TRIGGER splitschema_guard DISABLE")
	if err := execAs(t, conn, "t3o_customers_owner", drop); err != nil {
		t.Fatalf("without the guard, Postgres lets the owner cascade into orders and shipping; got %v", err)
	}
	cs := mustApply(t, p, srv)
	if len(cs.Changes) != 1 || cs.Changes[0].SQL != `ALTER EVENT TRIGGER "splitschema_guard" ENABLE` {
		t.Errorf("provision with the guard disabled:\n%s", cs.Human())
	}
	if err := execAs(t, conn, "t3o_customers_owner", drop); sqlState(err) != "42501" {
		t.Errorf("after provision: %v, want the guard to stop it", err)
	}
}
