package provision

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/gen/pgcatalog"
	"github.com/splitschema/splitschema/internal/manifest"
)

// GrantLinks grants, for every link and read declared TO service svc's
// tables, USAGE on the target schema and REFERENCES(cols) (a link) or
// SELECT(cols) (a read) on the table to the declaring service's owner role
// (and to its application role, for a read with app: true) — only where the
// table exists, and only what is missing. The migration pipeline calls it
// after each service's migrations, so that the services that depend on it
// can create their foreign keys and views. conn must be the admin (or svc's
// owner role). A link to a column the table lacks is an *InputError: svc's
// migrations have all run, so the column is not coming.
func GrantLinks(ctx context.Context, conn *pgx.Conn, p *manifest.Project, svc string) error {
	to := p.Service(svc)
	if to == nil {
		return fmt.Errorf("grant links: no service %q", svc)
	}
	type grant struct {
		service  *manifest.Service
		what     string // link or read
		link     manifest.Link
		priv     string
		grantees []string
	}
	var grants []grant
	var tables []string
	for _, name := range p.Dependants(svc) {
		from := p.Service(name)
		owner := p.OwnerRole(name)
		for _, l := range from.Links {
			if l.Service == svc {
				grants = append(grants, grant{from, "link", l, "REFERENCES", []string{owner}})
				tables = append(tables, l.Table)
			}
		}
		for _, r := range from.Reads {
			if r.Service == svc {
				g := grant{from, "read", r.Link, "SELECT", []string{owner}}
				if r.App {
					g.grantees = append(g.grantees, p.AppRole(name))
				}
				grants = append(grants, g)
				tables = append(tables, r.Table)
			}
		}
	}
	if len(grants) == 0 {
		return nil
	}
	q := pgcatalog.New(conn)
	colRows, err := q.Columns(ctx, pgcatalog.ColumnsParams{Schemas: to.Schemas, Tables: tables})
	if err != nil {
		return fmt.Errorf("grant links of %s: %w", svc, err)
	}
	columns := map[string][]string{}
	for _, r := range colRows {
		key := r.SchemaName + "." + r.TableName
		columns[key] = append(columns[key], r.ColumnName)
	}
	usage, held, err := linkPrivileges(ctx, q, to.Schemas)
	if err != nil {
		return fmt.Errorf("grant links of %s: %w", svc, err)
	}
	var problems []string
	for _, g := range grants {
		cols, exists := columns[g.link.Qualified()]
		if !exists {
			continue
		}
		var missing []string
		for _, c := range g.link.Columns {
			if !slices.Contains(cols, c) {
				missing = append(missing, c)
			}
		}
		if len(missing) > 0 {
			problems = append(problems, missingColumnsProblem(g.service, g.what, g.link, missing, cols))
			continue
		}
		for _, role := range g.grantees {
			if !usage[role+" "+g.link.Schema] {
				if _, err := conn.Exec(ctx, "GRANT USAGE ON SCHEMA "+ident(g.link.Schema)+" TO "+ident(role)); err != nil {
					return fmt.Errorf("grant links of %s: usage on schema %s to %s: %w", svc, g.link.Schema, role, err)
				}
				usage[role+" "+g.link.Schema] = true
			}
			var list []string
			for _, c := range g.link.Columns {
				if !held[role+" "+g.priv+" "+g.link.Qualified()+"."+c] {
					list = append(list, ident(c))
				}
			}
			if len(list) > 0 {
				stmt := "GRANT " + g.priv + " (" + strings.Join(list, ", ") + ") ON TABLE " + ident(g.link.Schema, g.link.Table) + " TO " + ident(role)
				if _, err := conn.Exec(ctx, stmt); err != nil {
					return fmt.Errorf("grant %ss of %s: %s: %w", g.what, svc, stmt, err)
				}
			}
		}
	}
	if len(problems) > 0 {
		return &InputError{Problems: problems}
	}
	return nil
}

// missingColumnsProblem says that link (or read: what) l of service from
// names columns, missing, that its target table lacks; cols are the table's.
func missingColumnsProblem(from *manifest.Service, what string, l manifest.Link, missing, cols []string) string {
	return fmt.Sprintf("%s: %s %s: table %s has no column %s (its columns: %s); fix the %s or add the column in a migration of %s",
		from.File, what, l, l.Qualified(), strings.Join(missing, ", "), strings.Join(cols, ", "), what, l.Service)
}

// linkPrivileges reads who holds USAGE on schemas ("role schema"), and
// which column privileges each role holds in them ("role PRIV
// schema.table.column").
func linkPrivileges(ctx context.Context, q *pgcatalog.Queries, schemas []string) (usage, held map[string]bool, err error) {
	usage, held = map[string]bool{}, map[string]bool{}
	sp, err := q.SchemaPrivileges(ctx, schemas)
	if err != nil {
		return nil, nil, err
	}
	for _, r := range sp {
		if r.Privilege == "USAGE" {
			usage[r.Grantee+" "+r.SchemaName] = true
		}
	}
	cp, err := q.ColumnPrivileges(ctx, schemas)
	if err != nil {
		return nil, nil, err
	}
	for _, r := range cp {
		held[r.Grantee+" "+r.Privilege+" "+r.SchemaName+"."+r.Name+"."+r.ColumnName] = true
	}
	return usage, held, nil
}
