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

// GrantLinks grants, for every link declared TO service svc's tables, USAGE
// on svc's schema and REFERENCES(cols) on the table to the linking service's
// owner role — only where the table exists, and only what is missing. The
// migration pipeline calls it after each service's migrations, so that the
// services that link to it can create their foreign keys. conn must be the
// admin (or svc's owner role). A link to a column the table lacks is an
// *InputError: svc's migrations have all run, so the column is not coming.
func GrantLinks(ctx context.Context, conn *pgx.Conn, p *manifest.Project, svc string) error {
	to := p.Service(svc)
	if to == nil {
		return fmt.Errorf("grant links: no service %q", svc)
	}
	type linkFrom struct {
		service *manifest.Service
		link    manifest.Link
	}
	var links []linkFrom
	var tables []string
	for _, name := range p.Dependants(svc) {
		from := p.Service(name)
		for _, l := range from.Links {
			if l.Service == svc {
				links = append(links, linkFrom{from, l})
				tables = append(tables, l.Table)
			}
		}
	}
	if len(links) == 0 {
		return nil
	}
	q := pgcatalog.New(conn)
	colRows, err := q.Columns(ctx, pgcatalog.ColumnsParams{Schemas: []string{to.Schema}, Tables: tables})
	if err != nil {
		return fmt.Errorf("grant links of %s: %w", svc, err)
	}
	columns := map[string][]string{}
	for _, r := range colRows {
		columns[r.TableName] = append(columns[r.TableName], r.ColumnName)
	}
	usage, references, err := linkPrivileges(ctx, q, to.Schema)
	if err != nil {
		return fmt.Errorf("grant links of %s: %w", svc, err)
	}
	var problems []string
	for _, lf := range links {
		owner := p.OwnerRole(lf.service.Name)
		cols, exists := columns[lf.link.Table]
		if !exists {
			continue
		}
		var missing, grant []string
		for _, c := range lf.link.Columns {
			switch {
			case !slices.Contains(cols, c):
				missing = append(missing, c)
			case !references[owner][lf.link.Table+"."+c]:
				grant = append(grant, ident(c))
			}
		}
		if len(missing) > 0 {
			problems = append(problems, missingColumnsProblem(lf.service, lf.link, to.Schema, missing, cols))
			continue
		}
		if !usage[owner] {
			if _, err := conn.Exec(ctx, "GRANT USAGE ON SCHEMA "+ident(to.Schema)+" TO "+ident(owner)); err != nil {
				return fmt.Errorf("grant links of %s: usage on schema %s to %s: %w", svc, to.Schema, owner, err)
			}
			usage[owner] = true
		}
		if len(grant) > 0 {
			stmt := "GRANT REFERENCES (" + strings.Join(grant, ", ") + ") ON TABLE " + ident(to.Schema, lf.link.Table) + " TO " + ident(owner)
			if _, err := conn.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("grant links of %s: %s: %w", svc, stmt, err)
			}
		}
	}
	if len(problems) > 0 {
		return &InputError{Problems: problems}
	}
	return nil
}

// missingColumnsProblem says that link l of service from names columns,
// missing, that its target table in schema lacks; cols are the table's.
func missingColumnsProblem(from *manifest.Service, l manifest.Link, schema string, missing, cols []string) string {
	return fmt.Sprintf("%s: link %s: table %s.%s has no column %s (its columns: %s); fix the link or add the column in a migration of %s",
		from.File, l, schema, l.Table, strings.Join(missing, ", "), strings.Join(cols, ", "), l.Service)
}

// linkPrivileges reads who holds USAGE on schema, and which REFERENCES
// column privileges ("table.column") each role holds in it.
func linkPrivileges(ctx context.Context, q *pgcatalog.Queries, schema string) (usage map[string]bool, references map[string]map[string]bool, err error) {
	usage, references = map[string]bool{}, map[string]map[string]bool{}
	sp, err := q.SchemaPrivileges(ctx, []string{schema})
	if err != nil {
		return nil, nil, err
	}
	for _, r := range sp {
		if r.Privilege == "USAGE" {
			usage[r.Grantee] = true
		}
	}
	cp, err := q.ColumnPrivileges(ctx, []string{schema})
	if err != nil {
		return nil, nil, err
	}
	for _, r := range cp {
		if r.Privilege == "REFERENCES" {
			if references[r.Grantee] == nil {
				references[r.Grantee] = map[string]bool{}
			}
			references[r.Grantee][r.Name+"."+r.ColumnName] = true
		}
	}
	return usage, references, nil
}
