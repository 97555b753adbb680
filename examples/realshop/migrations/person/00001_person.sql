-- +goose Up
CREATE TABLE person.person (
    id                 uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
    first_name         text NOT NULL,
    last_name          text NOT NULL,
    email              email_address NOT NULL UNIQUE,
    favourite_order_id bigint,
    created_at         timestamptz NOT NULL DEFAULT now()
);

CREATE VIEW pe.person_name AS
SELECT id, first_name || ' ' || last_name AS full_name, email
FROM person.person;

-- +goose Down
DROP VIEW pe.person_name;
DROP TABLE person.person;
