package svcrestore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/splitschema/splitschema/internal/archive"
	"github.com/splitschema/splitschema/internal/pgsql"
)

// report checks the staged rows against the manifest and the services'
// migrations against the backup's, counts what the merge would change and
// the links it would break, and records every reason to refuse.
func (r *run) report(ctx context.Context) error {
	r.step("comparing the backup with the live database")
	refuse := func(format string, args ...any) { r.res.Refused = append(r.res.Refused, fmt.Sprintf(format, args...)) }
	m := r.backup.Manifest
	for _, svc := range r.services {
		var ms *archive.Service
		for i := range m.Services {
			if m.Services[i].Name == svc.Name {
				ms = &m.Services[i]
			}
		}
		// By schema.table: the service's schema's tables, and those of
		// its other schemas, which the manifest lists beside the services'.
		backupRows := map[string]int64{}
		for _, t := range ms.Tables {
			backupRows[svc.Schema+"."+t.Name] = t.Rows
		}
		for _, t := range m.OtherTables {
			if slices.Contains(svc.Schemas[1:], t.Schema) {
				backupRows[t.Schema+"."+t.Name] = t.Rows
			}
		}
		for _, t := range r.tables {
			if t.Service != svc.Name || t.Partitioned {
				continue
			}
			want, inManifest := backupRows[t.qualified()]
			switch {
			case !inManifest:
				refuse("table %s is not in the backup: the live schema differs from the backup's", t.qualified())
			case t.differs:
				// Not staged: its columns differ, already said.
			case t.cols == nil:
				return fmt.Errorf("the backup's archive holds no rows of %s, its manifest lists the table: the backup is inconsistent. Nothing was changed", t.qualified())
			case t.loaded != want:
				return fmt.Errorf("the backup's archive holds %d rows of %s, its manifest says %d: the backup is inconsistent. Nothing was changed", t.loaded, t.qualified(), want)
			}
			t.Rows = want
			delete(backupRows, t.qualified())
		}
		for _, name := range slices.Sorted(maps.Keys(backupRows)) {
			refuse("table %s of the backup is not in the live database: the live schema differs from the backup's", name)
		}
		vm, err := compareVersions(ctx, r.conn, r.p, svc.Name, r.versions[svc.Name])
		if err != nil {
			return err
		}
		if vm != nil {
			r.res.Versions = append(r.res.Versions, *vm)
			refuse("%s", vm)
		} else if ms.Version != nil && r.versions[svc.Name] == nil {
			refuse("service %s has no migration version table, the backup is at version %d", svc.Name, *ms.Version)
		}
	}
	var merged []*table
	for _, t := range r.tables {
		if t.Partitioned || t.Name == pgsql.VersionTable || t.cols == nil {
			continue
		}
		if len(t.PK) == 0 {
			r.res.NoPrimaryKey = append(r.res.NoPrimaryKey, t.qualified())
			refuse("table %s has no primary key: its rows cannot be matched with the backup's, and restore does not guess", t.qualified())
			continue
		}
		for _, c := range t.Columns {
			if c.IdentityAlways && !slices.Contains(t.PK, c.Name) {
				refuse("table %s: column %s is GENERATED ALWAYS AS IDENTITY outside the primary key, and cannot be set back to the backup's values", t.qualified(), c.Name)
			}
		}
		merged = append(merged, t)
	}
	r.merged = dependencyOrder(merged, r.fks)
	for _, t := range r.merged {
		c, err := countChanges(ctx, r.conn, t)
		if err != nil {
			return err
		}
		r.res.Tables = append(r.res.Tables, c)
	}
	// A restore that goes on to its merge counts the outbound links
	// there, once, as it checks the rows it inserts (the rest of a
	// restored table's rows keep or change their references under
	// PostgreSQL's own checks); a dry run counts them here.
	if err := r.countLinks(ctx, !r.o.DryRun); err != nil {
		return err
	}
	var err error
	r.res.Sequences, err = r.sequenceChanges(ctx, r.conn)
	return err
}

// countLinks fills the report's links, and refuses on every broken one;
// with inboundOnly the outbound ones are left uncounted.
func (r *run) countLinks(ctx context.Context, inboundOnly bool) error {
	stageOf := map[string]string{}
	for _, t := range r.merged {
		stageOf[t.qualified()] = t.stage
	}
	// A partitioned table's foreign keys are its own, its rows its
	// partitions': its staged rows are theirs, together.
	for _, t := range r.tables {
		if !t.Partitioned {
			continue
		}
		leaves, err := partitionLeaves(ctx, r.conn, t.OID)
		if err != nil {
			return err
		}
		var cols []string
		for _, c := range t.Columns {
			cols = append(cols, pgsql.Ident(c.Name))
		}
		var parts []string
		for _, leaf := range leaves {
			if stage := stageOf[leaf]; stage != "" {
				parts = append(parts, "SELECT "+strings.Join(cols, ", ")+" FROM "+stage)
			}
		}
		if len(parts) > 0 {
			stageOf[t.qualified()] = "(" + strings.Join(parts, " UNION ALL ") + ")"
		}
	}
	links, err := brokenLinks(ctx, r.conn, r.fks, stageOf, inboundOnly)
	if err != nil {
		return err
	}
	r.res.Links = links
	for _, l := range links {
		if l.Broken <= 0 {
			continue
		}
		what := "rows of another service would reference rows the backup lacks"
		if l.Direction == Outbound {
			what = "restored rows would reference rows that no longer exist"
		}
		if l.OnDelete != "" {
			what += fmt.Sprintf(" (its ON DELETE %s would change them)", l.OnDelete)
		}
		r.res.Refused = append(r.res.Refused, fmt.Sprintf("%d %s through %s", l.Broken, what, l.Link))
	}
	return nil
}

// merge runs the one transaction that makes the services' tables the
// backup's.
func (r *run) merge(ctx context.Context) error {
	r.step("locking the services' tables and merging")
	tx, err := r.conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin the merge: %w", err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL lock_timeout = %d", r.o.LockTimeout.Milliseconds())); err != nil {
		return fmt.Errorf("set lock_timeout: %w", err)
	}
	if r.o.locking != nil {
		r.o.locking()
	}
	var names []string
	var oids []uint32
	for _, t := range r.merged {
		names = append(names, t.ident())
		oids = append(oids, t.OID)
	}
	locked := time.Now()
	// EXCLUSIVE: others may still read the tables, nobody may write them
	// or lock their rows for a foreign key check until the merge is done.
	if _, err := tx.Exec(ctx, "LOCK TABLE "+strings.Join(names, ", ")+" IN EXCLUSIVE MODE"); err != nil {
		if pgsql.IsCode(err, pgsql.LockNotAvailable) {
			_ = tx.Rollback(ctx)
			return fmt.Errorf("lock the tables of %s: no lock within %s (lock_timeout): held by %s; try again when they are done. Nothing was changed",
				serviceWord(r.res.Services), r.o.LockTimeout, lockHolders(ctx, r.conn, oids))
		}
		return fmt.Errorf("lock the tables of %s: %w", serviceWord(r.res.Services), err)
	}
	changes := map[string]*TableChange{}
	for i := range r.res.Tables {
		changes[r.res.Tables[i].Table] = &r.res.Tables[i]
	}
	if err := setTriggers(ctx, tx, r.merged, false); err != nil {
		return err
	}
	if err := mergeTables(ctx, tx, r.merged, changes); err != nil {
		var broken *BrokenKeyError
		if pgsql.IsCode(err, pgsql.ForeignKeyViolation) || errors.As(err, &broken) {
			// A link broke since the report was counted: count again, and
			// say which.
			_ = tx.Rollback(ctx)
			r.res.Refused = nil
			if cerr := r.countLinks(ctx, false); cerr == nil && len(r.res.Refused) > 0 {
				return &RefusedError{Result: r.res}
			}
		}
		return fmt.Errorf("merge, rolled back, nothing was changed: %w", err)
	}
	if r.o.merged != nil {
		r.o.merged()
	}
	if err := setTriggers(ctx, tx, r.merged, true); err != nil {
		return err
	}
	for _, t := range r.merged {
		var n int64
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+t.ident()).Scan(&n); err != nil {
			return fmt.Errorf("count the rows of %s: %w", t.qualified(), err)
		}
		if n != t.Rows {
			return fmt.Errorf("after the merge %s holds %d rows, the backup %d: rolled back, nothing was changed", t.qualified(), n, t.Rows)
		}
	}
	if err := r.advanceSequences(ctx, tx); err != nil {
		return err
	}
	r.step(phaseCommit)
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit the merge: %w", err)
	}
	// Every row the merge inserted was checked against its foreign keys,
	// every row it updated by PostgreSQL, the rest were there already:
	// no outbound link is broken.
	for i := range r.res.Links {
		if r.res.Links[i].Broken < 0 {
			r.res.Links[i].Broken = 0
		}
	}
	r.res.LockedSeconds = float64(time.Since(locked).Milliseconds()) / 1000
	r.res.Applied = true
	return nil
}

func serviceWord(services []string) string {
	if len(services) == 1 {
		return "service " + services[0]
	}
	return "services " + strings.Join(services, ", ")
}
