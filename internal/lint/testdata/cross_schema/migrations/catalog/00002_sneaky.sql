-- +goose Up
CREATE TABLE catalog.fine (id int);
CREATE TABLE customers.sneaky (id int);

-- +goose Down
DROP TABLE customers.sneaky;
DROP TABLE catalog.fine;
