-- Grants another service's table to everyone, then reads it.
-- +goose Up
GRANT SELECT ON customers.customer TO PUBLIC;
CREATE TABLE catalog.stolen AS SELECT * FROM customers.customer;

-- +goose Down
SELECT 1;
