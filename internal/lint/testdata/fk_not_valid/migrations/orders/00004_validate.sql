-- +goose Up
ALTER TABLE orders.customer_order VALIDATE CONSTRAINT customer_order_customer_fk2;

-- +goose Down
SELECT 1;
