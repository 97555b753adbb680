-- name: CreateCustomer :one
INSERT INTO customers.customer (email, name)
VALUES (@email, @name)
RETURNING *;

-- name: GetCustomer :one
SELECT * FROM customers.customer
WHERE id = @id;

-- name: GetCustomerByEmail :one
SELECT * FROM customers.customer
WHERE email = @email;

-- name: UpdateCustomerName :execrows
UPDATE customers.customer
SET name = @name, updated_at = now()
WHERE id = @id;

-- name: SetCustomerPhone :execrows
UPDATE customers.customer
SET phone = sqlc.narg(phone), updated_at = now()
WHERE id = @id;

-- name: DeleteCustomer :execrows
DELETE FROM customers.customer
WHERE id = @id;

-- name: ListCustomerIDs :many
SELECT id FROM customers.customer
ORDER BY id
LIMIT @max_rows;

-- name: RandomCustomerID :one
SELECT id FROM customers.customer
ORDER BY random()
LIMIT 1;

-- name: CountCustomers :one
SELECT count(*) FROM customers.customer;
