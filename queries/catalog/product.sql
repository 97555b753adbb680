-- name: CreateProduct :one
INSERT INTO catalog.product (sku, name, price_cents, stock)
VALUES (@sku, @name, @price_cents, @stock)
RETURNING *;

-- name: GetProduct :one
SELECT * FROM catalog.product
WHERE id = @id;

-- name: GetProductBySKU :one
SELECT * FROM catalog.product
WHERE sku = @sku;

-- name: ListProductIDs :many
SELECT id FROM catalog.product
ORDER BY id
LIMIT @max_rows;

-- name: RandomProductID :one
SELECT id FROM catalog.product
ORDER BY random()
LIMIT 1;

-- name: UpdateProductPrice :execrows
UPDATE catalog.product
SET price_cents = @price_cents, updated_at = now()
WHERE id = @id;

-- AdjustStock adds delta (negative to take stock) and returns the new stock;
-- no row (pgx.ErrNoRows) when the product is unknown or the stock would go negative.
-- name: AdjustStock :one
UPDATE catalog.product
SET stock = stock + @delta::integer, updated_at = now()
WHERE id = @id AND stock + @delta::integer >= 0
RETURNING stock;

-- name: CountProducts :one
SELECT count(*) FROM catalog.product;
