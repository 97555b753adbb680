// Package backuptest gives the tests of backup and verify the example shop,
// applied for real (provision + migrate) in a fresh database of the test
// cluster, in a copy of the project whose role names carry a prefix of
// their own, so tests can run in parallel on one cluster.
package backuptest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema"
	"github.com/splitschema/splitschema/internal/audit"
	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/migrate"
	"github.com/splitschema/splitschema/internal/pgtest"
	"github.com/splitschema/splitschema/internal/pipeline"
	"github.com/splitschema/splitschema/internal/secrets"
	"github.com/splitschema/splitschema/internal/target"
	"github.com/splitschema/splitschema/internal/verify"
	"github.com/splitschema/splitschema/internal/workload"
)

// Shop is the example shop in a database of its own.
type Shop struct {
	Project *manifest.Project
	// Server is the admin's, its Database the shop's.
	Server *target.Server
	// URL is the admin URL of the shop's database.
	URL string
}

var seq atomic.Int64

// CopyProject copies the shop's project files (settings, schemas,
// migrations) into a new folder, setting the database name and a role
// prefix, and loads it.
func CopyProject(tb testing.TB, database, prefix string) *manifest.Project {
	tb.Helper()
	dir := tb.TempDir()
	if err := os.CopyFS(dir, splitschema.ExampleShop); err != nil {
		tb.Fatalf("backuptest: copy the example shop: %v", err)
	}
	settings := fmt.Sprintf("database: %s\nbackups: backups\nnaming:\n  prefix: %s\nlock_timeout: 5s\nretention:\n  keep: 3\n", database, prefix)
	if err := os.WriteFile(filepath.Join(dir, manifest.SettingsFile), []byte(settings), 0o644); err != nil {
		tb.Fatal(err)
	}
	p, err := manifest.Load(dir)
	if err != nil {
		tb.Fatalf("backuptest: load project: %v", err)
	}
	return p
}

// New applies the shop (provision + migrate up) in a fresh database, with
// a role prefix unique in the test binary, and seeds it with rows in every
// table.
func New(tb testing.TB) *Shop {
	tb.Helper()
	u := pgtest.NewDatabase(tb)
	srv, err := target.FromURL(u, "")
	if err != nil {
		tb.Fatal(err)
	}
	srv.BinDir = pgtest.Server(tb).Binaries.Dir
	prefix := fmt.Sprintf("t%d_", seq.Add(1))
	p := CopyProject(tb, srv.Database, prefix)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := pipeline.Apply(ctx, p, srv, migrate.Options{}); err != nil {
		tb.Fatalf("backuptest: apply the shop: %v", err)
	}
	s := &Shop{Project: p, Server: srv, URL: u}
	s.Seed(tb, 200)
	return s
}

// Seed adds n customers and products, n orders with two lines each, and a
// payment and a shipment for every other order.
func (s *Shop) Seed(tb testing.TB, n int) {
	tb.Helper()
	s.Exec(tb, fmt.Sprintf(`
		INSERT INTO customers.customer (email, name)
		  SELECT 'c' || i || '-' || md5(random()::text) || '@example.com', 'Customer ' || i FROM generate_series(1, %[1]d) i;
		INSERT INTO catalog.product (sku, name, price_cents, stock)
		  SELECT 'sku-' || md5(random()::text), 'Product ' || i, 100 + i, 1000 FROM generate_series(1, %[1]d) i;
		INSERT INTO orders.customer_order (customer_id)
		  SELECT id FROM customers.customer ORDER BY random() LIMIT %[1]d;
		INSERT INTO orders.order_line (order_id, product_id, quantity, unit_price_cents)
		  SELECT o.id, p.id, 1 + (o.id %% 3), p.price_cents
		  FROM orders.customer_order o
		  CROSS JOIN generate_series(1, 2) g
		  CROSS JOIN LATERAL (SELECT id, price_cents FROM catalog.product WHERE id %% 7 = (o.id + g) %% 7 LIMIT 1) p;
		INSERT INTO payments.payment (order_id, amount_cents)
		  SELECT id, 1000 FROM orders.customer_order WHERE id %% 2 = 0;
		INSERT INTO shipping.shipment (order_id, customer_id, address, carrier)
		  SELECT id, customer_id, 'Main Street ' || id, 'post' FROM orders.customer_order WHERE id %% 2 = 1;
	`, n))
}

// Exec runs sql as the admin in the shop's database.
func (s *Shop) Exec(tb testing.TB, sql string, args ...any) {
	tb.Helper()
	ExecURL(tb, s.URL, sql, args...)
}

// ExecURL runs sql on the database of url.
func ExecURL(tb testing.TB, u, sql string, args ...any) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		tb.Fatalf("backuptest: connect: %s", target.Redact(err.Error()))
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		tb.Fatalf("backuptest: %s: %v", firstLine(sql), err)
	}
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i > 0 {
		return s[:i] + "…"
	}
	return s
}

// AppURLs are the services' application URLs, from the project's secrets.
func (s *Shop) AppURLs(tb testing.TB) map[string]string {
	tb.Helper()
	out := map[string]string{}
	for _, svc := range s.Project.Services {
		u, err := secrets.URL(s.Project.Dir, svc.Name)
		if err != nil {
			tb.Fatalf("backuptest: url of %s: %v", svc.Name, err)
		}
		out[svc.Name] = u
	}
	return out
}

// CommittedBetween counts, per service, the rows its main table got with a
// creation time between from and to.
func (s *Shop) CommittedBetween(tb testing.TB, from, to time.Time) map[string]int64 {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.URL)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	out := map[string]int64{}
	for svc, q := range map[string]string{
		"customers": "SELECT count(*) FROM customers.customer WHERE created_at BETWEEN $1 AND $2",
		"catalog":   "SELECT count(*) FROM catalog.product WHERE created_at BETWEEN $1 AND $2",
		"orders":    "SELECT count(*) FROM orders.customer_order WHERE placed_at BETWEEN $1 AND $2",
		"payments":  "SELECT count(*) FROM payments.payment WHERE created_at BETWEEN $1 AND $2",
		"shipping":  "SELECT count(*) FROM shipping.shipment WHERE created_at BETWEEN $1 AND $2",
	} {
		var n int64
		if err := conn.QueryRow(ctx, q, from, to).Scan(&n); err != nil {
			tb.Fatalf("backuptest: %s: %v", svc, err)
		}
		out[svc] = n
	}
	return out
}

// Writers runs the shop's writers, every service through its own app role,
// until the returned stop function is called; stop returns what they did.
func (s *Shop) Writers(tb testing.TB, rate float64) (stop func() *workload.Result) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	type out struct {
		res *workload.Result
		err error
	}
	ch := make(chan out, 1)
	urls := s.AppURLs(tb)
	go func() {
		res, err := workload.Run(ctx, workload.Config{URLs: urls, Rate: rate, Workers: 2})
		ch <- out{res, err}
	}()
	return func() *workload.Result {
		tb.Helper()
		cancel()
		o := <-ch
		if o.err != nil {
			tb.Fatalf("backuptest: writers: %v", o.err)
		}
		return o.res
	}
}

// Audit is the real isolation audit for verify, as the command wires it.
func Audit(p *manifest.Project) verify.AuditFunc { return audit.ForVerify(p, nil) }
