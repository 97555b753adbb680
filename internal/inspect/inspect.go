// Package inspect reads what a backup records and a verify compares: the
// tables of the service schemas and their exact row counts, each service's
// migration version, the foreign keys (between schemas and inside one) and the rows that
// break them. Every read can run inside one exported snapshot, on as many
// connections as asked.
package inspect

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/splitschema/splitschema/internal/archive"
	"github.com/splitschema/splitschema/internal/pgsql"
)

// Querier is a connection or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// VersionTable is the goose version table each service keeps in its schema.
const VersionTable = pgsql.VersionTable

// TableName is a schema-qualified table.
type TableName struct{ Schema, Table string }

// String renders schema.table.
func (t TableName) String() string { return t.Schema + "." + t.Table }

// Sanitize quotes the name for SQL.
func (t TableName) Sanitize() string { return pgx.Identifier{t.Schema, t.Table}.Sanitize() }

// ExistingSchemas returns which of names exist.
func ExistingSchemas(ctx context.Context, q Querier, names []string) (map[string]bool, error) {
	rows, err := q.Query(ctx, `SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname = ANY($1)`, names)
	if err != nil {
		return nil, fmt.Errorf("read schemas: %w", err)
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read schemas: %w", err)
	}
	out := map[string]bool{}
	for _, n := range found {
		out[n] = true
	}
	return out, nil
}

// AllTables lists the ordinary tables of every schema but the system ones,
// by schema then name.
func AllTables(ctx context.Context, q Querier) ([]TableName, error) {
	rows, err := q.Query(ctx, `
		SELECT n.nspname, c.relname
		FROM pg_catalog.pg_class c
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'r' AND c.relpersistence <> 't'
		  AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
		ORDER BY n.nspname, c.relname`)
	if err != nil {
		return nil, fmt.Errorf("read tables: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (TableName, error) {
		var t TableName
		err := r.Scan(&t.Schema, &t.Table)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("read tables: %w", err)
	}
	return out, nil
}

// DataTables lists the tables of schemas that hold a service's data,
// quoted: the top tables (a partitioned table, not its partitions), but
// the migrations' version table. TRUNCATE of them all wipes the data and
// keeps the history.
func DataTables(ctx context.Context, q Querier, schemas []string) ([]string, error) {
	rows, err := q.Query(ctx, `
		SELECT format('%I.%I', n.nspname, c.relname)
		FROM pg_catalog.pg_class c
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relname <> $2
		ORDER BY 1`, schemas, pgsql.VersionTable)
	if err != nil {
		return nil, fmt.Errorf("list the tables of %s: %w", strings.Join(schemas, ", "), err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list the tables of %s: %w", strings.Join(schemas, ", "), err)
	}
	return out, nil
}

// Version returns the highest applied goose version in schema, or nil when
// the schema has no version table.
func Version(ctx context.Context, q Querier, schema string) (*int64, error) {
	var exists bool
	err := q.QueryRow(ctx, `
		SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c
		               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		               WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p'))`,
		schema, VersionTable).Scan(&exists)
	if err != nil {
		return nil, fmt.Errorf("read migration version of schema %s: %w", schema, err)
	}
	if !exists {
		return nil, nil
	}
	var v int64
	sql := `SELECT coalesce(max(version_id), 0) FROM ` + pgx.Identifier{schema, VersionTable}.Sanitize() + ` WHERE is_applied`
	if err := q.QueryRow(ctx, sql).Scan(&v); err != nil {
		return nil, fmt.Errorf("read migration version of schema %s: %w", schema, err)
	}
	return &v, nil
}

// ForeignKeys lists every foreign key with at least one of its two tables
// in schemas: between schemas and inside one. Foreign keys cloned onto
// partitions are left out: their parent's stands for them.
func ForeignKeys(ctx context.Context, q Querier, schemas []string) ([]archive.ForeignKey, error) {
	rows, err := q.Query(ctx, `
		SELECT con.conname, fn.nspname, fc.relname,
		       ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
		             JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
		             ORDER BY k.ord),
		       tn.nspname, tc.relname,
		       ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(attnum, ord)
		             JOIN pg_catalog.pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum
		             ORDER BY k.ord),
		       con.confmatchtype::text, con.convalidated
		FROM pg_catalog.pg_constraint con
		JOIN pg_catalog.pg_class fc ON fc.oid = con.conrelid
		JOIN pg_catalog.pg_namespace fn ON fn.oid = fc.relnamespace
		JOIN pg_catalog.pg_class tc ON tc.oid = con.confrelid
		JOIN pg_catalog.pg_namespace tn ON tn.oid = tc.relnamespace
		WHERE con.contype = 'f' AND con.conparentid = 0
		  AND (fn.nspname = ANY($1) OR tn.nspname = ANY($1))
		ORDER BY fn.nspname, fc.relname, con.conname`, schemas)
	if err != nil {
		return nil, fmt.Errorf("read foreign keys: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (archive.ForeignKey, error) {
		var fk archive.ForeignKey
		var match string
		err := r.Scan(&fk.Name, &fk.From.Schema, &fk.From.Table, &fk.From.Columns,
			&fk.To.Schema, &fk.To.Table, &fk.To.Columns, &match, &fk.Validated)
		fk.Match = map[string]string{"s": "simple", "f": "full", "p": "partial"}[match]
		return fk, err
	})
	if err != nil {
		return nil, fmt.Errorf("read foreign keys: %w", err)
	}
	return out, nil
}

// CountSQL is the exact row count of one table, its inheritance children
// left out (each is counted on its own).
func CountSQL(t TableName) string {
	return `SELECT count(*) FROM ONLY ` + t.Sanitize()
}

// fingerprintSettings make every value's text form the same on any server
// and session: the fingerprint hashes rows as text.
const fingerprintSettings = `SET LOCAL DateStyle = 'ISO, YMD'; SET LOCAL IntervalStyle = 'postgres'; SET LOCAL TimeZone = 'UTC';
	SET LOCAL extra_float_digits = 3; SET LOCAL bytea_output = 'hex'; SET LOCAL lc_monetary = 'C'`

// Fingerprint counts the rows of table t and computes its content
// fingerprint in one scan: the sums, over every row, of the two halves of
// the MD5 of the row's text form. The sums do not depend on the order of
// the rows, so a restored copy, whose rows lie in another order, has the
// same fingerprint exactly when it holds the same rows (up to MD5
// collisions). conn must be in a transaction (the settings are local to
// it).
func Fingerprint(ctx context.Context, conn *pgx.Conn, t TableName) (rows int64, fingerprint string, err error) {
	if _, err := conn.Exec(ctx, fingerprintSettings); err != nil {
		return 0, "", fmt.Errorf("fingerprint %s: %w", t, err)
	}
	sql := `SELECT count(*),
	        coalesce(sum(('x' || substr(h, 1, 16))::bit(64)::bigint::numeric), 0)::text || ':' ||
	        coalesce(sum(('x' || substr(h, 17, 16))::bit(64)::bigint::numeric), 0)::text
	        FROM (SELECT md5(r::text) AS h FROM ONLY ` + t.Sanitize() + ` r) s`
	if err := conn.QueryRow(ctx, sql).Scan(&rows, &fingerprint); err != nil {
		return 0, "", fmt.Errorf("fingerprint %s: %w", t, err)
	}
	return rows, "md5sum:" + fingerprint, nil
}

// BrokenSQL counts the rows of fk's table that reference no row: under
// MATCH SIMPLE, rows whose columns are all set and match no referenced row;
// under MATCH FULL, also rows with some but not all columns NULL.
func BrokenSQL(fk archive.ForeignKey) (string, error) {
	n := len(fk.From.Columns)
	if n == 0 || n != len(fk.To.Columns) {
		return "", fmt.Errorf("foreign key %s: %d referencing and %d referenced columns", fk.QualifiedName(), n, len(fk.To.Columns))
	}
	var notNull, join, cols []string
	for i := range n {
		f := "f." + pgx.Identifier{fk.From.Columns[i]}.Sanitize()
		t := "t." + pgx.Identifier{fk.To.Columns[i]}.Sanitize()
		notNull = append(notNull, f+" IS NOT NULL")
		join = append(join, t+" = "+f)
		cols = append(cols, f)
	}
	from := pgx.Identifier{fk.From.Schema, fk.From.Table}.Sanitize()
	to := pgx.Identifier{fk.To.Schema, fk.To.Table}.Sanitize()
	cond := "(" + strings.Join(notNull, " AND ") + " AND NOT EXISTS (SELECT 1 FROM " + to + " t WHERE " + strings.Join(join, " AND ") + "))"
	if fk.Match == "full" && n > 1 {
		cond += fmt.Sprintf(" OR num_nulls(%s) NOT IN (0, %d)", strings.Join(cols, ", "), n)
	}
	return "SELECT count(*) FROM " + from + " f WHERE " + cond, nil
}

// Task is one read to run on a snapshot connection.
type Task func(ctx context.Context, conn *pgx.Conn) error

// RunInSnapshot runs tasks on at most jobs connections made from cfg, each
// in a REPEATABLE READ, READ ONLY transaction that imports snapshot (when
// not empty), so every task sees the same instant. The first error stops
// the rest.
func RunInSnapshot(ctx context.Context, cfg *pgx.ConnConfig, snapshot string, jobs int, tasks []Task) error {
	if len(tasks) == 0 {
		return nil
	}
	if snapshot != "" && !snapshotPattern(snapshot) {
		return fmt.Errorf("snapshot id %q is not one pg_export_snapshot() makes", snapshot)
	}
	jobs = max(1, min(jobs, len(tasks)))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		next     int
		firstErr error
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		cancel()
	}
	take := func() (Task, bool) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr != nil || next >= len(tasks) {
			return nil, false
		}
		t := tasks[next]
		next++
		return t, true
	}
	for range jobs {
		wg.Go(func() {
			conn, err := pgx.ConnectConfig(ctx, cfg)
			if err != nil {
				fail(fmt.Errorf("connect: %w", err))
				return
			}
			defer conn.Close(context.Background())
			if _, err := conn.Exec(ctx, `BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY`); err != nil {
				fail(err)
				return
			}
			if snapshot != "" {
				if _, err := conn.Exec(ctx, `SET TRANSACTION SNAPSHOT '`+snapshot+`'`); err != nil {
					fail(fmt.Errorf("import snapshot %s: %w", snapshot, err))
					return
				}
			}
			for {
				t, ok := take()
				if !ok {
					break
				}
				if err := t(ctx, conn); err != nil {
					fail(err)
					return
				}
			}
			_, _ = conn.Exec(ctx, `ROLLBACK`)
		})
	}
	wg.Wait()
	return firstErr
}

// ExportSnapshot exports the snapshot of the transaction conn is in, which
// must be REPEATABLE READ or SERIALIZABLE. The snapshot lives as long as
// that transaction.
func ExportSnapshot(ctx context.Context, conn *pgx.Conn) (string, error) {
	var id string
	if err := conn.QueryRow(ctx, `SELECT pg_catalog.pg_export_snapshot()`).Scan(&id); err != nil {
		return "", fmt.Errorf("export snapshot: %w", err)
	}
	if !snapshotPattern(id) {
		return "", fmt.Errorf("export snapshot: unexpected id %q", id)
	}
	return id, nil
}

// snapshotPattern checks a snapshot id (hex digits and dashes) before it
// is pasted into SET TRANSACTION SNAPSHOT, which takes no parameter.
func snapshotPattern(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= '0' && r <= '9' || r >= 'A' && r <= 'F' || r >= 'a' && r <= 'f' || r == '-') {
			return false
		}
	}
	return true
}
