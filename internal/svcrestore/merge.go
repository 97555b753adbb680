package svcrestore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/pgsql"
)

// The merge makes each restored table hold exactly the staged rows, by
// primary key: rows that differ are updated, missing rows inserted, rows
// the backup lacks deleted. Unchanged rows are not touched, so they keep
// their tuples, and no other service's reference to them is ever without
// its row: a DELETE of a referenced row is what a foreign key refuses, and
// those rows are the report's inbound broken links.

// mergeSQL are the statements that merge one table.
// The counts run the statements' own FROM and WHERE, counting instead of
// changing.
type mergeSQL struct {
	update, delete                        string
	countUpdate, countInsert, countDelete string
	// columns are the columns the backup has, quoted; insertCols the same
	// of the staged rows (alias s); missing the FROM and WHERE of the
	// staged rows the live table lacks.
	columns, insertCols, missing string
}

// statements builds the merge of t from its staging table.
func (t *table) statements() mergeSQL {
	pk := map[string]bool{}
	var on []string
	for _, c := range t.PK {
		pk[c] = true
		q := pgx.Identifier{c}.Sanitize()
		on = append(on, "t."+q+" = s."+q)
	}
	match := strings.Join(on, " AND ")
	var set, tcols, scols, all []string
	for _, c := range t.cols {
		q := pgx.Identifier{c}.Sanitize()
		all = append(all, q)
		tcols = append(tcols, "t."+q)
		scols = append(scols, "s."+q)
		if !pk[c] {
			set = append(set, q+" = s."+q)
		}
	}
	var m mergeSQL
	if len(set) > 0 {
		// *= compares the binary images (as REFRESH MATERIALIZED VIEW
		// CONCURRENTLY does): any difference at all, 1.0 against 1.00
		// included, makes the row the backup's again; NULLs match NULLs.
		where := match + " AND NOT (ROW(" + strings.Join(tcols, ", ") + ")::record *= ROW(" + strings.Join(scols, ", ") + ")::record)"
		m.update = "UPDATE " + t.ident() + " AS t SET " + strings.Join(set, ", ") + " FROM " + t.stage + " AS s WHERE " + where
		m.countUpdate = "SELECT count(*) FROM " + t.ident() + " AS t JOIN " + t.stage + " AS s ON " + where
	}
	m.missing = " FROM " + t.stage + " AS s WHERE NOT EXISTS (SELECT 1 FROM " + t.ident() + " AS t WHERE " + match + ")"
	m.columns, m.insertCols = strings.Join(all, ", "), strings.Join(scols, ", ")
	m.countInsert = "SELECT count(*)" + m.missing
	extra := " FROM " + t.ident() + " AS t WHERE NOT EXISTS (SELECT 1 FROM " + t.stage + " AS s WHERE " + match + ")"
	m.delete = "DELETE" + extra
	m.countDelete = "SELECT count(*)" + extra
	return m
}

// countChanges counts, before anything changes, the rows the merge would
// update, insert and delete.
func countChanges(ctx context.Context, conn *pgx.Conn, t *table) (TableChange, error) {
	c := TableChange{Service: t.Service, Table: t.qualified(), BackupRows: t.loaded}
	m := t.statements()
	for _, q := range []struct {
		sql string
		n   *int64
	}{{m.countUpdate, &c.Update}, {m.countInsert, &c.Insert}, {m.countDelete, &c.Delete}} {
		if q.sql == "" {
			continue
		}
		if err := conn.QueryRow(ctx, q.sql).Scan(q.n); err != nil {
			return c, fmt.Errorf("count the changes to %s: %w", t.qualified(), err)
		}
	}
	c.LiveRows = c.BackupRows - c.Insert + c.Delete
	return c, nil
}

// order is the order of the merge's statements: updates and inserts
// parents first, then deletes children first; or, when that trips on a
// unique key (a value a deleted row holds and a restored row takes back),
// deletes first.
type order int

const (
	upsertThenDelete order = iota
	deleteThenUpsert
)

// mergeTables runs the merge of tables (in dependency order, parents
// first) in tx, recording what each statement changed into changes (by
// table). It tries the orders in turn, each under a savepoint.
func mergeTables(ctx context.Context, tx pgx.Tx, tables []*table, changes map[string]*TableChange) error {
	var firstErr error
	for _, o := range []order{upsertThenDelete, deleteThenUpsert} {
		sp, err := tx.Begin(ctx)
		if err != nil {
			return fmt.Errorf("savepoint: %w", err)
		}
		err = runOrder(ctx, sp, tables, changes, o)
		if err == nil {
			if err := sp.Commit(ctx); err != nil {
				return fmt.Errorf("release savepoint: %w", err)
			}
			return nil
		}
		if rerr := sp.Rollback(ctx); rerr != nil {
			return fmt.Errorf("%w (and rollback to savepoint: %v)", err, rerr)
		}
		if firstErr == nil {
			firstErr = err
		}
		var broken *BrokenKeyError
		if c := pgsql.Code(err); c != pgsql.UniqueViolation && c != pgsql.ForeignKeyViolation && !errors.As(err, &broken) {
			return err
		}
	}
	return firstErr
}

func runOrder(ctx context.Context, tx pgx.Tx, tables []*table, changes map[string]*TableChange, o order) error {
	upsert := func() error {
		for i, t := range tables {
			m := t.statements()
			c := changes[t.qualified()]
			c.Update, c.Insert = 0, 0
			if m.update != "" {
				tag, err := tx.Exec(ctx, m.update)
				if err != nil {
					return fmt.Errorf("update the changed rows of %s: %w", t.qualified(), err)
				}
				c.Update = tag.RowsAffected()
			}
			n, err := insertMissing(ctx, tx, t, i)
			if err != nil {
				return err
			}
			c.Insert = n
		}
		return nil
	}
	del := func() error {
		for i := len(tables) - 1; i >= 0; i-- {
			t := tables[i]
			tag, err := tx.Exec(ctx, t.statements().delete)
			if err != nil {
				return fmt.Errorf("delete the rows of %s the backup lacks: %w", t.qualified(), err)
			}
			changes[t.qualified()].Delete = tag.RowsAffected()
		}
		return nil
	}
	steps := []func() error{upsert, del}
	if o == deleteThenUpsert {
		steps = []func() error{del, upsert}
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	return checkInserted(ctx, tx, tables)
}

// dependencyOrder sorts tables so that a table comes after those it
// references (foreign keys among them); a cycle keeps the name order.
func dependencyOrder(tables []*table, fks []foreignKey) []*table {
	byName := map[string]*table{}
	for _, t := range tables {
		byName[t.qualified()] = t
	}
	deps := map[string][]string{}
	for _, fk := range fks {
		from, to := fk.FromSchema+"."+fk.FromTable, fk.ToSchema+"."+fk.ToTable
		if from != to && byName[from] != nil && byName[to] != nil {
			deps[from] = append(deps[from], to)
		}
	}
	var out []*table
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(t *table)
	visit = func(t *table) {
		n := t.qualified()
		if state[n] != 0 {
			return
		}
		state[n] = 1
		for _, d := range deps[n] {
			visit(byName[d])
		}
		state[n] = 2
		out = append(out, t)
	}
	for _, t := range tables {
		visit(t)
	}
	return out
}

// setTriggers disables (on false) the enabled user triggers of tables, so
// that restoring rows does not run the service's own logic on them, or
// enables them again as they were.
func setTriggers(ctx context.Context, tx pgx.Tx, tables []*table, on bool) error {
	for _, t := range tables {
		for _, tg := range t.Triggers {
			how := "DISABLE TRIGGER "
			if on {
				how = map[string]string{"A": "ENABLE ALWAYS TRIGGER ", "R": "ENABLE REPLICA TRIGGER "}[tg.Enabled]
				if how == "" {
					how = "ENABLE TRIGGER "
				}
			}
			if _, err := tx.Exec(ctx, "ALTER TABLE "+t.ident()+" "+how+pgx.Identifier{tg.Name}.Sanitize()); err != nil {
				return fmt.Errorf("table %s: %s%s: %w", t.qualified(), strings.ToLower(how), tg.Name, err)
			}
		}
	}
	return nil
}
