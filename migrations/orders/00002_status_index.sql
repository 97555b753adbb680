-- +goose NO TRANSACTION
-- customer_order already holds rows here: build the index without locking writers.

-- +goose Up
CREATE INDEX CONCURRENTLY IF NOT EXISTS customer_order_status_placed_at_idx
    ON orders.customer_order (status, placed_at);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS orders.customer_order_status_placed_at_idx;
