-- +goose Up
CREATE TABLE product.product (
    id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name  text NOT NULL,
    price price NOT NULL
);
CREATE INDEX product_name_trgm_idx ON product.product USING gin (name gin_trgm_ops);

-- +goose Down
DROP TABLE product.product;
