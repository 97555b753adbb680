-- +goose Up
CREATE INDEX customer_order_status_idx ON orders.customer_order (status);

-- A new table may be indexed in the migration that creates it.
CREATE TABLE orders.note (id bigint PRIMARY KEY, order_id bigint NOT NULL REFERENCES orders.customer_order (id), body text);
CREATE INDEX note_order_id_idx ON orders.note (order_id);

-- So may a materialized view.
CREATE MATERIALIZED VIEW orders.status_count AS
SELECT status, count(*) AS n FROM orders.customer_order GROUP BY status;
CREATE UNIQUE INDEX status_count_status_idx ON orders.status_count (status);

-- +goose Down
DROP MATERIALIZED VIEW orders.status_count;
DROP TABLE orders.note;
DROP INDEX orders.customer_order_status_idx;
