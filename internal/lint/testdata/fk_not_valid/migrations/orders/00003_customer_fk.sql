-- +goose Up
ALTER TABLE orders.customer_order
    ADD CONSTRAINT customer_order_customer_fk FOREIGN KEY (customer_id) REFERENCES customers.customer (id);
ALTER TABLE orders.order_line ADD COLUMN customer_id bigint REFERENCES customers.customer (id);

-- The way to do it: NOT VALID now, VALIDATE CONSTRAINT in a later migration.
ALTER TABLE orders.customer_order
    ADD CONSTRAINT customer_order_customer_fk2 FOREIGN KEY (customer_id) REFERENCES customers.customer (id) NOT VALID;

-- A table made in this migration holds no row yet.
CREATE TABLE orders.favourite (id bigint PRIMARY KEY, customer_id bigint);
ALTER TABLE orders.favourite ADD CONSTRAINT favourite_customer_fk FOREIGN KEY (customer_id) REFERENCES customers.customer (id);

-- +goose Down
DROP TABLE orders.favourite;
ALTER TABLE orders.customer_order DROP CONSTRAINT customer_order_customer_fk2;
ALTER TABLE orders.order_line DROP COLUMN customer_id;
ALTER TABLE orders.customer_order DROP CONSTRAINT customer_order_customer_fk;
