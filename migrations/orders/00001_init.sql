-- +goose Up
CREATE TABLE orders.customer_order (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id bigint      NOT NULL REFERENCES customers.customer (id),
    status      text        NOT NULL DEFAULT 'placed'
                CHECK (status IN ('placed', 'paid', 'shipped', 'cancelled')),
    total_cents bigint      NOT NULL DEFAULT 0 CHECK (total_cents >= 0),
    placed_at   timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customer_order_customer_id_idx ON orders.customer_order (customer_id);

CREATE TABLE orders.order_line (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id         bigint      NOT NULL REFERENCES orders.customer_order (id) ON DELETE CASCADE,
    product_id       bigint      NOT NULL REFERENCES catalog.product (id),
    quantity         integer     NOT NULL CHECK (quantity > 0),
    unit_price_cents bigint      NOT NULL CHECK (unit_price_cents >= 0),
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX order_line_order_id_idx ON orders.order_line (order_id);
CREATE INDEX order_line_product_id_idx ON orders.order_line (product_id);

-- +goose Down
DROP TABLE orders.order_line;
DROP TABLE orders.customer_order;
