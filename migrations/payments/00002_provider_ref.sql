-- +goose Up
ALTER TABLE payments.payment ADD COLUMN provider_ref text;

-- +goose Down
ALTER TABLE payments.payment DROP COLUMN provider_ref;
