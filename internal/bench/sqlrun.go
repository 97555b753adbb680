package bench

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/target"
)

// runBySQL is what a hand-written script does instead of `migrate up`: one
// admin session runs every service's migrations (their Up SQL, a file at a
// time) in dependency order, as the service's owner role with its schema
// as the search path, then grants the services that link to it USAGE on
// its schema and REFERENCES on the linked column. No version table, no
// locks, no checks.
func runBySQL(ctx context.Context, srv *target.Server, g *generated) error {
	conn, err := srv.Connect(ctx, srv.Database)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	p := g.p
	for _, svc := range p.OrderedServices() {
		enter := "SET ROLE " + pgx.Identifier{p.OwnerRole(svc.Name)}.Sanitize() + "; SET search_path = " + pgx.Identifier{svc.Schema}.Sanitize()
		if _, err := conn.Exec(ctx, enter); err != nil {
			return fmt.Errorf("service %s: %w", svc.Name, err)
		}
		for k, up := range g.ups[svc.Name] {
			if _, err := conn.Exec(ctx, up); err != nil {
				return fmt.Errorf("service %s, migration %d: %w", svc.Name, k+1, err)
			}
		}
		grants := "RESET ROLE; RESET search_path"
		for _, d := range p.Dependants(svc.Name) {
			owner := pgx.Identifier{p.OwnerRole(d)}.Sanitize()
			grants += "; GRANT USAGE ON SCHEMA " + pgx.Identifier{svc.Schema}.Sanitize() + " TO " + owner +
				"; GRANT REFERENCES (id) ON TABLE " + pgx.Identifier{svc.Schema, linkedTable}.Sanitize() + " TO " + owner
		}
		if _, err := conn.Exec(ctx, grants); err != nil {
			return fmt.Errorf("service %s: grant its links: %w", svc.Name, err)
		}
	}
	return nil
}
