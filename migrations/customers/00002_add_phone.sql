-- +goose Up
ALTER TABLE customers.customer
    ADD COLUMN phone text CHECK (phone ~ '^\+?[0-9 ()-]{5,20}$');

-- +goose Down
ALTER TABLE customers.customer DROP COLUMN phone;
