package svcrestore

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// This file reads, from the live database, what the merge needs to know
// about the restored services' tables and the foreign keys that touch them.

// table is one table of a restored service, as the live database has it.
type table struct {
	Service string
	Schema  string
	Name    string
	OID     uint32
	// Partitioned tables hold no rows of their own.
	Partitioned bool
	// PK are the primary key's columns, in key order; empty without one.
	PK []string
	// Columns are every column but dropped ones, in order.
	Columns []column
	// Triggers are the user triggers that are enabled.
	Triggers []trigger
	// stage is the temporary table holding the backup's rows; cols the
	// columns the backup has, in the order of its COPY.
	stage string
	cols  []string
	// pending is the temporary table of the rows the merge inserts, once
	// it has inserted some.
	pending string
	// Rows is the backup's row count, from the manifest.
	Rows int64
	// loaded is the number of rows staged.
	loaded int64
	// differs: the backup's columns are not the live table's.
	differs bool
}

type column struct {
	Name string
	// Generated is true for a stored generated column: pg_dump does not
	// dump it and nothing may write it.
	Generated bool
	// IdentityAlways is GENERATED ALWAYS AS IDENTITY.
	IdentityAlways bool
}

type trigger struct {
	Name string
	// Enabled is pg_trigger.tgenabled: O (origin), A (always), R (replica).
	Enabled string
}

func (t *table) qualified() string { return t.Schema + "." + t.Name }
func (t *table) ident() string     { return pgx.Identifier{t.Schema, t.Name}.Sanitize() }

// readTables lists the tables of schema, with their columns, primary key
// and enabled user triggers.
func readTables(ctx context.Context, conn *pgx.Conn, service, schema string) ([]*table, error) {
	rows, err := conn.Query(ctx, `
		SELECT c.oid, c.relname, c.relkind = 'p',
		       coalesce((SELECT array_agg(a.attname ORDER BY k.ord)
		                 FROM pg_catalog.pg_constraint p
		                 CROSS JOIN LATERAL unnest(p.conkey) WITH ORDINALITY AS k(attnum, ord)
		                 JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
		                 WHERE p.conrelid = c.oid AND p.contype = 'p'), '{}'),
		       (SELECT array_agg(a.attname ORDER BY a.attnum) FROM pg_catalog.pg_attribute a
		        WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
		       (SELECT array_agg(a.attgenerated <> '' ORDER BY a.attnum) FROM pg_catalog.pg_attribute a
		        WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
		       (SELECT array_agg(a.attidentity = 'a' ORDER BY a.attnum) FROM pg_catalog.pg_attribute a
		        WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
		       coalesce((SELECT array_agg(t.tgname::text ORDER BY t.tgname) FROM pg_catalog.pg_trigger t
		                 WHERE t.tgrelid = c.oid AND NOT t.tgisinternal AND t.tgenabled <> 'D'), '{}'),
		       coalesce((SELECT array_agg(t.tgenabled::text ORDER BY t.tgname) FROM pg_catalog.pg_trigger t
		                 WHERE t.tgrelid = c.oid AND NOT t.tgisinternal AND t.tgenabled <> 'D'), '{}')
		FROM pg_catalog.pg_class c
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')
		ORDER BY c.relname`, schema)
	if err != nil {
		return nil, fmt.Errorf("read the tables of schema %s: %w", schema, err)
	}
	defer rows.Close()
	var out []*table
	for rows.Next() {
		t := &table{Service: service, Schema: schema}
		var cols, tgNames, tgEnabled []string
		var gen, ident []bool
		if err := rows.Scan(&t.OID, &t.Name, &t.Partitioned, &t.PK, &cols, &gen, &ident, &tgNames, &tgEnabled); err != nil {
			return nil, fmt.Errorf("read the tables of schema %s: %w", schema, err)
		}
		for i, c := range cols {
			t.Columns = append(t.Columns, column{Name: c, Generated: gen[i], IdentityAlways: ident[i]})
		}
		for i, n := range tgNames {
			t.Triggers = append(t.Triggers, trigger{Name: n, Enabled: tgEnabled[i]})
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the tables of schema %s: %w", schema, err)
	}
	return out, nil
}

// foreignKey is a foreign key from one table to another.
type foreignKey struct {
	Name       string
	FromSchema string
	FromTable  string
	FromCols   []string
	ToSchema   string
	ToTable    string
	ToCols     []string
	// OnDelete is pg_constraint.confdeltype: a (no action), r (restrict),
	// c (cascade), n (set null), d (set default).
	OnDelete string
	// Full is MATCH FULL: a row with some key columns NULL but not all
	// breaks the key.
	Full bool
}

// link renders from.table(cols) -> to.table(cols).
func (fk foreignKey) link() string {
	return fmt.Sprintf("%s.%s(%s) -> %s.%s(%s)", fk.FromSchema, fk.FromTable, strings.Join(fk.FromCols, ", "),
		fk.ToSchema, fk.ToTable, strings.Join(fk.ToCols, ", "))
}

// readForeignKeys lists every foreign key from or to a table of schemas.
func readForeignKeys(ctx context.Context, conn *pgx.Conn, schemas []string) ([]foreignKey, error) {
	fks, err := queryForeignKeys(ctx, conn, "con.conparentid = 0 AND (fn.nspname = ANY($1) OR tn.nspname = ANY($1))", schemas)
	if err != nil {
		return nil, fmt.Errorf("read foreign keys: %w", err)
	}
	return fks, nil
}

// queryForeignKeys lists the foreign keys that meet where (on pg_constraint
// con, the referencing schema fn and the referenced schema tn).
func queryForeignKeys(ctx context.Context, q querier, where string, args ...any) ([]foreignKey, error) {
	rows, err := q.Query(ctx, `
		SELECT con.conname, fn.nspname, fc.relname,
		       (SELECT array_agg(a.attname ORDER BY k.ord) FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
		        JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum),
		       tn.nspname, tc.relname,
		       (SELECT array_agg(a.attname ORDER BY k.ord) FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
		        JOIN pg_catalog.pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum),
		       con.confdeltype::text, con.confmatchtype = 'f'
		FROM pg_catalog.pg_constraint con
		JOIN pg_catalog.pg_class fc ON fc.oid = con.conrelid
		JOIN pg_catalog.pg_namespace fn ON fn.oid = fc.relnamespace
		JOIN pg_catalog.pg_class tc ON tc.oid = con.confrelid
		JOIN pg_catalog.pg_namespace tn ON tn.oid = tc.relnamespace
		WHERE con.contype = 'f' AND `+where+`
		ORDER BY fn.nspname, fc.relname, con.conname`, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (foreignKey, error) {
		var fk foreignKey
		err := r.Scan(&fk.Name, &fk.FromSchema, &fk.FromTable, &fk.FromCols, &fk.ToSchema, &fk.ToTable, &fk.ToCols, &fk.OnDelete, &fk.Full)
		return fk, err
	})
}

// partitionLeaves lists the partitions of the partitioned table with oid
// that hold rows (at any depth), as schema.table.
func partitionLeaves(ctx context.Context, conn *pgx.Conn, oid uint32) ([]string, error) {
	rows, err := conn.Query(ctx, `
		SELECT n.nspname || '.' || c.relname
		FROM pg_catalog.pg_partition_tree($1::oid::regclass) p
		JOIN pg_catalog.pg_class c ON c.oid = p.relid
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE p.isleaf
		ORDER BY 1`, oid)
	if err != nil {
		return nil, fmt.Errorf("read the partitions of table %d: %w", oid, err)
	}
	leaves, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read the partitions of table %d: %w", oid, err)
	}
	return leaves, nil
}

// sequence is a sequence of a restored service's schema.
type sequence struct {
	Schema, Name string
	OID          uint32
	Increment    int64
}

func (s *sequence) qualified() string { return s.Schema + "." + s.Name }

// readSequences lists the sequences of schemas.
func readSequences(ctx context.Context, conn *pgx.Conn, schemas []string) ([]*sequence, error) {
	rows, err := conn.Query(ctx, `
		SELECT n.nspname, c.relname, c.oid, s.seqincrement
		FROM pg_catalog.pg_sequence s
		JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = ANY($1)
		ORDER BY 1, 2`, schemas)
	if err != nil {
		return nil, fmt.Errorf("read sequences: %w", err)
	}
	seqs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*sequence, error) {
		s := &sequence{}
		err := r.Scan(&s.Schema, &s.Name, &s.OID, &s.Increment)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("read sequences: %w", err)
	}
	return seqs, nil
}

// isSuperuser tells whether the connected role is a superuser.
func isSuperuser(ctx context.Context, conn *pgx.Conn) (bool, error) {
	var super bool
	err := conn.QueryRow(ctx, `SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user`).Scan(&super)
	if err != nil {
		return false, fmt.Errorf("read the admin role: %w", err)
	}
	return super, nil
}

// lockHolders describes the sessions that hold or wait for a lock on any
// of the tables, other than this one: who a lock wait waited for.
func lockHolders(ctx context.Context, conn *pgx.Conn, oids []uint32) string {
	rows, err := conn.Query(ctx, `
		SELECT DISTINCT a.pid, coalesce(a.usename, ''), coalesce(a.application_name, ''), coalesce(a.state, ''),
		       left(regexp_replace(coalesce(a.query, ''), '\s+', ' ', 'g'), 80), l.relation::regclass::text
		FROM pg_catalog.pg_locks l
		JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
		WHERE l.relation = ANY($1::oid[]) AND l.granted AND l.pid <> pg_backend_pid()
		ORDER BY 1 LIMIT 5`, oids)
	if err != nil {
		return "(could not read pg_locks: " + err.Error() + ")"
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var pid int
		var user, app, state, query, rel string
		if rows.Scan(&pid, &user, &app, &state, &query, &rel) == nil {
			out = append(out, fmt.Sprintf("pid %d (user %s, application %q, %s, on %s: %s)", pid, user, app, state, rel, query))
		}
	}
	if len(out) == 0 {
		return "no session holds one any more"
	}
	return strings.Join(out, "; ")
}
