-- +goose Up
CREATE TABLE orders.favourite (
    customer_id bigint NOT NULL REFERENCES customers.customer (id) ON DELETE CASCADE,
    order_id    bigint REFERENCES orders.customer_order (id) ON DELETE CASCADE,
    other_id    bigint REFERENCES customers.customer (id) ON DELETE RESTRICT ON UPDATE SET NULL
);
ALTER TABLE orders.customer_order ADD CONSTRAINT customer_order_customer_fk
    FOREIGN KEY (customer_id) REFERENCES customers.customer (id) NOT VALID;

-- +goose Down
DROP TABLE orders.favourite;
ALTER TABLE orders.customer_order DROP CONSTRAINT customer_order_customer_fk;
