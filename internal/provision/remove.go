package provision

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/pgsql"
	"github.com/splitschema/splitschema/internal/target"
)

// Removal is what `service remove` drops from the project database: the
// service's row in the guard's table, its schema with everything in it,
// and its roles. SQL lists the statements in the order they run, in one
// transaction.
type Removal struct {
	Service  string `json:"service"`
	Database string `json:"database"`
	// DatabaseMissing: the project database does not exist, nothing to drop.
	DatabaseMissing bool     `json:"database_missing,omitempty"`
	SQL             []string `json:"sql"`
	// Rows counts the rows of the schema's tables that go with it (-1 when
	// the admin may not read them all).
	Rows int64 `json:"rows"`

	stmts []removeStmt
}

type removeStmt struct {
	sql  string
	args []any
}

// PlanRemoval works out what removing service name drops. It refuses while
// another service links to it, and a role of the service that belongs to
// another project. It changes nothing.
func PlanRemoval(ctx context.Context, p *manifest.Project, srv *target.Server, name string) (*Removal, error) {
	svc := p.Service(name)
	if svc == nil {
		return nil, fmt.Errorf("no service %q in %s/", name, manifest.SchemasDir)
	}
	if deps := p.Dependants(name); len(deps) > 0 {
		return nil, &InputError{Problems: []string{fmt.Sprintf("service %s is linked to by %s: remove those links first (their files in %s/), then %s",
			name, strings.Join(deps, ", "), manifest.SchemasDir, name)}}
	}
	r := &Removal{Service: name, Database: srv.Database, SQL: []string{}}
	conn, missing, err := connectProject(ctx, srv)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if missing {
		r.DatabaseMissing = true
		return r, nil
	}
	add := func(shown, run string, args ...any) {
		r.SQL = append(r.SQL, shown)
		r.stmts = append(r.stmts, removeStmt{sql: run, args: args})
	}
	var guarded bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass('splitschema.service') IS NOT NULL").Scan(&guarded); err != nil {
		return nil, fmt.Errorf("service remove: read the guard: %w", err)
	}
	if guarded {
		add("DELETE FROM splitschema.service WHERE schema_name = "+pgsql.Literal(svc.Schema), deleteGuarded, svc.Schema)
	}
	var schemaExists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)", svc.Schema).Scan(&schemaExists); err != nil {
		return nil, fmt.Errorf("service remove: read schema %s: %w", svc.Schema, err)
	}
	if schemaExists {
		r.Rows = countRows(ctx, conn, svc.Schema)
		q := "DROP SCHEMA " + ident(svc.Schema) + " CASCADE"
		add(q, q)
	}
	for _, role := range []string{p.AppRole(name), p.MigratorRole(name), p.OwnerRole(name)} {
		var comment *string
		err := conn.QueryRow(ctx, "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1", role).Scan(&comment)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("service remove: read role %s: %w", role, err)
		}
		if comment == nil || *comment != RoleMark(srv.Database) {
			owner := "no splitschema project"
			if comment != nil && RoleProject(*comment) != "" {
				owner = "the project of database " + RoleProject(*comment)
			}
			return nil, &InputError{Problems: []string{fmt.Sprintf("role %s belongs to %s, not to this one (database %s): it is not dropped; remove it by hand if you mean to", role, owner, srv.Database)}}
		}
		for _, q := range []string{"DROP OWNED BY " + ident(role), "DROP ROLE " + ident(role)} {
			add(q, q)
		}
	}
	return r, nil
}

// countRows counts the rows of the tables in schema, -1 when it cannot.
func countRows(ctx context.Context, conn *pgx.Conn, schema string) int64 {
	rows, err := conn.Query(ctx, "SELECT relname FROM pg_class WHERE relnamespace = $1::regnamespace AND relkind IN ('r', 'p')", schema)
	if err != nil {
		return -1
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return -1
	}
	var total int64
	for _, t := range tables {
		var n int64
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+ident(schema, t)).Scan(&n); err != nil {
			return -1
		}
		total += n
	}
	return total
}

// Apply runs the removal in one transaction: all of it or nothing.
func (r *Removal) Apply(ctx context.Context, srv *target.Server) error {
	if r.DatabaseMissing || len(r.stmts) == 0 {
		return nil
	}
	conn, err := srv.Connect(ctx, srv.Database)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{})
	if err != nil {
		return fmt.Errorf("service remove %s: %w", r.Service, err)
	}
	for i, st := range r.stmts {
		if _, err := tx.Exec(ctx, st.sql, st.args...); err != nil {
			if rerr := tx.Rollback(context.WithoutCancel(ctx)); rerr != nil {
				err = errors.Join(err, fmt.Errorf("rollback: %w", rerr))
			}
			return fmt.Errorf("service remove %s: %s: %w (nothing was changed)", r.Service, r.SQL[i], err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("service remove %s: commit: %w", r.Service, err)
	}
	return nil
}
