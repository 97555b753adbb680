package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/splitschema/splitschema/internal/backup"
	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/migrate"
	"github.com/splitschema/splitschema/internal/pipeline"
	"github.com/splitschema/splitschema/internal/target"
)

// The shop's database and role prefix.
const (
	shopDatabase = "bench_shop"
	shopPrefix   = "bench_shop_"
)

// shop is the example shop, applied and filled, in a database of its own.
type shop struct {
	p   *manifest.Project
	srv *target.Server
	// rows, heap and total describe the service tables: rows, bytes of
	// table data, and bytes with indexes and TOAST.
	rows        int64
	heap, total int64
	tables      int
}

// buildShop applies the example shop (provision + migrate) in a new
// database and fills it at the configured scale.
func buildShop(ctx context.Context, e *env) (*shop, error) {
	p, err := copyShop(filepath.Join(e.work, "shop"), shopDatabase, shopPrefix)
	if err != nil {
		return nil, err
	}
	if err := e.claim(ctx, shopDatabase, backup.ServiceRoles(p)); err != nil {
		return nil, err
	}
	s := &shop{p: p, srv: e.server(shopDatabase)}
	e.progress("shop: apply (provision + migrate) into database %s", shopDatabase)
	if _, err := pipeline.Apply(ctx, p, s.srv, migrate.Options{}); err != nil {
		return nil, fmt.Errorf("apply the shop: %w", err)
	}
	size := sizeAt(e.cfg.Scale)
	e.progress("shop: fill at SCALE=%g: %d customers, %d products, %d orders with their lines, payments and shipments",
		e.cfg.Scale, size.customers, size.products, size.orders)
	secs, err := timed(func() error { return s.fill(ctx, e, size) })
	if err != nil {
		return nil, err
	}
	if err := s.measure(ctx); err != nil {
		return nil, err
	}
	e.progress("shop: %d rows, %s of table data (%s with indexes) in %.0f s", s.rows, unitBytes.format(float64(s.heap)), unitBytes.format(float64(s.total)), secs)
	return s, nil
}

// fill inserts the rows in parallel, as the admin with the foreign key
// triggers off (session_replication_role = replica: the rows are
// consistent by construction), moves the identity sequences past the
// explicit ids, then vacuums and analyzes every table, so that no
// measurement pays for the first visit of freshly written pages.
func (s *shop) fill(ctx context.Context, e *env, size shopSize) error {
	stmts := fillStatements(size)
	slices.SortStableFunc(stmts, func(a, b fillStatement) int { return int(b.weight - a.weight) })
	err := forEach(ctx, e.jobs(), len(stmts), func(ctx context.Context, i int) error {
		conn, err := s.srv.Connect(ctx, s.srv.Database)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		st := stmts[i]
		if _, err := conn.Exec(ctx, "SET session_replication_role = replica"); err != nil {
			return fmt.Errorf("fill %s: %w", st.name(), err)
		}
		if _, err := conn.Exec(ctx, st.sql, st.args...); err != nil {
			return fmt.Errorf("fill %s: %w", st.name(), err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	conn, err := s.srv.Connect(ctx, s.srv.Database)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	for _, st := range stmts {
		table := st.table.Sanitize()
		sql := "SELECT setval(pg_get_serial_sequence($1, 'id'), (SELECT max(id) FROM " + table + "))"
		if _, err := conn.Exec(ctx, sql, table); err != nil {
			return fmt.Errorf("fill %s: move the identity past the rows: %w", st.name(), err)
		}
	}
	e.progress("shop: vacuum and analyze")
	err = forEach(ctx, e.jobs(), len(stmts), func(ctx context.Context, i int) error {
		conn, err := s.srv.Connect(ctx, s.srv.Database)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "VACUUM (ANALYZE) "+stmts[i].table.Sanitize()); err != nil {
			return fmt.Errorf("vacuum %s: %w", stmts[i].name(), err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return e.checkpoint(ctx)
}

// measure reads how much the service tables hold.
func (s *shop) measure(ctx context.Context) error {
	conn, err := s.srv.Connect(ctx, s.srv.Database)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var schemas []string
	for _, svc := range s.p.Services {
		schemas = append(schemas, svc.Schema)
	}
	err = conn.QueryRow(ctx, `
		SELECT count(*), coalesce(sum(c.reltuples::bigint), 0),
		       coalesce(sum(pg_relation_size(c.oid)), 0), coalesce(sum(pg_total_relation_size(c.oid)), 0)
		FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'r' AND n.nspname = ANY($1)`, schemas).Scan(&s.tables, &s.rows, &s.heap, &s.total)
	if err != nil {
		return fmt.Errorf("measure the shop: %w", err)
	}
	return nil
}
