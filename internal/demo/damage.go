package demo

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/archive"
	"github.com/splitschema/splitschema/internal/inspect"
)

// Damage is what a restored database lost: per cross-service foreign key
// the rows that reference a row that is not there, and per business rule
// the rows whose state says another service's row must exist when it
// does not.
type Damage struct {
	// Broken is keyed by LinkName.
	Broken map[string]int64
	// Orphans is keyed by the rule's name.
	Orphans map[string]int64
}

// Total is the sum of broken links and orphan state.
func (d Damage) Total() int64 {
	var n int64
	for _, v := range d.Broken {
		n += v
	}
	for _, v := range d.Orphans {
		n += v
	}
	return n
}

// LinkName names a foreign key for the table, e.g.
// "orders.customer_order(customer_id) -> customers.customer(id)".
func LinkName(fk archive.ForeignKey) string {
	return fmt.Sprintf("%s.%s(%s) -> %s.%s(%s)", fk.From.Schema, fk.From.Table, strings.Join(fk.From.Columns, ", "),
		fk.To.Schema, fk.To.Table, strings.Join(fk.To.Columns, ", "))
}

// orphanRule is a business rule of the example shop that holds in every
// consistent state of it: the orders service marks an order paid only
// after payments told it a payment was recorded, and so on. A state in
// flight (a payment whose event orders has not applied yet) is consistent
// and is not counted.
type orphanRule struct {
	Name string
	SQL  string
}

var orphanRules = []orphanRule{
	{"orders paid or shipped without a payment", `SELECT count(*) FROM orders.customer_order o
		WHERE o.status IN ('paid', 'shipped')
		AND NOT EXISTS (SELECT FROM payments.payment p WHERE p.order_id = o.id)`},
	{"orders shipped without a shipment", `SELECT count(*) FROM orders.customer_order o
		WHERE o.status = 'shipped'
		AND NOT EXISTS (SELECT FROM shipping.shipment s WHERE s.order_id = o.id)`},
	{"shipments of orders not paid", `SELECT count(*) FROM shipping.shipment s
		JOIN orders.customer_order o ON o.id = s.order_id
		WHERE o.status NOT IN ('paid', 'shipped')`},
}

// measureDamage counts the broken links of every foreign key in fks and
// the orphan state, on the database conn is connected to. It reads the
// data with queries, whether or not the foreign keys exist there.
func measureDamage(ctx context.Context, conn *pgx.Conn, fks []archive.ForeignKey) (Damage, error) {
	d := Damage{Broken: map[string]int64{}, Orphans: map[string]int64{}}
	for _, fk := range fks {
		q, err := inspect.BrokenSQL(fk)
		if err != nil {
			return d, err
		}
		var n int64
		if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
			return d, fmt.Errorf("count broken links of %s: %w", LinkName(fk), err)
		}
		d.Broken[LinkName(fk)] = n
	}
	for _, r := range orphanRules {
		var n int64
		if err := conn.QueryRow(ctx, r.SQL).Scan(&n); err != nil {
			return d, fmt.Errorf("count %s: %w", r.Name, err)
		}
		d.Orphans[r.Name] = n
	}
	return d, nil
}
