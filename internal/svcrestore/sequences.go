package svcrestore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// querier is a connection or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// seqValue is a sequence's state: its last value and whether nextval
// has returned it yet.
type seqValue struct {
	last   int64
	called bool
}

// ahead tells whether a hands out values beyond b's for a sequence that
// counts by increment.
func (a seqValue) ahead(b seqValue, increment int64) bool {
	if a.last == b.last {
		return a.called && !b.called
	}
	if increment < 0 {
		return a.last < b.last
	}
	return a.last > b.last
}

// sequenceChanges compares the backup's value of each of the services'
// sequences with the live one.
func (r *run) sequenceChanges(ctx context.Context, q querier) ([]SequenceChange, error) {
	out := []SequenceChange{}
	for _, bs := range r.backupSeqs {
		var oid *uint32
		if err := q.QueryRow(ctx, "SELECT to_regclass($1)::oid", bs.Name).Scan(&oid); err != nil {
			return nil, fmt.Errorf("find sequence %s: %w", bs.Name, err)
		}
		var seq *sequence
		for _, s := range r.seqs {
			if oid != nil && s.OID == *oid {
				seq = s
			}
		}
		if seq == nil {
			r.o.Logger.Warn("the backup's sequence is not in the live database: left alone", "sequence", bs.Name)
			continue
		}
		var live seqValue
		if err := q.QueryRow(ctx, "SELECT last_value, is_called FROM "+pgx.Identifier{seq.Schema, seq.Name}.Sanitize()).Scan(&live.last, &live.called); err != nil {
			return nil, fmt.Errorf("read sequence %s: %w", seq.qualified(), err)
		}
		backup := seqValue{last: bs.Value, called: bs.Called}
		out = append(out, SequenceChange{Sequence: seq.qualified(), Backup: bs.Value, Live: live.last, Advanced: backup.ahead(live, seq.Increment),
			ident: pgx.Identifier{seq.Schema, seq.Name}.Sanitize(), called: bs.Called})
	}
	return out, nil
}

// advanceSequences sets each sequence whose backup value is ahead of its
// live one to the backup's value, and never one back: a value the live
// database handed out is not handed out again. setval is not undone by a
// rollback, so this runs last in the merge transaction.
func (r *run) advanceSequences(ctx context.Context, tx pgx.Tx) error {
	changes, err := r.sequenceChanges(ctx, tx)
	if err != nil {
		return err
	}
	for _, c := range changes {
		if !c.Advanced {
			continue
		}
		if _, err := tx.Exec(ctx, "SELECT pg_catalog.setval($1::regclass, $2, $3)", c.ident, c.Backup, c.called); err != nil {
			return fmt.Errorf("advance sequence %s to the backup's %d: %w", c.Sequence, c.Backup, err)
		}
	}
	r.res.Sequences = changes
	return nil
}
