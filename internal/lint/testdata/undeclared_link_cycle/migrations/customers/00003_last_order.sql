-- +goose Up
ALTER TABLE customers.customer ADD COLUMN last_order_id bigint REFERENCES orders.customer_order (id);

-- +goose Down
ALTER TABLE customers.customer DROP COLUMN last_order_id;
