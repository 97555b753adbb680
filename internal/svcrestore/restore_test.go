package svcrestore

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/splitschema/splitschema/internal/backup/backuptest"
	"github.com/splitschema/splitschema/internal/workload"
)

// damagePayments changes, deletes and adds payments, as a bad deploy
// would, and moves the payments' sequence on.
func damagePayments(t *testing.T, shop *backuptest.Shop) {
	t.Helper()
	shop.Exec(t, `
		UPDATE payments.payment SET amount_cents = amount_cents + 1, provider_ref = 'oops' WHERE id % 3 = 0;
		DELETE FROM payments.payment WHERE id % 5 = 0;
		INSERT INTO payments.payment (order_id, amount_cents) SELECT id, 7 FROM orders.customer_order WHERE id % 2 = 1 LIMIT 30;`)
}

// One service restored in place while the others write: their writes
// succeed throughout, and the service holds exactly the backup's rows.
func TestRestoreOneServiceUnderWrites(t *testing.T) {
	t.Parallel()
	shop := backuptest.New(t)
	b := mustBackup(t, shop)
	want := digest(t, shop.URL, "payments")
	damagePayments(t, shop)
	if sameAs := digest(t, shop.URL, "payments"); sameAs["payments.payment"] == want["payments.payment"] {
		t.Fatal("the damage changed nothing: the test would prove nothing")
	}
	seqBefore := queryInt(t, shop.URL, "SELECT last_value FROM payments.payment_id_seq")

	others := []string{"customers", "catalog", "orders", "shipping"}
	ctx, cancel := context.WithCancel(context.Background())
	type out struct {
		res *workload.Result
		err error
	}
	ch := make(chan out, 1)
	urls := shop.AppURLs(t)
	go func() {
		res, err := workload.Run(ctx, workload.Config{URLs: urls, Only: others, Rate: 50, Workers: 2})
		ch <- out{res, err}
	}()
	time.Sleep(500 * time.Millisecond)
	res, err := Restore(testCtx(t), shop.Project, shop.Server, b.ID, Options{Services: []string{"payments"}})
	time.Sleep(500 * time.Millisecond)
	cancel()
	w := <-ch
	if err != nil {
		t.Fatalf("restore: %v\n%s", err, res.Human())
	}
	if w.err != nil {
		t.Fatalf("writers: %v", w.err)
	}
	for _, s := range w.res.Services {
		// shipping ships paid orders, and nobody pays while payments is
		// restored: it may have had nothing to do.
		if s.Failed > 0 || (s.Committed == 0 && s.Service != "shipping") {
			t.Errorf("writer %s: %d committed, %d failed; want every write of the other services to succeed", s.Service, s.Committed, s.Failed)
		}
	}
	t.Logf("\n%s\nwriters:\n%s", res.Human(), w.res)
	if !res.OK || !res.Applied {
		t.Fatalf("result not applied: %+v", res)
	}
	sameDigest(t, "payments after the restore", digest(t, shop.URL, "payments"), want)
	for _, svc := range b.Manifest.Services {
		if svc.Name != "payments" {
			continue
		}
		for _, tb := range svc.Tables {
			if got := queryInt(t, shop.URL, "SELECT count(*) FROM payments."+tb.Name); got != tb.Rows {
				t.Errorf("payments.%s: %d rows, the manifest says %d", tb.Name, got, tb.Rows)
			}
		}
	}
	var pay TableChange
	for _, tc := range res.Tables {
		if tc.Table == "payments.payment" {
			pay = tc
		}
	}
	if pay.Update == 0 || pay.Insert == 0 || pay.Delete != 30 {
		t.Errorf("payments.payment changes %+v: want updates, inserts, and the 30 added rows deleted", pay)
	}
	// The sequence did not go back: ids handed out since are not reused.
	if got := queryInt(t, shop.URL, "SELECT last_value FROM payments.payment_id_seq"); got < seqBefore {
		t.Errorf("payments.payment_id_seq went back from %d to %d", seqBefore, got)
	}
	if n := stagingLeft(t, shop.URL); n != 0 {
		t.Errorf("%d staging tables left", n)
	}
}

// A restore that would leave other services' rows referencing rows the
// backup lacks is refused with a report whose counts are those of an
// independent query, and changes nothing; --dry-run reports the same.
func TestRestoreRefusedByInboundLinks(t *testing.T) {
	t.Parallel()
	shop := backuptest.New(t)
	b := mustBackup(t, shop)
	backupCustomers := map[int64]bool{}
	rows, err := connect(t, shop.URL).Query(testCtx(t), "SELECT id FROM customers.customer")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		backupCustomers[id] = true
	}
	shop.Exec(t, `
		UPDATE customers.customer SET name = 'Renamed' WHERE id % 4 = 0;
		INSERT INTO customers.customer (email, name) SELECT 'new' || i || '@example.com', 'New ' || i FROM generate_series(1, 7) i;
		INSERT INTO orders.customer_order (customer_id) SELECT id FROM customers.customer WHERE email LIKE 'new%' AND id % 2 = 0;
		INSERT INTO orders.customer_order (customer_id) SELECT id FROM customers.customer WHERE email LIKE 'new%';
		INSERT INTO shipping.shipment (order_id, customer_id, address, carrier)
		  SELECT o.id, o.customer_id, 'Elm Street', 'post' FROM orders.customer_order o
		  JOIN customers.customer c ON c.id = o.customer_id WHERE c.email LIKE 'new%' LIMIT 3;`)
	before := digest(t, shop.URL, shopSchemas...)

	// Independently: the live rows whose customer is not in the backup.
	independent := map[string]int64{}
	for link, sql := range map[string]string{
		"orders.customer_order(customer_id) -> customers.customer(id)": "SELECT customer_id FROM orders.customer_order",
		"shipping.shipment(customer_id) -> customers.customer(id)":     "SELECT customer_id FROM shipping.shipment",
	} {
		rows, err := connect(t, shop.URL).Query(testCtx(t), sql)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			if !backupCustomers[id] {
				independent[link]++
			}
		}
	}
	if independent["orders.customer_order(customer_id) -> customers.customer(id)"] == 0 || independent["shipping.shipment(customer_id) -> customers.customer(id)"] == 0 {
		t.Fatalf("no broken link set up: %v", independent)
	}

	for _, dry := range []bool{true, false} {
		res, err := Restore(testCtx(t), shop.Project, shop.Server, b.ID, Options{Services: []string{"customers"}, DryRun: dry})
		var refused *RefusedError
		if !errors.As(err, &refused) {
			t.Fatalf("dry run %v: err = %v, want a refusal", dry, err)
		}
		t.Logf("dry run %v:\n%s\n%v", dry, res.Human(), err)
		if res.Applied || res.OK {
			t.Errorf("dry run %v: applied %v, ok %v", dry, res.Applied, res.OK)
		}
		got := map[string]int64{}
		for _, l := range res.Links {
			if l.Direction != Inbound {
				t.Errorf("link %s: direction %s, want inbound (customers references nobody)", l.Link, l.Direction)
			}
			got[l.Link] = l.Broken
			if l.Broken > 0 && len(l.Samples) == 0 {
				t.Errorf("link %s: %d broken, no sample keys", l.Link, l.Broken)
			}
		}
		for link, n := range independent {
			if got[link] != n {
				t.Errorf("dry run %v: %s: report says %d broken rows, the independent count %d", dry, link, got[link], n)
			}
		}
		if len(got) != 2 {
			t.Errorf("links reported: %v, want the two inbound links of customers", got)
		}
		if !strings.Contains(err.Error(), "orders.customer_order(customer_id) -> customers.customer(id)") {
			t.Errorf("the refusal does not name the link: %v", err)
		}
		sameDigest(t, "after a refused restore", digest(t, shop.URL, shopSchemas...), before)
	}
}
