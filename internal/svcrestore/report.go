package svcrestore

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Direction says which way a link crosses the restored services' border.
type Direction string

// The directions of a link.
const (
	// Inbound: another service's rows reference a restored service's.
	Inbound Direction = "inbound"
	// Outbound: a restored service's rows reference another service's.
	Outbound Direction = "outbound"
)

// LinkReport is one link between a restored service and another, and the
// rows the restore would leave referencing a row that is not there.
type LinkReport struct {
	Direction Direction `json:"direction"`
	// Link is from.table(columns) -> to.table(columns).
	Link string `json:"link"`
	// ForeignKey names the constraint, schema.table.name; empty for a soft
	// link.
	ForeignKey string `json:"foreign_key,omitempty"`
	// Enforced is true for a foreign key: PostgreSQL refuses the rows that
	// would break it, so no option lets the restore proceed over them.
	Enforced bool `json:"enforced"`
	// OnDelete is the foreign key's action when it is not NO ACTION or
	// RESTRICT: deleting a restored service's row would change another
	// service's rows.
	OnDelete string `json:"on_delete,omitempty"`
	// Broken counts the rows that would reference a missing row: inbound,
	// the other service's rows whose referenced row the backup lacks;
	// outbound, the backup's rows whose referenced row is gone. -1: not
	// counted (an outbound link of a restore that stopped before its
	// merge checked the rows it inserts).
	Broken int64 `json:"broken"`
	// Samples are up to five of the missing keys, as column=value.
	Samples []string `json:"samples"`
}

const maxSamples = 5

var deleteActions = map[string]string{"c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}

// brokenLinks counts, for every foreign key between a restored table and
// a table of another service, the rows the restore would break. stageOf
// maps schema.table of the restored tables to their staging tables. With
// inboundOnly the outbound links are listed, not counted (Broken -1).
func brokenLinks(ctx context.Context, conn *pgx.Conn, fks []foreignKey, stageOf map[string]string, inboundOnly bool) ([]LinkReport, error) {
	var out []LinkReport
	for _, fk := range fks {
		fromStage, fromIn := stageOf[fk.FromSchema+"."+fk.FromTable]
		toStage, toIn := stageOf[fk.ToSchema+"."+fk.ToTable]
		if fromIn == toIn {
			continue // inside the restored services, or not touching them
		}
		r := LinkReport{Link: fk.link(), ForeignKey: fk.FromSchema + "." + fk.FromTable + "." + fk.Name, Enforced: true, OnDelete: deleteActions[fk.OnDelete], Samples: []string{}}
		// The referencing rows, and where their referenced row must be
		// after the restore.
		var from, to string
		if toIn {
			r.Direction = Inbound
			from, to = pgx.Identifier{fk.FromSchema, fk.FromTable}.Sanitize(), toStage
		} else {
			r.Direction = Outbound
			from, to = fromStage, pgx.Identifier{fk.ToSchema, fk.ToTable}.Sanitize()
		}
		if inboundOnly && r.Direction == Outbound {
			r.Broken = -1
			out = append(out, r)
			continue
		}
		where, cols := brokenWhere(fk)
		q := "FROM " + from + " r WHERE " + where + " AND NOT EXISTS (SELECT 1 FROM " + to + " t WHERE " + joinOn(fk) + ")"
		if err := conn.QueryRow(ctx, "SELECT count(*) "+q).Scan(&r.Broken); err != nil {
			return nil, fmt.Errorf("count the rows that would break %s: %w", r.Link, err)
		}
		if r.Broken > 0 {
			rows, err := conn.Query(ctx, "SELECT DISTINCT "+cols+" "+q+fmt.Sprintf(" ORDER BY 1 LIMIT %d", maxSamples))
			if err != nil {
				return nil, fmt.Errorf("sample the rows that would break %s: %w", r.Link, err)
			}
			samples, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return nil, fmt.Errorf("sample the rows that would break %s: %w", r.Link, err)
			}
			r.Samples = samples
		}
		out = append(out, r)
	}
	return out, nil
}

// brokenWhere is the condition on the referencing rows (alias r) under
// which the foreign key checks them: no column NULL (MATCH SIMPLE; under
// MATCH FULL they are all NULL or none). cols renders the referencing
// columns as one text, col=value, ...
func brokenWhere(fk foreignKey) (where, cols string) {
	var conds, parts []string
	for _, c := range fk.FromCols {
		q := "r." + pgx.Identifier{c}.Sanitize()
		conds = append(conds, q+" IS NOT NULL")
		parts = append(parts, quoteLiteral(c+"=")+" || "+q+"::text")
	}
	return strings.Join(conds, " AND "), strings.Join(parts, " || ', ' || ")
}

// joinOn matches referencing rows r with referenced rows t.
func joinOn(fk foreignKey) string {
	var conds []string
	for i := range fk.FromCols {
		conds = append(conds, "t."+pgx.Identifier{fk.ToCols[i]}.Sanitize()+" = r."+pgx.Identifier{fk.FromCols[i]}.Sanitize())
	}
	return strings.Join(conds, " AND ")
}

// quoteLiteral quotes s as an SQL string literal.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
