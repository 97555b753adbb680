-- +goose Up
ALTER TABLE payments.payment ADD COLUMN note text;
ALTER TABLE payments.payment ADD COLUM other text;

-- +goose Down
ALTER TABLE payments.payment DROP COLUMN note;
