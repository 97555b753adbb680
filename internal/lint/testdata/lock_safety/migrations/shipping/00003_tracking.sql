-- +goose Up
ALTER TABLE shipping.shipment
    ALTER COLUMN carrier TYPE varchar(100),
    ADD COLUMN ref uuid DEFAULT gen_random_uuid(),
    ADD COLUMN weight_grams integer DEFAULT 0;
ALTER TABLE shipping.shipment ALTER COLUMN tracking_code SET NOT NULL;
ALTER TABLE shipping.shipment ADD CONSTRAINT shipment_carrier_not_none CHECK (carrier <> 'none');
ALTER TABLE shipping.shipment ADD CONSTRAINT shipment_address_length CHECK (length(address) < 500) NOT VALID;

-- +goose Down
ALTER TABLE shipping.shipment DROP CONSTRAINT shipment_address_length;
ALTER TABLE shipping.shipment DROP CONSTRAINT shipment_carrier_not_none;
ALTER TABLE shipping.shipment ALTER COLUMN tracking_code DROP NOT NULL;
ALTER TABLE shipping.shipment DROP COLUMN weight_grams, DROP COLUMN ref, ALTER COLUMN carrier TYPE text;
