package svcrestore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/backup/backuptest"
	"github.com/splitschema/splitschema/internal/migrate"
)

// A service migrated since the backup is refused, naming the migration
// that differs, and nothing changes; migrated back down, it restores.
func TestRestoreRefusedOnVersionMismatch(t *testing.T) {
	t.Parallel()
	shop := backuptest.New(t)
	b := mustBackup(t, shop)
	damagePayments(t, shop)
	file := filepath.Join(shop.Project.Dir, "migrations", "payments", "00003_note.sql")
	if err := os.WriteFile(file, []byte("-- +goose Up\nALTER TABLE payments.payment ADD COLUMN note text;\n-- +goose Down\nALTER TABLE payments.payment DROP COLUMN note;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := migrate.Up(testCtx(t), shop.Project, shop.Server, migrate.Options{Service: "payments"}); err != nil {
		t.Fatalf("migrate up: %v", err)
	}
	before := digest(t, shop.URL, shopSchemas...)
	res, err := Restore(testCtx(t), shop.Project, shop.Server, b.ID, Options{Services: []string{"payments"}})
	var refused *RefusedError
	if !errors.As(err, &refused) {
		t.Fatalf("err = %v, want a refusal", err)
	}
	t.Logf("%v", err)
	if len(res.Versions) != 1 || len(res.Versions[0].OnlyLive) != 1 || res.Versions[0].OnlyLive[0].File != "migrations/payments/00003_note.sql" {
		t.Errorf("versions %+v, want migration 3 (migrations/payments/00003_note.sql) only live", res.Versions)
	}
	if !strings.Contains(err.Error(), "00003_note.sql") {
		t.Errorf("the refusal does not name the migration: %v", err)
	}
	sameDigest(t, "after a refused restore", digest(t, shop.URL, shopSchemas...), before)

	if _, err := migrate.DownTo(testCtx(t), shop.Project, shop.Server, 2, migrate.Options{Service: "payments"}); err != nil {
		t.Fatalf("migrate down: %v", err)
	}
	if _, err := Restore(testCtx(t), shop.Project, shop.Server, b.ID, Options{Services: []string{"payments"}}); err != nil {
		t.Fatalf("restore at the backup's version: %v", err)
	}
}

// A table without a primary key is reported, not guessed at.
func TestRestoreRefusesTableWithoutPrimaryKey(t *testing.T) {
	t.Parallel()
	shop := backuptest.New(t)
	shop.Exec(t, "CREATE TABLE payments.ledger (payment_id bigint, note text); INSERT INTO payments.ledger VALUES (1, 'a'), (1, 'a')")
	b := mustBackup(t, shop)
	shop.Exec(t, "DELETE FROM payments.ledger")
	res, err := Restore(testCtx(t), shop.Project, shop.Server, b.ID, Options{Services: []string{"payments"}})
	var refused *RefusedError
	if !errors.As(err, &refused) {
		t.Fatalf("err = %v, want a refusal", err)
	}
	if len(res.NoPrimaryKey) != 1 || res.NoPrimaryKey[0] != "payments.ledger" {
		t.Errorf("no primary key: %v, want payments.ledger", res.NoPrimaryKey)
	}
	if n := queryInt(t, shop.URL, "SELECT count(*) FROM payments.ledger"); n != 0 {
		t.Errorf("payments.ledger: %d rows after a refused restore, want 0", n)
	}
}

// A restore stopped while it stages the backup's rows, while it waits for
// the tables' locks, or once its transaction has changed the rows (before
// it commits them), changes nothing and leaves no staging table.
func TestRestoreInterrupted(t *testing.T) {
	t.Parallel()
	shop := backuptest.New(t)
	b := mustBackup(t, shop)
	damagePayments(t, shop)
	before := digest(t, shop.URL, shopSchemas...)
	for _, at := range []string{"staging", "locking", "merged"} {
		ctx, cancel := context.WithCancel(testCtx(t))
		o := Options{Services: []string{"payments"}}
		switch at {
		case "staging":
			o.staging = func(string) { cancel() }
		case "locking":
			o.locking = cancel
		case "merged":
			o.merged = cancel
		}
		_, err := Restore(ctx, shop.Project, shop.Server, b.ID, o)
		cancel()
		if err == nil {
			t.Fatalf("stopped while %s: no error", at)
		}
		t.Logf("stopped while %s: %v", at, err)
		if !strings.Contains(err.Error(), "interrupted while") || !strings.Contains(err.Error(), "nothing was changed") {
			t.Errorf("stopped while %s: the error does not say it was interrupted and nothing was changed: %v", at, err)
		}
		waitNoRestoreSession(t, shop.URL)
		sameDigest(t, "after a restore stopped while "+at, digest(t, shop.URL, shopSchemas...), before)
		if n := stagingLeft(t, shop.URL); n != 0 {
			t.Errorf("stopped while %s: %d staging tables left", at, n)
		}
	}
}

// Several services restore at the backup's one instant, in one
// transaction; links between them are inside the restore, not broken.
func TestRestoreSeveralServices(t *testing.T) {
	t.Parallel()
	shop := backuptest.New(t)
	b := mustBackup(t, shop)
	want := digest(t, shop.URL, "orders", "payments")
	// New orders with their payments, and one order lost with its
	// payment: restoring orders alone would break payments' links, the
	// two together do not.
	shop.Exec(t, `
		INSERT INTO orders.customer_order (customer_id) SELECT id FROM customers.customer ORDER BY id LIMIT 5;
		INSERT INTO payments.payment (order_id, amount_cents) SELECT id, 99 FROM orders.customer_order ORDER BY id DESC LIMIT 5;
		UPDATE orders.customer_order SET status = 'cancelled' WHERE id % 10 = 0;
		DELETE FROM payments.payment WHERE order_id = (SELECT min(id) FROM orders.customer_order o WHERE NOT EXISTS (SELECT 1 FROM shipping.shipment s WHERE s.order_id = o.id));
		DELETE FROM orders.order_line WHERE order_id = (SELECT min(id) FROM orders.customer_order o WHERE NOT EXISTS (SELECT 1 FROM shipping.shipment s WHERE s.order_id = o.id));
		DELETE FROM orders.customer_order WHERE id = (SELECT min(id) FROM orders.customer_order o WHERE NOT EXISTS (SELECT 1 FROM shipping.shipment s WHERE s.order_id = o.id));`)
	_, err := Restore(testCtx(t), shop.Project, shop.Server, b.ID, Options{Services: []string{"orders"}, DryRun: true})
	var refused *RefusedError
	if !errors.As(err, &refused) {
		t.Fatalf("orders alone: err = %v, want a refusal (payments of the new orders)", err)
	}
	res, err := Restore(testCtx(t), shop.Project, shop.Server, b.ID, Options{Services: []string{"orders", "payments"}})
	if err != nil {
		t.Fatalf("orders and payments: %v", err)
	}
	t.Logf("\n%s", res.Human())
	sameDigest(t, "orders and payments after the restore", digest(t, shop.URL, "orders", "payments"), want)
	for _, l := range res.Links {
		if strings.HasPrefix(l.Link, "payments.payment(order_id)") {
			t.Errorf("link %s reported: it is inside the restored services", l.Link)
		}
	}
}

// connRows returns the single-column rows of sql.
func connRows[T any](t *testing.T, url, sql string) []T {
	t.Helper()
	rows, err := connect(t, url).Query(testCtx(t), sql)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[T])
	if err != nil {
		t.Fatal(err)
	}
	return out
}
