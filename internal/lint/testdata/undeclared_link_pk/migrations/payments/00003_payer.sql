-- +goose Up
-- The payer, by primary key: the link must still be declared.
ALTER TABLE payments.payment ADD COLUMN payer_id bigint REFERENCES customers.customer;

-- +goose Down
ALTER TABLE payments.payment DROP COLUMN payer_id;
