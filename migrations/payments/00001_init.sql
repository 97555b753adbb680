-- +goose Up
CREATE TABLE payments.payment (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id     bigint      NOT NULL REFERENCES orders.customer_order (id),
    amount_cents bigint      NOT NULL CHECK (amount_cents > 0),
    method       text        NOT NULL DEFAULT 'card'
                 CHECK (method IN ('card', 'bank_transfer', 'voucher')),
    status       text        NOT NULL DEFAULT 'captured'
                 CHECK (status IN ('pending', 'captured', 'failed', 'refunded')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    refunded_at  timestamptz,
    CONSTRAINT payment_refunded_at_check CHECK ((status = 'refunded') = (refunded_at IS NOT NULL))
);
CREATE INDEX payment_order_id_idx ON payments.payment (order_id);

-- +goose Down
DROP TABLE payments.payment;
