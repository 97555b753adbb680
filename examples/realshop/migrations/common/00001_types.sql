-- +goose Up
CREATE DOMAIN email_address AS text CHECK (VALUE ~ '^[^@[:space:]]+@[^@[:space:]]+$');
CREATE DOMAIN positive_amount AS numeric(12, 2) CHECK (VALUE > 0);
CREATE TYPE currency AS ENUM ('EUR', 'USD', 'CHF');
CREATE TYPE price AS (amount positive_amount, currency currency);

CREATE FUNCTION normalize_email(address text) RETURNS email_address
LANGUAGE sql IMMUTABLE STRICT
RETURN lower(trim(address));

-- +goose Down
DROP FUNCTION normalize_email(text);
DROP TYPE price;
DROP TYPE currency;
DROP DOMAIN positive_amount;
DROP DOMAIN email_address;
