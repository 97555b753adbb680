// Package provision brings a database to the state a splitschema manifest
// declares: per service a schema owned by <svc>_owner, a login role
// <svc>_app with DML on that schema only, default privileges so later
// objects get the same grants, REFERENCES on the declared link columns for
// the linking services' owners, and the guard, an event trigger that stops
// one service's DDL from dropping another service's objects.
//
// Plan reads the live catalog and lists the statements that would get there;
// Apply runs them in one transaction under an advisory lock. Drift, such as
// a privilege granted by hand, shows as the statement that undoes it.
// Nothing is ever dropped: schemas and roles that look like a service's but
// are not declared are only listed (Changeset.Undeclared).
package provision

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/gen/pgcatalog"
	"github.com/splitschema/splitschema/internal/catalog"
	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/pgsql"
	"github.com/splitschema/splitschema/internal/target"
)

// Options adjust Plan and Apply.
type Options struct {
	// DeferLinks leaves a link whose target table or column does not exist
	// yet to GrantLinks instead of reporting it as an error: the `apply`
	// pipeline provisions before it migrates, so a link to a table that a
	// pending migration creates is not a mistake there.
	DeferLinks bool
	// Creates lists the tables and columns the project's migrations create,
	// "schema.table" -> columns (migrate.Creates). When set, a link to a
	// table or column that does not exist yet is left to GrantLinks if the
	// migrations create it, and is an error otherwise, whether or not the
	// linked service has tables yet: the apply pipeline's check, made
	// before it changes anything.
	Creates map[string][]string
	// NewPasswords names services whose application role gets a newly
	// generated password (and secrets file) even though it has one.
	NewPasswords []string
	// LockWait bounds how long Apply waits for another provisioning run;
	// 0 means LockWait.
	LockWait time.Duration
}

// Plan reads the live catalog once and returns the changes that would bring
// it to the desired state. It changes nothing. A mistake in the input (see
// InputError) is an error.
func Plan(ctx context.Context, p *manifest.Project, srv *target.Server) (*Changeset, error) {
	return PlanWith(ctx, p, srv, Options{})
}

// PlanWith is Plan with options.
func PlanWith(ctx context.Context, p *manifest.Project, srv *target.Server, opts Options) (*Changeset, error) {
	if err := checkOptions(p, opts); err != nil {
		return nil, err
	}
	conn, missing, err := connectProject(ctx, srv)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	cs, err := compute(ctx, tx, p, srv, opts, missing, false)
	if err != nil {
		return nil, err
	}
	return cs, checkInput(cs)
}

// connectProject connects to the project database, or, when it does not
// exist yet, to the maintenance database "postgres"; missing says which.
func connectProject(ctx context.Context, srv *target.Server) (conn *pgx.Conn, missing bool, err error) {
	// Not srv.Connect: its error keeps the message, not the SQLSTATE.
	conn, err = pgx.ConnectConfig(ctx, srv.Config(srv.Database))
	if err == nil {
		return conn, false, nil
	}
	if !pgsql.IsCode(err, pgsql.InvalidCatalogName) { // invalid_catalog_name: no such database
		return nil, false, fmt.Errorf("connect to database %s on %s (%s): %s", srv.Database, srv.Addr(), srv.Source, target.Redact(err.Error()))
	}
	conn, err = srv.Connect(ctx, "postgres")
	if err != nil {
		return nil, false, fmt.Errorf("database %s does not exist yet, and: %w", srv.Database, err)
	}
	return conn, true, nil
}

func checkOptions(p *manifest.Project, opts Options) error {
	for _, s := range opts.NewPasswords {
		if p.Service(s) == nil {
			return &InputError{Problems: []string{fmt.Sprintf("--new-password %s: no service %q in %s/", s, s, manifest.SchemasDir)}}
		}
	}
	return nil
}

// compute reads the catalog through db and computes the changeset. When
// forApply is set, new passwords are generated for real.
func compute(ctx context.Context, db catalogDB, p *manifest.Project, srv *target.Server, opts Options, dbMissing, forApply bool) (*Changeset, error) {
	snap, err := readState(ctx, db, p, dbMissing)
	if err != nil {
		return nil, err
	}
	pl := newPlanner(p, snap, srv, opts, dbMissing, forApply)
	pl.run()
	if err := pl.countUndeclared(ctx, db); err != nil {
		return nil, err
	}
	return pl.cs, nil
}

// catalogDB is a connection or a transaction.
type catalogDB = pgcatalog.DBTX

// readState reads what the plan compares against. With the database
// missing, db is the maintenance database: only the cluster-wide part (roles)
// is read, and the database is taken to be a fresh one.
func readState(ctx context.Context, db catalogDB, p *manifest.Project, dbMissing bool) (*catalog.Snapshot, error) {
	snap, err := catalog.ReadCluster(ctx, db)
	if err != nil {
		return nil, err
	}
	scope := catalog.Scope{Roles: declaredRoles(p)}
	if !dbMissing {
		scope.Schemas = append([]string{"public", ToolkitSchema}, declaredSchemas(p)...)
		if len(p.Settings.Extensions) > 0 {
			scope.Schemas = append(scope.Schemas, manifest.ExtensionsSchema)
		}
		scope.Tables = linkTables(p)
	}
	if err := snap.ReadObjects(ctx, db, scope); err != nil {
		return nil, err
	}
	if dbMissing {
		freshDatabase(snap)
	}
	return snap, nil
}

// freshDatabase makes snap describe a database CREATE DATABASE has just
// made, owned by the admin: the default privileges of a new database and of
// its schema public, no other schema, no guard.
func freshDatabase(snap *catalog.Snapshot) {
	admin := snap.Admin.Name
	snap.Admin.OwnsDatabase, snap.Admin.CanCreateSchema, snap.Admin.DatabaseOwner = true, true, admin
	snap.Schemas = map[string]string{"public": "pg_database_owner"}
	snap.Toolkit, snap.Guarded = catalog.Toolkit{}, nil
	snap.Settings = map[string][]string{}
	snap.Extensions = map[string]string{"plpgsql": "pg_catalog"}
	snap.Database = []catalog.Grant{{Grantee: catalog.Public, Privilege: "CONNECT"}, {Grantee: catalog.Public, Privilege: "TEMPORARY"}}
	public := &catalog.ACL{Owner: "pg_database_owner", Grants: []catalog.Grant{{Grantee: catalog.Public, Privilege: "USAGE"}}}
	if snap.Admin.ServerVersion < 150000 { // before 15, PUBLIC could create in schema public
		public.Owner = admin
		public.Grants = append(public.Grants, catalog.Grant{Grantee: catalog.Public, Privilege: "CREATE"})
	}
	snap.ACLs[catalog.Object{Kind: catalog.KindSchema, Schema: "public"}] = public
	// What template1 holds: PUBLIC may create large objects (lo_import is
	// a superuser's).
	snap.PublicExecutes = slices.DeleteFunc(slices.Clone(catalog.LargeObjectCreators), func(f string) bool {
		return strings.Contains(f, "lo_import")
	})
}

func declaredRoles(p *manifest.Project) []string {
	var out []string
	for _, s := range p.Services {
		out = append(out, p.OwnerRole(s.Name), p.AppRole(s.Name), p.MigratorRole(s.Name))
	}
	return out
}

func declaredSchemas(p *manifest.Project) []string { return p.AllSchemas() }

// linkTables lists the targets of links and reads as "schema.table", each once.
func linkTables(p *manifest.Project) []string {
	var out []string
	for _, s := range p.Services {
		for _, l := range s.Links {
			out = append(out, l.Qualified())
		}
		for _, r := range s.Reads {
			out = append(out, r.Qualified())
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// InputError is a mistake in the manifest or in the admin's rights found
// before any change: nothing was changed. Each problem names the object and
// says what to do.
type InputError struct {
	Problems []string
}

func (e *InputError) Error() string {
	if len(e.Problems) == 1 {
		return e.Problems[0] + " (nothing was changed)"
	}
	s := fmt.Sprintf("%d problems, nothing was changed:", len(e.Problems))
	for _, p := range e.Problems {
		s += "\n  " + p
	}
	return s
}
