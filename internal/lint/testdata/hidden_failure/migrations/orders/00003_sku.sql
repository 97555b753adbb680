-- +goose Up
CREATE EXTENSION IF NOT EXISTS citext;
ALTER TABLE orders.order_line ADD COLUMN sku text REFERENCES catalog.product (sku);

-- +goose Down
ALTER TABLE orders.order_line DROP COLUMN sku;
