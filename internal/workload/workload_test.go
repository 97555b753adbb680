package workload_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/backup/backuptest"
	"github.com/splitschema/splitschema/internal/workload"
)

// TestShopWorks runs every service's writer for a few seconds and checks
// what a user would: every service committed work, nothing failed, the
// rows are in the tables, and the business rules hold (an order is paid
// only once a payment exists, shipped only once a shipment does).
func TestShopWorks(t *testing.T) {
	shop := backuptest.New(t)
	before := counts(t, shop.URL)

	res, err := workload.Run(context.Background(), workload.Config{
		URLs: shop.AppURLs(t), Duration: 3 * time.Second, Workers: 2, Seed: 42,
	})
	if err != nil {
		t.Fatalf("workload: %v", err)
	}
	t.Logf("\n%s", res)
	if res.Seconds < 2.5 || res.Seconds > 10 {
		t.Errorf("ran %.1fs, want about 3s", res.Seconds)
	}
	for _, s := range res.Services {
		if s.Committed == 0 || s.TPS <= 0 {
			t.Errorf("%s committed nothing: %+v", s.Service, s)
		}
		if s.Failed > 0 {
			t.Errorf("%s had %d failures that were not races", s.Service, s.Failed)
		}
	}

	after := counts(t, shop.URL)
	for table, n := range before {
		if after[table] <= n {
			t.Errorf("%s: %d rows before, %d after: the workload wrote none", table, n, after[table])
		}
	}
	for rule, q := range map[string]string{
		"order paid without a payment": `SELECT count(*) FROM orders.customer_order o
			WHERE o.status IN ('paid', 'shipped') AND o.placed_at > $1
			AND NOT EXISTS (SELECT FROM payments.payment p WHERE p.order_id = o.id)`,
		"order shipped without a shipment": `SELECT count(*) FROM orders.customer_order o
			WHERE o.status = 'shipped' AND o.placed_at > $1
			AND NOT EXISTS (SELECT FROM shipping.shipment s WHERE s.order_id = o.id)`,
	} {
		if n := scalar(t, shop.URL, q, startOfTest); n != 0 {
			t.Errorf("%s: %d orders", rule, n)
		}
	}
	if n := scalar(t, shop.URL, `SELECT count(*) FROM orders.customer_order WHERE status = 'shipped' AND placed_at > $1`, startOfTest); n == 0 {
		t.Error("no order went all the way to shipped: the services do not talk to each other")
	}
}

// TestWrongPasswordStops shows that a service that cannot log in ends the
// run with an error naming it, instead of a run that silently did nothing.
func TestWrongPasswordStops(t *testing.T) {
	shop := backuptest.New(t)
	urls := shop.AppURLs(t)
	u, err := url.Parse(urls["payments"])
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), "not-the-password")
	urls["payments"] = u.String()
	_, err = workload.Run(context.Background(), workload.Config{URLs: urls, Duration: time.Second})
	if err == nil {
		t.Fatal("a wrong password went unnoticed")
	}
	if got := err.Error(); !strings.Contains(got, "payments") || strings.Contains(got, "not-the-password") {
		t.Errorf("error = %q; want it to name payments and hide the password", got)
	}
}

var startOfTest = time.Now()

func counts(t *testing.T, u string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, table := range []string{"customers.customer", "catalog.product", "orders.customer_order", "orders.order_line", "payments.payment", "shipping.shipment"} {
		out[table] = scalar(t, u, "SELECT count(*) FROM "+table)
	}
	return out
}

func scalar(t *testing.T, u, q string, args ...any) int64 {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int64
	if err := conn.QueryRow(ctx, q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}
