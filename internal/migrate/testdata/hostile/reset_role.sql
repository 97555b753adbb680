-- RESET ROLE: back to the role the session started with.
-- +goose Up
RESET ROLE;
CREATE TABLE catalog.stolen AS SELECT * FROM customers.customer;

-- +goose Down
SELECT 1;
