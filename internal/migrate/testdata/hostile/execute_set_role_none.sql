-- SET ROLE NONE through dynamic SQL: back to the session's login (issue 11, escape 1b).
-- +goose Up
-- +goose StatementBegin
DO $$ BEGIN EXECUTE 'SET ' || 'ROLE none'; END $$;
-- +goose StatementEnd
CREATE TABLE catalog.stolen AS SELECT * FROM customers.customer;

-- +goose Down
SELECT 1;
