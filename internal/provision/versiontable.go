package provision

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/pgsql"
)

// VersionTable is the table in each service's schema where its migrations
// are recorded (goose's). The service's application role may read it, to
// tell which version it runs against, but not change it: the migration
// history belongs to the owner.
const VersionTable = pgsql.VersionTable

// appVersionTable is what the application role holds on VersionTable.
const appVersionTable = pSelect

// ProtectVersionTable takes back from service svc's application role every
// privilege on its version table but SELECT. The default privileges that
// give the application role DML on the owner's new tables give it that
// table too when the first migration creates it; the migration pipeline
// calls this after each service's run. conn must be the admin's.
func ProtectVersionTable(ctx context.Context, conn *pgx.Conn, p *manifest.Project, svc string) error {
	s := p.Service(svc)
	if s == nil {
		return fmt.Errorf("protect version table: no service %q", svc)
	}
	table := pgx.Identifier{s.Schema, VersionTable}.Sanitize()
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table).Scan(&exists); err != nil {
		return fmt.Errorf("service %s: look for %s: %w", svc, table, err)
	}
	if !exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON TABLE "+table+" FROM "+ident(p.AppRole(svc))); err != nil {
		return fmt.Errorf("service %s: revoke the application role's writes on %s: %w", svc, table, err)
	}
	return nil
}
