-- +goose Up
-- Customers get a UUID; the old key goes, and with it (CASCADE) the foreign
-- keys of orders and shipping, which the guard refuses.
ALTER TABLE customers.customer ADD COLUMN uid uuid;
ALTER TABLE customers.customer DROP COLUMN id CASCADE;

-- +goose Down
ALTER TABLE customers.customer ADD COLUMN id bigint;
ALTER TABLE customers.customer DROP COLUMN uid;
