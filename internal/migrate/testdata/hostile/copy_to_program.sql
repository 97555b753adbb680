-- A shell command through COPY, which needs superuser or pg_execute_server_program.
-- +goose Up
COPY (SELECT 1) TO PROGRAM 'touch /tmp/splitschema-hostile-copy';
CREATE TABLE catalog.stolen AS SELECT * FROM customers.customer;

-- +goose Down
SELECT 1;
