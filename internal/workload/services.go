package workload

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/splitschema/splitschema/gen/catalog"
	"github.com/splitschema/splitschema/gen/customers"
	"github.com/splitschema/splitschema/gen/orders"
	"github.com/splitschema/splitschema/gen/payments"
	"github.com/splitschema/splitschema/gen/shipping"
)

// Services are the example shop's services the workload drives, each
// through its own login role and its own generated queries.
var Services = []string{"customers", "catalog", "orders", "payments", "shipping"}

// stepFunc performs one business transaction of a service.
type stepFunc func(ctx context.Context, r *rand.Rand) (outcome, error)

// shop holds each service's connection pool and the registry they share.
type shop struct {
	reg   *registry
	pools map[string]*pgxpool.Pool
}

func (s *shop) steps(service string) (stepFunc, error) {
	pool := s.pools[service]
	switch service {
	case "customers":
		return s.customersStep(customers.New(pool)), nil
	case "catalog":
		return s.catalogStep(catalog.New(pool)), nil
	case "orders":
		return s.ordersStep(pool), nil
	case "payments":
		return s.paymentsStep(payments.New(pool)), nil
	case "shipping":
		return s.shippingStep(shipping.New(pool)), nil
	}
	return nil, fmt.Errorf("workload: no writer for service %q", service)
}

// customersStep: sign-ups mostly, some renames and phone numbers, and now
// and then a customer closes the account (refused while they have orders).
func (s *shop) customersStep(q *customers.Queries) stepFunc {
	return func(ctx context.Context, r *rand.Rand) (outcome, error) {
		n := r.IntN(100)
		id, known := s.reg.customer(r)
		switch {
		case n < 60 || !known:
			c, err := q.CreateCustomer(ctx, customers.CreateCustomerParams{
				Email: fmt.Sprintf("c%016x@example.com", r.Uint64()),
				Name:  fmt.Sprintf("Customer %d", r.IntN(1_000_000)),
			})
			if err != nil {
				return refused, err
			}
			s.reg.addCustomer(c.ID)
		case n < 85:
			if _, err := q.UpdateCustomerName(ctx, customers.UpdateCustomerNameParams{ID: id, Name: fmt.Sprintf("Renamed %d", r.IntN(1000))}); err != nil {
				return refused, err
			}
		case n < 95:
			phone := pgtype.Text{String: fmt.Sprintf("+41 79 %03d %02d %02d", r.IntN(1000), r.IntN(100), r.IntN(100)), Valid: true}
			if _, err := q.SetCustomerPhone(ctx, customers.SetCustomerPhoneParams{ID: id, Phone: phone}); err != nil {
				return refused, err
			}
		default:
			deleted, err := q.DeleteCustomer(ctx, id)
			if err != nil {
				return refused, err
			}
			if deleted == 1 {
				s.reg.removeCustomer(id)
			}
		}
		return committed, nil
	}
}

// catalogStep: new products, price changes and restocking.
func (s *shop) catalogStep(q *catalog.Queries) stepFunc {
	return func(ctx context.Context, r *rand.Rand) (outcome, error) {
		n := r.IntN(100)
		id, known := s.reg.product(r)
		switch {
		case n < 30 || !known:
			p, err := q.CreateProduct(ctx, catalog.CreateProductParams{
				Sku:        fmt.Sprintf("SKU-%016x", r.Uint64()),
				Name:       fmt.Sprintf("Product %d", r.IntN(100_000)),
				PriceCents: int64(100 + r.IntN(20_000)),
				Stock:      int32(r.IntN(1000)),
			})
			if err != nil {
				return refused, err
			}
			s.reg.addProduct(p.ID)
		case n < 80:
			if _, err := q.UpdateProductPrice(ctx, catalog.UpdateProductPriceParams{ID: id, PriceCents: int64(100 + r.IntN(20_000))}); err != nil {
				return refused, err
			}
		default:
			if _, err := q.AdjustStock(ctx, catalog.AdjustStockParams{ID: id, Delta: int32(1 + r.IntN(50))}); err != nil {
				return refused, err
			}
		}
		return committed, nil
	}
}

// ordersStep applies the events of payments and shipping first (marking
// orders paid or shipped), else places an order with lines, or cancels one.
func (s *shop) ordersStep(pool *pgxpool.Pool) stepFunc {
	q := orders.New(pool)
	return func(ctx context.Context, r *rand.Rand) (outcome, error) {
		if o, ok := s.reg.pop(&s.reg.paidEvents); ok {
			marked, err := q.MarkOrderPaid(ctx, o.id)
			if err != nil {
				return refused, err
			}
			if marked == 1 { // not cancelled meanwhile: shipping may take it
				s.reg.push(&s.reg.paid, o)
			}
			return committed, nil
		}
		if o, ok := s.reg.pop(&s.reg.shippedEvents); ok {
			if _, err := q.MarkOrderShipped(ctx, o.id); err != nil {
				return refused, err
			}
			return committed, nil
		}
		if r.IntN(100) < 5 {
			if o, ok := s.reg.pop(&s.reg.placed); ok {
				if _, err := q.CancelOrder(ctx, o.id); err != nil {
					return refused, err
				}
				return committed, nil
			}
		}
		customer, ok := s.reg.customer(r)
		if !ok {
			return idle, nil
		}
		var placed order
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			qt := q.WithTx(tx)
			o, err := qt.CreateOrder(ctx, customer)
			if err != nil {
				return err
			}
			for range 1 + r.IntN(3) {
				product, ok := s.reg.product(r)
				if !ok {
					break
				}
				if _, err := qt.AddOrderLine(ctx, orders.AddOrderLineParams{
					OrderID: o.ID, ProductID: product, Quantity: int32(1 + r.IntN(4)), UnitPriceCents: int64(100 + r.IntN(20_000)),
				}); err != nil {
					return err
				}
			}
			total, err := qt.SetOrderTotal(ctx, o.ID)
			placed = order{id: o.ID, customer: customer, total: total}
			return err
		})
		if err != nil {
			return refused, err
		}
		s.reg.push(&s.reg.placed, placed)
		return committed, nil
	}
}

// paymentsStep takes payment for a placed order and tells orders it is
// paid; now and then it refunds one of its payments.
func (s *shop) paymentsStep(q *payments.Queries) stepFunc {
	var taken []int64 // payments this writer recorded, for refunds
	methods := []string{"card", "card", "card", "bank_transfer", "voucher"}
	return func(ctx context.Context, r *rand.Rand) (outcome, error) {
		if r.IntN(100) < 3 && len(taken) > 0 {
			id := taken[r.IntN(len(taken))]
			if _, err := q.RefundPayment(ctx, id); err != nil {
				return refused, err
			}
			return committed, nil
		}
		o, ok := s.reg.pop(&s.reg.placed)
		if !ok {
			return idle, nil
		}
		p, err := q.RecordPayment(ctx, payments.RecordPaymentParams{
			OrderID: o.id, AmountCents: max(o.total, 1), Method: methods[r.IntN(len(methods))],
		})
		if err != nil {
			return refused, err
		}
		taken = append(taken, p.ID)
		s.reg.push(&s.reg.paidEvents, o)
		return committed, nil
	}
}

// shippingStep ships a paid order and tells orders it is shipped, or moves
// one of its shipments along.
func (s *shop) shippingStep(q *shipping.Queries) stepFunc {
	var made []int64
	statuses := []string{"in_transit", "delivered"}
	return func(ctx context.Context, r *rand.Rand) (outcome, error) {
		o, ok := s.reg.pop(&s.reg.paid)
		if !ok {
			if len(made) == 0 {
				return idle, nil
			}
			id := made[r.IntN(len(made))]
			if _, err := q.UpdateShipmentStatus(ctx, shipping.UpdateShipmentStatusParams{ID: id, Status: statuses[r.IntN(len(statuses))]}); err != nil {
				return refused, err
			}
			return committed, nil
		}
		sh, err := q.CreateShipment(ctx, shipping.CreateShipmentParams{
			OrderID: o.id, CustomerID: o.customer,
			Address: fmt.Sprintf("%d Main Street, Lugano", 1+r.IntN(200)),
			Carrier: []string{"swisspost", "dhl", "ups"}[r.IntN(3)],
		})
		if err != nil {
			return refused, err
		}
		made = append(made, sh.ID)
		s.reg.push(&s.reg.shippedEvents, o)
		return committed, nil
	}
}
