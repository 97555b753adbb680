package migrate

import (
	"context"
	"strings"
	"testing"
)

func TestRedactRowData(t *testing.T) {
	for in, want := range map[string]string{
		"Failing row contains (1, null, alice@example.com).":             "Failing row contains (redacted).",
		"Key (email)=(alice@example.com) already exists.":                "Key (email)=(redacted) already exists.",
		`Key (customer_id)=(42) is not present in table "customer".`:     `Key (customer_id)=(redacted) is not present in table "customer".`,
		`Key (id)=(7) is still referenced from table "customer_order".`:  `Key (id)=(redacted) is still referenced from table "customer_order".`,
		"Key (a, b)=((x), y) conflicts with existing key (a, b)=(z, w).": "Key (a, b)=(redacted) conflicts with existing key (a, b)=(z, w).",
		"some other detail (with parens)":                                "some other detail (with parens)",
	} {
		if got := redactRowData(in); got != want {
			t.Errorf("redactRowData(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestMigrationErrorRedactsRows: a migration that violates a constraint
// does not print the row's values unless asked to.
func TestMigrationErrorRedactsRows(t *testing.T) {
	s := newShop(t)
	mustWrite(t, s.dir, "migrations/customers/00003_row.sql", `-- +goose Up
INSERT INTO customer (email, name) VALUES ('secret-alice@example.com', 'Alice');

-- +goose Down
DELETE FROM customer;
`)
	mustWrite(t, s.dir, "migrations/customers/00004_bad.sql", `-- +goose Up
UPDATE customer SET name = NULL;

-- +goose Down
SELECT 1;
`)
	res, err := Up(context.Background(), s.p, s.srv, s.opts("customers"))
	if err == nil {
		t.Fatal("the bad migration succeeded")
	}
	out := res.Human() + err.Error()
	if strings.Contains(out, "secret-alice") || !strings.Contains(out, "Failing row contains (redacted)") {
		t.Errorf("output shows the row or no redaction:\n%s", out)
	}
	res.RevealRowData()
	if !strings.Contains(res.Human(), "secret-alice") {
		t.Errorf("RevealRowData: the row is still hidden:\n%s", res.Human())
	}
}
