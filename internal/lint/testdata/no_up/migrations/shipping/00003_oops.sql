ALTER TABLE shipping.shipment ADD COLUMN note text;
