package verify_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/splitschema/splitschema/internal/archive"
	"github.com/splitschema/splitschema/internal/backup"
	"github.com/splitschema/splitschema/internal/backup/backuptest"
	"github.com/splitschema/splitschema/internal/pgtest"
	"github.com/splitschema/splitschema/internal/target"
	"github.com/splitschema/splitschema/internal/verify"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func passAudit(context.Context, *target.Server) (verify.AuditResult, error) {
	return verify.AuditResult{OK: true}, nil
}

// restored backs up the shop and restores it into a new database, whose
// server it returns.
func restored(t *testing.T, shop *backuptest.Shop, id, name string) *target.Server {
	t.Helper()
	db := shop.Server.Database + "_" + name
	if _, err := backup.Restore(ctx(t), shop.Project, shop.Server, id, backup.RestoreOptions{TargetDB: db, Jobs: 2, Audit: passAudit}); err != nil {
		t.Fatalf("restore: %v", err)
	}
	s := *shop.Server
	s.Database = db
	t.Cleanup(func() {
		backuptest.ExecURL(t, s.URL("postgres"), fmt.Sprintf("DROP DATABASE IF EXISTS %q WITH (FORCE)", db))
	})
	return &s
}

func TestVerifyFindsEachDifference(t *testing.T) {
	shop := backuptest.New(t)
	res, err := backup.Run(ctx(t), shop.Project, shop.Server, backup.Options{Jobs: 2})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Manifest
	for _, tc := range []struct {
		name string
		// sql damages the restored copy, as a superuser.
		sql string
		// want are texts the mismatches must hold.
		want  []string
		check func(t *testing.T, r *verify.Result)
	}{
		{
			name: "intact",
			check: func(t *testing.T, r *verify.Result) {
				if !r.OK || len(r.Mismatches) != 0 || r.Audit != "passed" {
					t.Errorf("intact copy: ok %v, mismatches %v, audit %s", r.OK, r.Mismatches, r.Audit)
				}
				if r.Tables != m.Totals.Tables || r.Rows != m.Totals.Rows {
					t.Errorf("tables %d rows %d, want %d %d", r.Tables, r.Rows, m.Totals.Tables, m.Totals.Rows)
				}
			},
		},
		{
			// A referenced customer is deleted behind the foreign keys'
			// back, and another added so the counts still match: only the
			// query over the rows can tell.
			name: "broken link",
			sql: `SET session_replication_role = replica;
				INSERT INTO customers.customer (email, name) VALUES ('new@example.com', 'New');
				DELETE FROM customers.customer WHERE id = (SELECT customer_id FROM orders.customer_order ORDER BY id LIMIT 1);`,
			want: []string{"link orders.customer_order(customer_id) -> customers.customer(id) (customer_order_customer_id_fkey):", "rows reference a row that is missing"},
			check: func(t *testing.T, r *verify.Result) {
				for _, l := range r.Links {
					if l.Constraint == "customer_order_customer_id_fkey" && l.Broken < 1 {
						t.Errorf("link %s -> %s: broken %d, want at least 1", l.From, l.To, l.Broken)
					}
				}
				for _, mm := range r.Mismatches {
					if strings.Contains(mm, "rows, the backup has") {
						t.Errorf("a count differs, the test wants only the link broken: %s", mm)
					}
				}
			},
		},
		{
			name: "row count",
			sql:  `DELETE FROM payments.payment WHERE id = (SELECT min(id) FROM payments.payment)`,
			want: []string{fmt.Sprintf("table payments.payment has %d rows, the backup has %d", rowsOf(m, "payments", "payment")-1, rowsOf(m, "payments", "payment"))},
		},
		{
			name: "migration version",
			sql:  `INSERT INTO shipping.goose_db_version (version_id, is_applied) VALUES (3, true)`,
			want: []string{"service shipping: migration version 3, the backup is at version 2"},
		},
		{
			name: "missing foreign key",
			sql:  `ALTER TABLE payments.payment DROP CONSTRAINT payment_order_id_fkey`,
			want: []string{"foreign key payment_order_id_fkey payments.payment(order_id) -> orders.customer_order(id) is missing"},
		},
		{
			name: "foreign key not validated",
			sql: `ALTER TABLE shipping.shipment DROP CONSTRAINT shipment_customer_id_fkey;
				ALTER TABLE shipping.shipment ADD CONSTRAINT shipment_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES customers.customer (id) NOT VALID`,
			want: []string{"foreign key shipment_customer_id_fkey shipping.shipment(customer_id) -> customers.customer(id) is not validated"},
		},
		{
			name: "extra table",
			sql:  `CREATE TABLE catalog.extra (id int)`,
			want: []string{"table catalog.extra is not in the backup"},
		},
		{
			// The case: a foreign key inside a service dropped and
			// 5 lines orphaned, the row counts unchanged.
			name: "inner fk dropped",
			sql: `ALTER TABLE orders.order_line DROP CONSTRAINT order_line_order_id_fkey;
				UPDATE orders.order_line SET order_id = order_id + 1000000 WHERE id IN (SELECT id FROM orders.order_line ORDER BY id LIMIT 5);`,
			want: []string{
				"foreign key order_line_order_id_fkey orders.order_line(order_id) -> orders.customer_order(id) is missing",
				"foreign key orders.order_line(order_id) -> orders.customer_order(id) (order_line_order_id_fkey): 5 rows reference a row that is missing",
			},
		},
		{
			name: "inner fk not valid",
			sql: `ALTER TABLE orders.order_line DROP CONSTRAINT order_line_order_id_fkey;
				ALTER TABLE orders.order_line ADD CONSTRAINT order_line_order_id_fkey FOREIGN KEY (order_id) REFERENCES orders.customer_order (id) NOT VALID`,
			want: []string{"foreign key order_line_order_id_fkey orders.order_line(order_id) -> orders.customer_order(id) is not validated"},
		},
		{
			name: "declared link dropped",
			sql:  `ALTER TABLE orders.customer_order DROP CONSTRAINT customer_order_customer_id_fkey`,
			want: []string{"declared link orders -> customers.customer(id) is not enforced"},
		},
		{
			name: "missing table",
			sql:  `DROP TABLE shipping.shipment`,
			want: []string{"table shipping.shipment is missing", "foreign key shipment_order_id_fkey shipping.shipment(order_id) -> orders.customer_order(id) is missing"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := restored(t, shop, res.ID, strings.ReplaceAll(tc.name, " ", "_"))
			if tc.sql != "" {
				backuptest.ExecURL(t, srv.URL(srv.Database), tc.sql)
			}
			r, err := verify.Run(ctx(t), srv, m, verify.Options{Audit: passAudit, Jobs: 2})
			if err != nil {
				t.Fatal(err)
			}
			if len(tc.want) > 0 && r.OK {
				t.Errorf("verify ok after %s", tc.name)
			}
			all := strings.Join(r.Mismatches, "\n")
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("mismatches do not say %q:\n%s", w, all)
				}
			}
			if len(tc.want) > 0 && !strings.Contains(r.Human(), "MISMATCH") {
				t.Errorf("text does not say MISMATCH:\n%s", r.Human())
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

func rowsOf(m *archive.Manifest, schema, table string) int64 {
	for _, s := range m.Services {
		if s.Schema != schema {
			continue
		}
		for _, tb := range s.Tables {
			if tb.Name == table {
				return tb.Rows
			}
		}
	}
	return -1
}

func TestVerifyAudit(t *testing.T) {
	shop := backuptest.New(t)
	res, err := backup.Run(ctx(t), shop.Project, shop.Server, backup.Options{Jobs: 2})
	if err != nil {
		t.Fatal(err)
	}
	var audited string
	failing := func(_ context.Context, srv *target.Server) (verify.AuditResult, error) {
		audited = srv.Database
		return verify.AuditResult{OK: false, Findings: []string{"orders_app can read customers.customer"}}, nil
	}
	r, err := verify.Run(ctx(t), shop.Server, res.Manifest, verify.Options{Audit: failing})
	if err != nil {
		t.Fatal(err)
	}
	if audited != shop.Server.Database {
		t.Errorf("audit ran on %q, want %q", audited, shop.Server.Database)
	}
	if r.OK || r.Audit != "failed" || !strings.Contains(strings.Join(r.Mismatches, "\n"), "isolation audit: orders_app can read customers.customer") {
		t.Errorf("failing audit: ok %v audit %s mismatches %v", r.OK, r.Audit, r.Mismatches)
	}
	broken := func(context.Context, *target.Server) (verify.AuditResult, error) {
		return verify.AuditResult{}, errors.New("cannot log in as orders_app")
	}
	if _, err := verify.Run(ctx(t), shop.Server, res.Manifest, verify.Options{Audit: broken}); err == nil || !strings.Contains(err.Error(), "cannot log in") {
		t.Errorf("audit error: err = %v", err)
	}
	if _, err := verify.Run(ctx(t), shop.Server, res.Manifest, verify.Options{}); err == nil {
		t.Error("verify without an audit ran")
	}
}

// backup --fingerprint proves the rows, not only their count: a restored
// copy matches (the fingerprint does not depend on row order), and one
// value changed, the count kept, is a mismatch naming the table.
func TestVerifyFingerprint(t *testing.T) {
	shop := backuptest.New(t)
	// Rows stored in another order than they will be restored in: updates
	// move them.
	shop.Exec(t, `UPDATE catalog.product SET stock = stock WHERE id % 3 = 0`)
	res, err := backup.Run(ctx(t), shop.Project, shop.Server, backup.Options{Jobs: 2, Fingerprint: true})
	if err != nil {
		t.Fatal(err)
	}
	if fp := res.Manifest.Services[0].Tables[0].Fingerprint; fp == "" {
		t.Fatalf("no fingerprint in the manifest: %+v", res.Manifest.Services[0].Tables[0])
	}
	srv := restored(t, shop, res.ID, "fp")
	r, err := verify.Run(ctx(t), srv, res.Manifest, verify.Options{Audit: passAudit, Jobs: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK || r.Fingerprinted != r.Tables || r.Tables == 0 {
		t.Fatalf("intact copy: ok %v, %d of %d tables fingerprinted, mismatches %v", r.OK, r.Fingerprinted, r.Tables, r.Mismatches)
	}
	backuptest.ExecURL(t, srv.URL(srv.Database), `UPDATE catalog.product SET price_cents = price_cents + 1 WHERE id = (SELECT min(id) FROM catalog.product)`)
	r, err = verify.Run(ctx(t), srv, res.Manifest, verify.Options{Audit: passAudit, Jobs: 2})
	if err != nil {
		t.Fatal(err)
	}
	if r.OK || !strings.Contains(strings.Join(r.Mismatches, "\n"), "table catalog.product holds other rows than the backup's") {
		t.Errorf("one value changed: ok %v, mismatches %v", r.OK, r.Mismatches)
	}
	// Without fingerprints the same change passes: counts alone cannot
	// tell, which the result says.
	plain, err := backup.Run(ctx(t), shop.Project, shop.Server, backup.Options{Jobs: 2})
	if err != nil {
		t.Fatal(err)
	}
	srv2 := restored(t, shop, plain.ID, "nofp")
	backuptest.ExecURL(t, srv2.URL(srv2.Database), `UPDATE catalog.product SET price_cents = price_cents + 1 WHERE id = (SELECT min(id) FROM catalog.product)`)
	r, err = verify.Run(ctx(t), srv2, plain.Manifest, verify.Options{Audit: passAudit, Jobs: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK || r.Fingerprinted != 0 || !strings.Contains(r.Human(), "not content") {
		t.Errorf("without fingerprints: ok %v fingerprinted %d\n%s", r.OK, r.Fingerprinted, r.Human())
	}
}
