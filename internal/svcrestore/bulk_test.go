package svcrestore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/backup/backuptest"
)

// The merge inserts the backup's missing rows in bulk, without
// PostgreSQL's per-row foreign key checks, and checks them itself before
// it commits. An order that a restored payment references, deleted after
// the report was counted (committed before the merge locks the tables, or
// still in progress while it waits for them), is found by that check: the
// restore is refused, rolled back, and no payment is left referencing a
// missing order.
func TestRestoreChecksBulkInsertedRows(t *testing.T) {
	t.Parallel()
	type tc struct{ deleter, lost string }
	var cases []tc
	for _, d := range []string{"committed", "in progress"} {
		// Every payment lost (the rows go straight from the staging table),
		// or one (the missing rows are picked out first).
		for _, lost := range []string{"all payments", "one payment"} {
			cases = append(cases, tc{d, lost})
		}
	}
	for _, c := range cases {
		deleter := c.deleter
		t.Run(c.deleter+", "+c.lost, func(t *testing.T) {
			t.Parallel()
			shop := backuptest.New(t)
			b := mustBackup(t, shop)
			// An order that a payment of the backup references.
			victim := queryInt(t, shop.URL, "SELECT min(order_id) FROM payments.payment")
			lose := "DELETE FROM payments.payment"
			if c.lost == "one payment" {
				lose += fmt.Sprintf(" WHERE order_id = %d", victim)
			}
			shop.Exec(t, lose)
			live := queryInt(t, shop.URL, "SELECT count(*) FROM payments.payment")
			before := digest(t, shop.URL, shopSchemas...)
			other := connect(t, shop.URL)
			ctx := testCtx(t)
			var committed chan error
			o := Options{Services: []string{"payments"}, LockTimeout: time.Minute}
			o.locking = func() {
				if _, err := other.Exec(ctx, "BEGIN"); err != nil {
					t.Error(err)
					return
				}
				if _, err := other.Exec(ctx, "DELETE FROM shipping.shipment WHERE order_id = $1", victim); err != nil {
					t.Error(err)
				}
				if _, err := other.Exec(ctx, "DELETE FROM orders.customer_order WHERE id = $1", victim); err != nil {
					t.Error(err)
				}
				if deleter == "committed" {
					if _, err := other.Exec(ctx, "COMMIT"); err != nil {
						t.Error(err)
					}
					return
				}
				// Still in progress: its foreign key action on payments
				// holds a lock the merge waits for; commit once it waits.
				committed = make(chan error, 1)
				go func() { committed <- commitWhenRestoreWaits(ctx, shop.URL, other) }()
			}
			_, err := Restore(ctx, shop.Project, shop.Server, b.ID, o)
			if committed != nil {
				if cerr := <-committed; cerr != nil {
					t.Fatalf("the deleting session: %v", cerr)
				}
			}
			var refused *RefusedError
			if !errors.As(err, &refused) {
				t.Fatalf("err = %v, want a refusal naming payments.payment(order_id) -> orders.customer_order(id)", err)
			}
			if !strings.Contains(err.Error(), "payments.payment(order_id) -> orders.customer_order(id)") {
				t.Errorf("the refusal does not name the link: %v", err)
			}
			t.Logf("%v", err)
			if n := queryInt(t, shop.URL, `SELECT count(*) FROM payments.payment p
				WHERE NOT EXISTS (SELECT 1 FROM orders.customer_order o WHERE o.id = p.order_id)`); n != 0 {
				t.Errorf("%d payments reference a missing order", n)
			}
			if n := queryInt(t, shop.URL, "SELECT count(*) FROM payments.payment"); n != live {
				t.Errorf("payments.payment holds %d rows after a refused restore, want %d (as before)", n, live)
			}
			after := digest(t, shop.URL, "payments", "customers", "catalog")
			for k, v := range after {
				if before[k] != v {
					t.Errorf("%s changed: %s, was %s", k, v, before[k])
				}
			}
		})
	}
}

// commitWhenRestoreWaits commits the transaction open on conn once the
// service restore's session waits for a lock.
func commitWhenRestoreWaits(ctx context.Context, url string, conn *pgx.Conn) error {
	watch, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer watch.Close(context.Background())
	for {
		var waiting bool
		err := watch.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE application_name = $1 AND wait_event_type = 'Lock')`, ApplicationName).Scan(&waiting)
		if err != nil {
			return err
		}
		if waiting {
			_, err := conn.Exec(ctx, "COMMIT")
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Orders deleted since the backup, with their payments: restoring
// payments would bring back payments of orders that are gone. A dry run
// counts them before anything is locked; the restore itself counts them
// in its merge, as it checks the rows it inserts, rolls back and refuses
// with the same count and sample keys. Both equal a query's count.
func TestRestoreRefusedByOutboundLinks(t *testing.T) {
	t.Parallel()
	shop := backuptest.New(t)
	b := mustBackup(t, shop)
	// Orders without a shipment, that have payments: 7 of them go.
	shop.Exec(t, `CREATE TABLE public.gone AS
		SELECT DISTINCT p.order_id AS id FROM payments.payment p
		WHERE NOT EXISTS (SELECT 1 FROM shipping.shipment s WHERE s.order_id = p.order_id)
		ORDER BY 1 LIMIT 7`)
	want := queryInt(t, shop.URL, "SELECT count(*) FROM payments.payment WHERE order_id IN (SELECT id FROM public.gone)")
	if want < 7 {
		t.Fatalf("only %d payments of the chosen orders", want)
	}
	shop.Exec(t, `DELETE FROM payments.payment WHERE order_id IN (SELECT id FROM public.gone);
		DELETE FROM orders.customer_order WHERE id IN (SELECT id FROM public.gone);
		DROP TABLE public.gone`)
	before := digest(t, shop.URL, shopSchemas...)
	for _, dry := range []bool{true, false} {
		res, err := Restore(testCtx(t), shop.Project, shop.Server, b.ID, Options{Services: []string{"payments"}, DryRun: dry})
		var refused *RefusedError
		if !errors.As(err, &refused) {
			t.Fatalf("dry run %v: err = %v, want a refusal", dry, err)
		}
		var found bool
		for _, l := range res.Links {
			if l.Direction != Outbound || l.Link != "payments.payment(order_id) -> orders.customer_order(id)" {
				continue
			}
			found = true
			if l.Broken != want || len(l.Samples) != 5 {
				t.Errorf("dry run %v: %s: %d broken, %d samples; want %d, 5", dry, l.Link, l.Broken, len(l.Samples), want)
			}
		}
		if !found {
			t.Errorf("dry run %v: no outbound link reported: %+v", dry, res.Links)
		}
		if res.Applied {
			t.Errorf("dry run %v: applied", dry)
		}
		t.Logf("dry run %v:\n%s", dry, res.Human())
		sameDigest(t, fmt.Sprintf("after a refused restore (dry run %v)", dry), digest(t, shop.URL, shopSchemas...), before)
	}
}

// A partitioned table of the restored service: its rows are staged and
// merged partition by partition, and the foreign key each partition
// inherits is checked on the rows inserted into it: an order deleted since
// the backup makes the restore refuse, nothing changed; with the order
// there, the partitions get the backup's rows back.
func TestRestorePartitionedTable(t *testing.T) {
	t.Parallel()
	shop := backuptest.New(t)
	shop.Exec(t, `
		CREATE TABLE payments.ledger (
		    id       bigint NOT NULL,
		    kind     int    NOT NULL,
		    order_id bigint NOT NULL REFERENCES orders.customer_order (id),
		    PRIMARY KEY (id, kind)
		) PARTITION BY LIST (kind);
		CREATE TABLE payments.ledger_credit PARTITION OF payments.ledger FOR VALUES IN (1);
		CREATE TABLE payments.ledger_debit PARTITION OF payments.ledger FOR VALUES IN (2);
		INSERT INTO payments.ledger SELECT n, 1 + (n % 2), id FROM (
		  SELECT row_number() OVER (ORDER BY o.id) AS n, o.id FROM orders.customer_order o
		  WHERE NOT EXISTS (SELECT 1 FROM shipping.shipment s WHERE s.order_id = o.id)) x`)
	// An order with a ledger row and nothing else referencing it.
	victim := queryInt(t, shop.URL, `WITH o AS (INSERT INTO orders.customer_order (customer_id) SELECT min(id) FROM customers.customer RETURNING id)
		INSERT INTO payments.ledger SELECT 1000000, 2, id FROM o RETURNING order_id`)
	b := mustBackup(t, shop)
	want := digest(t, shop.URL, "payments")
	shop.Exec(t, "DELETE FROM payments.ledger")

	// The order gone: refused, the partitions still empty.
	shop.Exec(t, fmt.Sprintf("DELETE FROM orders.customer_order WHERE id = %d", victim))
	for _, dry := range []bool{true, false} {
		res, err := Restore(testCtx(t), shop.Project, shop.Server, b.ID, Options{Services: []string{"payments"}, DryRun: dry})
		var refused *RefusedError
		if !errors.As(err, &refused) || !strings.Contains(err.Error(), "1 restored rows would reference rows that no longer exist through payments.ledger(order_id) -> orders.customer_order(id)") {
			t.Fatalf("dry run %v: err = %v, want a refusal naming the ledger's key to orders", dry, err)
		}
		t.Logf("dry run %v:\n%s", dry, res.Human())
	}
	if n := queryInt(t, shop.URL, "SELECT count(*) FROM payments.ledger"); n != 0 {
		t.Errorf("payments.ledger holds %d rows after a refused restore, want 0", n)
	}

	// The order back under its id: the restore goes through.
	shop.Exec(t, fmt.Sprintf(`INSERT INTO orders.customer_order (id, customer_id) OVERRIDING SYSTEM VALUE
		SELECT %d, min(id) FROM customers.customer`, victim))
	res, err := Restore(testCtx(t), shop.Project, shop.Server, b.ID, Options{Services: []string{"payments"}})
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	t.Logf("\n%s", res.Human())
	got := digest(t, shop.URL, "payments")
	for _, leaf := range []string{"payments.ledger_credit", "payments.ledger_debit"} {
		if got[leaf] != want[leaf] || strings.HasPrefix(got[leaf], "0 rows") {
			t.Errorf("%s: %s, the backup %s", leaf, got[leaf], want[leaf])
		}
	}
}
