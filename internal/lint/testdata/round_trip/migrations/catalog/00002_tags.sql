-- +goose Up
CREATE TABLE catalog.tag (
    id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL
);

-- +goose Down
-- Forgot to drop the table.
SELECT 1;
