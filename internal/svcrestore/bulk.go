package svcrestore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The rows a restore inserts are inserted in bulk: with the session in
// replica mode, so that PostgreSQL's foreign key triggers do not check and
// lock the referenced row of each inserted row one by one (a wiped service
// has every row of its tables inserted: per-row checks made that case cost
// as much as restoring the whole database). The inserted rows are then
// checked against every foreign key of their table in one query per key,
// before the transaction commits, so no enforced key is ever left violated.
//
// A per-row check also locks each referenced row (FOR KEY SHARE), so that
// no other session deletes it before the restore commits. The bulk check
// needs no such locks: the merge holds EXCLUSIVE locks on the restored
// tables, and a session that deletes a referenced row (or changes its key)
// must, in its own foreign key action, lock or change rows of the restored
// table (ROW SHARE or ROW EXCLUSIVE), and holds that lock until it ends.
// One that acted before the merge locked the tables has ended when the
// merge gets its locks, so the check sees its deletion; one that acts
// after waits for the merge to commit and then finds the inserted rows
// that reference its row, and fails as it would against any other row.

// pendingPrefix starts the name of each table of rows to insert.
const pendingPrefix = "splitschema_insert_"

// insertMissing inserts the staged rows of t that the live table lacks, in
// bulk, and returns how many. t.pending is then the table of those rows,
// for checkInserted: the staging table itself when the live table is
// empty (a wiped service: no copy to make), else a temporary table of the
// transaction.
func insertMissing(ctx context.Context, tx pgx.Tx, t *table, i int) (int64, error) {
	t.pending = ""
	m := t.statements()
	var empty bool
	if err := tx.QueryRow(ctx, "SELECT NOT EXISTS (SELECT 1 FROM "+t.ident()+")").Scan(&empty); err != nil {
		return 0, fmt.Errorf("read table %s: %w", t.qualified(), err)
	}
	pending := t.stage
	if !empty {
		pending = pgx.Identifier{"pg_temp", pendingPrefix + strconv.Itoa(i)}.Sanitize()
		// A first try of the merge, rolled back to its savepoint, dropped it.
		if _, err := tx.Exec(ctx, "DROP TABLE IF EXISTS "+pending); err != nil {
			return 0, fmt.Errorf("clear the rows to insert into %s: %w", t.qualified(), err)
		}
		tag, err := tx.Exec(ctx, "CREATE TEMPORARY TABLE "+pending+" ON COMMIT DROP AS SELECT "+m.insertCols+m.missing)
		if err != nil {
			return 0, fmt.Errorf("collect the missing rows of %s: %w", t.qualified(), err)
		}
		if tag.RowsAffected() == 0 {
			return 0, nil
		}
	}
	if _, err := tx.Exec(ctx, "SET LOCAL session_replication_role = replica"); err != nil {
		return 0, fmt.Errorf("insert the missing rows of %s: replica mode: %w", t.qualified(), err)
	}
	tag, err := tx.Exec(ctx, "INSERT INTO "+t.ident()+" ("+m.columns+") OVERRIDING SYSTEM VALUE SELECT "+m.columns+" FROM "+pending)
	if err != nil {
		return 0, fmt.Errorf("insert the missing rows of %s: %w", t.qualified(), err)
	}
	if _, err := tx.Exec(ctx, "SET LOCAL session_replication_role = origin"); err != nil {
		return 0, fmt.Errorf("insert the missing rows of %s: back from replica mode: %w", t.qualified(), err)
	}
	if tag.RowsAffected() > 0 {
		t.pending = pending
	}
	return tag.RowsAffected(), nil
}

// readKeyChecks lists the foreign keys that constrain the rows of the
// table with oid: its own and, for a partition, those it inherits; not
// the per-partition copies PostgreSQL makes of a key that references a
// partitioned table (the key itself covers them).
func readKeyChecks(ctx context.Context, tx pgx.Tx, oid uint32) ([]foreignKey, error) {
	fks, err := queryForeignKeys(ctx, tx, `con.conrelid = $1
		AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint p WHERE p.oid = con.conparentid AND p.conrelid = con.conrelid)`, oid)
	if err != nil {
		return nil, fmt.Errorf("read the foreign keys of table %d: %w", oid, err)
	}
	return fks, nil
}

// BrokenKeyError is a foreign key that rows inserted by the merge would
// violate: the transaction must roll back.
type BrokenKeyError struct {
	Link   string
	Broken int64
}

func (e *BrokenKeyError) Error() string {
	return fmt.Sprintf("%d inserted rows would break the foreign key %s", e.Broken, e.Link)
}

// checkInserted checks the rows insertMissing inserted into tables
// against every foreign key of their tables, as PostgreSQL's own checks
// would have, and returns a *BrokenKeyError for the first key they break.
func checkInserted(ctx context.Context, tx pgx.Tx, tables []*table) error {
	for _, t := range tables {
		if t.pending == "" {
			continue
		}
		keys, err := readKeyChecks(ctx, tx, t.OID)
		if err != nil {
			return err
		}
		for _, fk := range keys {
			ref := pgx.Identifier{fk.ToSchema, fk.ToTable}.Sanitize()
			checked, _ := brokenWhere(fk)
			on := joinOn(fk)
			missing := "SELECT count(*) FROM " + t.pending + " r WHERE (" + checked + " AND NOT EXISTS (SELECT 1 FROM " + ref + " t WHERE " + on + "))"
			if fk.Full && len(fk.FromCols) > 1 {
				missing += " OR " + partlyNull(fk.FromCols)
			}
			var n int64
			if err := tx.QueryRow(ctx, missing).Scan(&n); err != nil {
				return fmt.Errorf("check the inserted rows of %s against %s: %w", t.qualified(), fk.Name, err)
			}
			if n > 0 {
				return &BrokenKeyError{Link: fk.link(), Broken: n}
			}
		}
	}
	return nil
}

// partlyNull is true of a row (alias r) whose columns cols are some NULL,
// some not: what MATCH FULL refuses.
func partlyNull(cols []string) string {
	var null []string
	for _, c := range cols {
		null = append(null, "r."+pgx.Identifier{c}.Sanitize()+" IS NULL")
	}
	return "((" + strings.Join(null, " OR ") + ") AND NOT (" + strings.Join(null, " AND ") + "))"
}
