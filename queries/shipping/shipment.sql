-- name: CreateShipment :one
INSERT INTO shipping.shipment (order_id, customer_id, address, carrier)
VALUES (@order_id, @customer_id, @address, @carrier)
RETURNING *;

-- UpdateShipmentStatus also stamps delivered_at when the status becomes 'delivered'.
-- name: UpdateShipmentStatus :execrows
UPDATE shipping.shipment
SET status = @status::text,
    delivered_at = CASE WHEN @status::text = 'delivered' THEN now() ELSE delivered_at END,
    updated_at = now()
WHERE id = @id;

-- name: SetTrackingCode :execrows
UPDATE shipping.shipment
SET tracking_code = @tracking_code::text, updated_at = now()
WHERE id = @id;

-- GetShipmentByOrder returns the order's latest shipment.
-- name: GetShipmentByOrder :one
SELECT * FROM shipping.shipment
WHERE order_id = @order_id
ORDER BY created_at DESC, id DESC
LIMIT 1;

-- name: CountShipments :one
SELECT count(*) FROM shipping.shipment;
