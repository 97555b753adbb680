-- +goose Up
ALTER TABLE customers.customer DROP COLUMN email;

-- +goose Down
ALTER TABLE customers.customer ADD COLUMN email text;
