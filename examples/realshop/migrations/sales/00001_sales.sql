-- +goose Up
CREATE TABLE sales.sales_order (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id    uuid NOT NULL REFERENCES person.person (id),
    contact      email_address NOT NULL,
    currency     currency NOT NULL DEFAULT 'EUR',
    placed_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sales_order_person_id_idx ON sales.sales_order (person_id);

CREATE TABLE sales.order_line (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id   bigint NOT NULL REFERENCES sales.sales_order (id),
    product_id bigint NOT NULL REFERENCES product.product (id),
    quantity   integer NOT NULL CHECK (quantity > 0),
    amount     positive_amount NOT NULL
);
CREATE INDEX order_line_order_id_idx ON sales.order_line (order_id);
CREATE INDEX order_line_product_id_idx ON sales.order_line (product_id);

-- The names of the people who ordered, through the read of pe.person_name.
CREATE VIEW sales.customer AS
SELECT DISTINCT n.id, n.full_name
FROM sales.sales_order AS o
JOIN pe.person_name AS n ON n.id = o.person_id;

CREATE MATERIALIZED VIEW sales.daily_total AS
SELECT date_trunc('day', o.placed_at) AS day, o.currency, sum(l.amount * l.quantity) AS total
FROM sales.sales_order AS o
JOIN sales.order_line AS l ON l.order_id = o.id
GROUP BY 1, 2;
CREATE UNIQUE INDEX daily_total_day_currency_idx ON sales.daily_total (day, currency);

-- +goose Down
DROP MATERIALIZED VIEW sales.daily_total;
DROP VIEW sales.customer;
DROP TABLE sales.order_line;
DROP TABLE sales.sales_order;
