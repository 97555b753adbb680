-- +goose Up
ALTER TABLE catalog.product ALTER COLUMN id TYPE integer;

-- +goose Down
ALTER TABLE catalog.product ALTER COLUMN id TYPE bigint;
