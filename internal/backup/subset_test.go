package backup

import (
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/backup/backuptest"
)

// restore ID --service orders --target-db X: the new database holds the
// orders schema alone, with the backup's rows and the foreign key inside
// it, verified; the links to customers and catalog, and those of payments
// and shipping to orders, are listed as not restored, and the isolation
// audit says it did not run.
func TestRestoreOneServiceIntoNewDatabase(t *testing.T) {
	t.Parallel()
	shop := backuptest.New(t)
	b := mustBackup(t, shop, Options{})
	db := shop.Server.Database + "_orders"
	o := restoreOpts(db)
	o.Services = []string{"orders"}
	rr, err := Restore(testCtx(t), shop.Project, shop.Server, b.ID, o)
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	t.Logf("\n%s", rr.Human())
	if !rr.OK || rr.Verify == nil || !rr.Verify.OK {
		t.Fatalf("result %+v, want verified", rr)
	}
	if rr.Verify.Audit != "not run" {
		t.Errorf("audit %q, want \"not run\": it cannot run on one service", rr.Verify.Audit)
	}
	url := replaceDB(shop.URL, db)
	conn, err := pgx.Connect(testCtx(t), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(testCtx(t))
	rows, _ := conn.Query(testCtx(t), `SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\_%' AND nspname NOT IN ('information_schema', 'public') ORDER BY 1`)
	schemas, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(schemas, []string{"orders"}) {
		t.Errorf("schemas %v, want [orders]", schemas)
	}
	for _, tb := range b.Manifest.Services {
		if tb.Name != "orders" {
			continue
		}
		for _, table := range tb.Tables {
			var n int64
			if err := conn.QueryRow(testCtx(t), "SELECT count(*) FROM "+pgx.Identifier{"orders", table.Name}.Sanitize()).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != table.Rows {
				t.Errorf("orders.%s: %d rows, the backup %d", table.Name, n, table.Rows)
			}
		}
	}
	var inside, valid int
	if err := conn.QueryRow(testCtx(t), `SELECT count(*), count(*) FILTER (WHERE convalidated) FROM pg_constraint
		WHERE contype = 'f' AND conrelid = 'orders.order_line'::regclass AND confrelid = 'orders.customer_order'::regclass`).Scan(&inside, &valid); err != nil {
		t.Fatal(err)
	}
	if inside != 1 || valid != 1 {
		t.Errorf("order_line -> customer_order: %d foreign keys, %d validated; want 1, 1", inside, valid)
	}
	notRestored := strings.Join(rr.NotRestored, "\n")
	for _, want := range []string{"orders.customer_order(customer_id) -> customers.customer(id)", "orders.order_line(product_id) -> catalog.product(id)",
		"payments.payment(order_id) -> orders.customer_order(id)", "shipping.shipment(order_id) -> orders.customer_order(id)"} {
		if !strings.Contains(notRestored, want) {
			t.Errorf("not restored does not list %s:\n%s", want, notRestored)
		}
	}
	if strings.Contains(notRestored, "order_line(order_id)") {
		t.Errorf("the foreign key inside orders is listed as not restored:\n%s", notRestored)
	}
	if !strings.Contains(rr.Human(), "not restored, not checked") {
		t.Errorf("the report does not say what was not restored:\n%s", rr.Human())
	}

	// Refused, changing nothing: an unknown service, no target database.
	o.TargetDB = db + "_x"
	o.Services = []string{"nope"}
	if _, err := Restore(testCtx(t), shop.Project, shop.Server, b.ID, o); err == nil || !strings.Contains(err.Error(), "no service nope") {
		t.Errorf("unknown service: err = %v", err)
	}
	if exists(t, shop, o.TargetDB) {
		t.Errorf("database %s created by a refused restore", o.TargetDB)
	}
	o.TargetDB = ""
	o.Services = []string{"orders"}
	if _, err := Restore(testCtx(t), shop.Project, shop.Server, b.ID, o); err == nil || !strings.Contains(err.Error(), "--target-db") {
		t.Errorf("no target database: err = %v", err)
	}
}
