package bench

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/target"
)

// copyFloor reads every table of srv's database with COPY ... TO STDOUT on
// jobs parallel connections, biggest tables first, and throws the bytes
// away: what reading the data costs at least, before any compression or
// writing. It returns the bytes read.
func copyFloor(ctx context.Context, srv *target.Server, jobs int) (int64, error) {
	conn, err := srv.Connect(ctx, srv.Database)
	if err != nil {
		return 0, err
	}
	rows, err := conn.Query(ctx, `
		SELECT n.nspname, c.relname
		FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'r' AND c.relpersistence <> 't'
		  AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
		ORDER BY pg_catalog.pg_relation_size(c.oid) DESC, 1, 2`)
	if err != nil {
		conn.Close(context.Background())
		return 0, fmt.Errorf("list tables: %w", err)
	}
	tables, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (pgx.Identifier, error) {
		var schema, table string
		err := r.Scan(&schema, &table)
		return pgx.Identifier{schema, table}, err
	})
	conn.Close(context.Background())
	if err != nil {
		return 0, fmt.Errorf("list tables: %w", err)
	}
	conns := make(chan *pgx.Conn, jobs)
	defer func() {
		close(conns)
		for c := range conns {
			c.Close(context.Background())
		}
	}()
	for range min(jobs, len(tables)) {
		c, err := srv.Connect(ctx, srv.Database)
		if err != nil {
			return 0, err
		}
		conns <- c
	}
	read := make([]int64, len(tables))
	err = forEach(ctx, jobs, len(tables), func(ctx context.Context, i int) error {
		c := <-conns
		defer func() { conns <- c }()
		w := &countingWriter{}
		if _, err := c.PgConn().CopyTo(ctx, w, "COPY "+tables[i].Sanitize()+" TO STDOUT"); err != nil {
			return fmt.Errorf("copy %s: %w", tables[i].Sanitize(), err)
		}
		read[i] = w.n
		return nil
	})
	var total int64
	for _, n := range read {
		total += n
	}
	return total, err
}

// countingWriter throws away what it is given, counting the bytes.
type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}
