-- +goose Up
SET ROLE NONE;
DROP TABLE orders.order_line;

-- +goose Down
SELECT 1;
