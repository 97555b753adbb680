-- +goose Up
CREATE INDEX CONCURRENTLY customer_order_total_idx ON orders.customer_order (total_cents);

-- +goose Down
DROP INDEX CONCURRENTLY orders.customer_order_total_idx;
