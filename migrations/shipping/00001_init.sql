-- +goose Up
CREATE TABLE shipping.shipment (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id      bigint      NOT NULL REFERENCES orders.customer_order (id),
    customer_id   bigint      NOT NULL REFERENCES customers.customer (id),
    address       text        NOT NULL CHECK (address <> ''),
    carrier       text        NOT NULL CHECK (carrier <> ''),
    tracking_code text,
    status        text        NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'in_transit', 'delivered', 'returned')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT shipment_tracking_code_key UNIQUE (tracking_code)
);
CREATE INDEX shipment_order_id_idx ON shipping.shipment (order_id);
CREATE INDEX shipment_customer_id_idx ON shipping.shipment (customer_id);

-- +goose Down
DROP TABLE shipping.shipment;
