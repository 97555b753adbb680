package migrate

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/pgsql"
	"github.com/splitschema/splitschema/internal/target"
)

// connectAdmin opens an admin connection to the project database.
func connectAdmin(ctx context.Context, srv *target.Server) (*pgx.Conn, error) {
	conn, err := srv.Connect(ctx, srv.Database)
	if err != nil {
		if isNoDatabase(err) {
			return nil, fmt.Errorf("database %s does not exist on %s: run `splitschema apply` to provision it and migrate every service", srv.Database, srv.Addr())
		}
		return nil, err
	}
	return conn, nil
}

// checkProvisioned makes sure each service's schema and owner role exist
// and that the admin may act as the owner role, so that a run fails up
// front with a clear message rather than halfway through.
func checkProvisioned(ctx context.Context, conn *pgx.Conn, p *manifest.Project, services []*manifest.Service) error {
	var names, schemas, owners []string
	for _, svc := range services {
		names = append(names, svc.Name)
		schemas = append(schemas, svc.Schema)
		owners = append(owners, p.OwnerRole(svc.Name))
	}
	rows, err := conn.Query(ctx, `
SELECT s.name,
       EXISTS (SELECT FROM pg_namespace WHERE nspname = s.schema),
       r.oid IS NOT NULL,
       r.oid IS NOT NULL AND pg_has_role(r.oid, 'MEMBER'),
       current_user
FROM unnest($1::text[], $2::text[], $3::text[]) AS s(name, schema, owner)
LEFT JOIN pg_roles r ON r.rolname = s.owner`, names, schemas, owners)
	if err != nil {
		return fmt.Errorf("check provisioning: %w", err)
	}
	var problems []string
	var missing bool
	for rows.Next() {
		var name, user string
		var schemaOK, roleOK, member bool
		if err := rows.Scan(&name, &schemaOK, &roleOK, &member, &user); err != nil {
			return fmt.Errorf("check provisioning: %w", err)
		}
		svc := p.Service(name)
		switch {
		case !schemaOK:
			problems = append(problems, fmt.Sprintf("service %s: schema %s does not exist", name, svc.Schema))
			missing = true
		case !roleOK:
			problems = append(problems, fmt.Sprintf("service %s: role %s does not exist", name, p.OwnerRole(name)))
			missing = true
		case !member:
			problems = append(problems, fmt.Sprintf("service %s: %s cannot act as %s: connect as a superuser or as a member of every owner role", name, user, p.OwnerRole(name)))
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("check provisioning: %w", err)
	}
	if len(problems) == 0 {
		return nil
	}
	msg := strings.Join(problems, "\n")
	if missing {
		msg += "\nrun `splitschema apply`: it provisions the schemas and roles, then migrates"
	}
	return fmt.Errorf("not ready to migrate in database %s:\n%s", conn.Config().Database, msg)
}

// primaryKey returns the primary key columns of schema.table, or nil.
func primaryKey(ctx context.Context, conn *pgx.Conn, schema, table string) []string {
	rows, err := conn.Query(ctx, `
SELECT a.attname
FROM pg_constraint c
CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
WHERE c.contype = 'p' AND c.conrelid = to_regclass($1)
ORDER BY k.ord`, pgx.Identifier{schema, table}.Sanitize())
	if err != nil {
		return nil
	}
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil
	}
	return cols
}

// isNoDatabase reports whether a connection failed because the database
// does not exist.
func isNoDatabase(err error) bool {
	return pgsql.IsCode(err, pgsql.InvalidCatalogName)
}
