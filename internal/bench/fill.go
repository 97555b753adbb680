package bench

import (
	"math"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Rows of the shop at SCALE=1; every count grows linearly with SCALE.
const (
	customersPerScale = 250_000
	productsPerScale  = 50_000
	ordersPerScale    = 1_000_000
)

// shopSize is how many rows the shop gets.
type shopSize struct {
	customers, products, orders int64
}

func sizeAt(scale float64) shopSize {
	n := func(base float64) int64 { return max(10, int64(math.Round(base*scale))) }
	return shopSize{customers: n(customersPerScale), products: n(productsPerScale), orders: n(ordersPerScale)}
}

// fillStatement is one INSERT of the fill, with its parameters. Every
// statement is independent of the others (foreign keys are checked by
// nobody during the fill, see fillStatements), so they run in parallel.
type fillStatement struct {
	table pgx.Identifier
	sql   string
	args  []any
	// weight estimates its cost, to start the biggest first.
	weight int64
}

// fillStatements generate the shop's rows with generate_series: order i
// belongs to customer 1 + (i*7919 mod customers); every order has one or
// two lines; three orders in five are paid, two in five shipped. Ids of
// the tables that others reference are set explicitly (the identity
// sequences are moved past them afterwards), so the rows reference each
// other without being looked up. The text is varied the way real names,
// e-mails, addresses and payment references are, so that compression
// meets something like real data.
func fillStatements(s shopSize) []fillStatement {
	return []fillStatement{
		{table: pgx.Identifier{"customers", "customer"}, weight: s.customers * 3, args: []any{s.customers}, sql: `
INSERT INTO customers.customer (id, email, name, phone, created_at, updated_at) OVERRIDING SYSTEM VALUE
SELECT i,
       'user' || i || '.' || left(md5(i::text), 6) || '@example.com',
       initcap(left(md5('first' || i), 7)) || ' ' || initcap(left(md5('last' || i), 9)),
       CASE WHEN i % 3 = 0 THEN '+41 79 ' || lpad((i % 1000)::text, 3, '0') || ' ' || lpad((i % 100)::text, 2, '0') || ' ' || lpad((i % 97)::text, 2, '0') END,
       timestamptz '2022-01-01 00:00:00+00' + i * interval '2 minutes',
       timestamptz '2022-01-01 00:00:00+00' + i * interval '2 minutes' + (i % 1000) * interval '1 hour'
FROM generate_series(1, $1::bigint) AS i`},
		{table: pgx.Identifier{"catalog", "product"}, weight: s.products * 3, args: []any{s.products}, sql: `
INSERT INTO catalog.product (id, sku, name, price_cents, stock, created_at, updated_at) OVERRIDING SYSTEM VALUE
SELECT i,
       'SKU-' || lpad(i::text, 8, '0') || '-' || upper(left(md5('sku' || i), 4)),
       'Product ' || initcap(left(md5('product' || i), 10)),
       100 + (i * 7919) % 50000,
       (i * 31) % 1000,
       timestamptz '2021-06-01 00:00:00+00' + i * interval '10 minutes',
       timestamptz '2021-06-01 00:00:00+00' + i * interval '10 minutes' + (i % 500) * interval '1 day'
FROM generate_series(1, $1::bigint) AS i`},
		{table: pgx.Identifier{"orders", "customer_order"}, weight: s.orders * 2, args: []any{s.orders, s.customers}, sql: `
INSERT INTO orders.customer_order (id, customer_id, status, total_cents, placed_at, updated_at) OVERRIDING SYSTEM VALUE
SELECT i,
       1 + (i * 7919) % $2::bigint,
       CASE WHEN i % 5 < 2 THEN 'shipped' WHEN i % 5 = 2 THEN 'paid' WHEN i % 50 = 49 THEN 'cancelled' ELSE 'placed' END,
       100 + (i * 104729) % 100000,
       timestamptz '2023-01-01 00:00:00+00' + i * interval '30 seconds',
       timestamptz '2023-01-01 00:00:00+00' + i * interval '30 seconds' + (i % 72) * interval '1 hour'
FROM generate_series(1, $1::bigint) AS i`},
		{table: pgx.Identifier{"orders", "order_line"}, weight: s.orders * 3, args: []any{s.orders, s.products}, sql: `
INSERT INTO orders.order_line (order_id, product_id, quantity, unit_price_cents, created_at)
SELECT i,
       1 + (i * 31 + k * 7919) % $2::bigint,
       1 + (i + k) % 4,
       100 + (i * k * 37) % 20000,
       timestamptz '2023-01-01 00:00:00+00' + i * interval '30 seconds'
FROM generate_series(1, $1::bigint) AS i, generate_series(1, 1 + (i % 2)::int) AS k`},
		{table: pgx.Identifier{"payments", "payment"}, weight: s.orders * 2, args: []any{s.orders}, sql: `
INSERT INTO payments.payment (order_id, amount_cents, method, status, created_at, provider_ref)
SELECT i,
       100 + (i * 104729) % 100000,
       (ARRAY['card', 'card', 'card', 'bank_transfer', 'voucher'])[1 + (i / 5) % 5],
       'captured',
       timestamptz '2023-01-01 00:05:00+00' + i * interval '30 seconds',
       'pi_' || md5('payment' || i)
FROM generate_series(1, $1::bigint) AS i
WHERE i % 5 < 3`},
		{table: pgx.Identifier{"shipping", "shipment"}, weight: s.orders * 2, args: []any{s.orders, s.customers}, sql: `
INSERT INTO shipping.shipment (order_id, customer_id, address, carrier, tracking_code, status, created_at, updated_at, delivered_at)
SELECT i,
       1 + (i * 7919) % $2::bigint,
       (1 + i % 200) || ' ' || initcap(left(md5('street' || i), 8)) || ' Street, ' || (ARRAY['Lugano', 'Zurich', 'Geneva', 'Basel', 'Bern'])[1 + (i / 5) % 5],
       (ARRAY['swisspost', 'dhl', 'ups'])[1 + i % 3],
       'TRK' || lpad(i::text, 10, '0') || upper(left(md5('track' || i), 4)),
       CASE WHEN i % 10 = 0 THEN 'delivered' ELSE 'in_transit' END,
       timestamptz '2023-01-01 01:00:00+00' + i * interval '30 seconds',
       timestamptz '2023-01-01 01:00:00+00' + i * interval '30 seconds' + interval '1 day',
       CASE WHEN i % 10 = 0 THEN timestamptz '2023-01-03 00:00:00+00' + i * interval '30 seconds' END
FROM generate_series(1, $1::bigint) AS i
WHERE i % 5 < 2`},
	}
}

// name is the statement's table, schema-qualified, for messages.
func (f fillStatement) name() string { return strings.Join(f.table, ".") }
