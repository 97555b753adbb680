-- +goose Up
CREATE TABLE catalog.product (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sku         text        NOT NULL CHECK (sku <> ''),
    name        text        NOT NULL CHECK (name <> ''),
    price_cents bigint      NOT NULL CHECK (price_cents >= 0),
    stock       integer     NOT NULL DEFAULT 0 CHECK (stock >= 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT product_sku_key UNIQUE (sku)
);

-- +goose Down
DROP TABLE catalog.product;
