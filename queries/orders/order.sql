-- name: CreateOrder :one
INSERT INTO orders.customer_order (customer_id)
VALUES (@customer_id)
RETURNING *;

-- name: AddOrderLine :one
INSERT INTO orders.order_line (order_id, product_id, quantity, unit_price_cents)
VALUES (@order_id, @product_id, @quantity, @unit_price_cents)
RETURNING *;

-- SetOrderTotal recomputes the order's total from its lines and returns it.
-- name: SetOrderTotal :one
UPDATE orders.customer_order
SET total_cents = (
        SELECT coalesce(sum(l.quantity * l.unit_price_cents), 0)::bigint
        FROM orders.order_line l
        WHERE l.order_id = @id
    ),
    updated_at = now()
WHERE customer_order.id = @id
RETURNING total_cents;

-- name: MarkOrderPaid :execrows
UPDATE orders.customer_order
SET status = 'paid', updated_at = now()
WHERE id = @id AND status = 'placed';

-- name: MarkOrderShipped :execrows
UPDATE orders.customer_order
SET status = 'shipped', updated_at = now()
WHERE id = @id AND status = 'paid';

-- name: CancelOrder :execrows
UPDATE orders.customer_order
SET status = 'cancelled', updated_at = now()
WHERE id = @id AND status IN ('placed', 'paid');

-- name: GetOrder :one
SELECT * FROM orders.customer_order
WHERE id = @id;

-- name: ListOrderLines :many
SELECT * FROM orders.order_line
WHERE order_id = @order_id
ORDER BY id;

-- name: ListOrdersByStatus :many
SELECT * FROM orders.customer_order
WHERE status = @status
ORDER BY placed_at, id
LIMIT @max_rows;

-- name: ListOrdersByCustomer :many
SELECT * FROM orders.customer_order
WHERE customer_id = @customer_id
ORDER BY placed_at DESC, id DESC
LIMIT @max_rows;

-- name: RandomOrderByStatus :one
SELECT * FROM orders.customer_order
WHERE status = @status
ORDER BY random()
LIMIT 1;

-- name: CountOrders :one
SELECT count(*) FROM orders.customer_order;
