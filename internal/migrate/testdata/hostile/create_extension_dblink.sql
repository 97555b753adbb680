-- An untrusted extension: dblink would open a new session as any login
-- role with a password it can guess, or as the server's own user.
-- +goose Up
CREATE EXTENSION dblink SCHEMA catalog;
CREATE TABLE catalog.stolen AS SELECT * FROM customers.customer;

-- +goose Down
SELECT 1;
