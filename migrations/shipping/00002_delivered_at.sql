-- +goose Up
ALTER TABLE shipping.shipment ADD COLUMN delivered_at timestamptz;

-- +goose Down
ALTER TABLE shipping.shipment DROP COLUMN delivered_at;
