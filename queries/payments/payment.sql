-- name: RecordPayment :one
INSERT INTO payments.payment (order_id, amount_cents, method)
VALUES (@order_id, @amount_cents, @method)
RETURNING *;

-- GetPaymentByOrder returns the order's latest payment.
-- name: GetPaymentByOrder :one
SELECT * FROM payments.payment
WHERE order_id = @order_id
ORDER BY created_at DESC, id DESC
LIMIT 1;

-- name: ListPaymentsByOrder :many
SELECT * FROM payments.payment
WHERE order_id = @order_id
ORDER BY created_at, id;

-- name: SetPaymentProviderRef :execrows
UPDATE payments.payment
SET provider_ref = @provider_ref::text
WHERE id = @id;

-- name: RefundPayment :execrows
UPDATE payments.payment
SET status = 'refunded', refunded_at = now()
WHERE id = @id AND status = 'captured';

-- name: CountPayments :one
SELECT count(*) FROM payments.payment;
