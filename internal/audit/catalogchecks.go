package audit

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/gen/pgcatalog"
	"github.com/splitschema/splitschema/internal/catalog"
	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/provision"
)

// catalogChecks reads what the catalog says about isolation.
func (a *auditor) catalogChecks(ctx context.Context, conn *pgx.Conn, roles, schemas []string) error {
	q := pgcatalog.New(conn)
	a.checkRoles()
	a.checkSchemas()
	for _, problem := range provision.GuardProblems(a.p, a.snap) {
		a.add(Error, "guard", "", "%s", problem)
	}
	a.checkPublic()
	a.checkExtensions()
	if err := a.checkMemberships(ctx, q, roles); err != nil {
		return err
	}
	if err := a.checkPrivileges(ctx, q, roles, schemas); err != nil {
		return err
	}
	if err := a.checkForeignKeys(ctx, q); err != nil {
		return err
	}
	if err := a.checkDependencies(ctx, q, schemas); err != nil {
		return err
	}
	if err := a.checkOwners(ctx, q, schemas); err != nil {
		return err
	}
	return a.sideChannels(ctx, q, roles)
}

// checkRoles: every service role exists, owners cannot log in, application
// and migrator roles can, a migrator does not inherit, and none holds
// SUPERUSER, CREATEDB, CREATEROLE, REPLICATION or BYPASSRLS.
func (a *auditor) checkRoles() {
	for _, svc := range a.p.Services {
		migrator := a.p.MigratorRole(svc.Name)
		if r := a.snap.Roles[migrator]; r != nil && r.Inherit {
			a.add(Error, "roles", svc.Name, "migrator role %s inherits the owner's privileges (INHERIT): it must only act as the owner through SET ROLE; run `splitschema provision`", migrator)
		}
		for _, x := range []struct {
			name  string
			login bool
		}{{a.p.OwnerRole(svc.Name), false}, {a.p.AppRole(svc.Name), true}, {migrator, true}} {
			r := a.snap.Roles[x.name]
			if r == nil {
				a.add(Error, "roles", svc.Name, "role %s does not exist; run `splitschema provision`", x.name)
				continue
			}
			var bad []string
			for _, attr := range []struct {
				held bool
				name string
			}{{r.Superuser, "SUPERUSER"}, {r.CreateDB, "CREATEDB"}, {r.CreateRole, "CREATEROLE"}, {r.Replication, "REPLICATION"}, {r.BypassRLS, "BYPASSRLS"}} {
				if attr.held {
					bad = append(bad, attr.name)
				}
			}
			if len(bad) > 0 {
				a.add(Error, "roles", svc.Name, "role %s holds %s, which no service role may", x.name, strings.Join(bad, ", "))
			}
			switch {
			case r.Login && !x.login:
				a.add(Error, "roles", svc.Name, "owner role %s can log in (LOGIN): the owner of a schema must only be reached through SET ROLE", x.name)
			case !r.Login && x.login:
				a.add(Error, "roles", svc.Name, "%s role %s cannot log in (NOLOGIN)", map[bool]string{true: "migrator", false: "application"}[x.name == migrator], x.name)
			}
		}
	}
}

// checkSchemas: every service's schema exists and belongs to its owner.
func (a *auditor) checkSchemas() {
	for _, svc := range a.p.Services {
		for _, schema := range svc.Schemas {
			owner, ok := a.snap.Schemas[schema]
			switch {
			case !ok:
				a.add(Error, "schema", svc.Name, "schema %s does not exist; run `splitschema provision`", schema)
			case owner != a.p.OwnerRole(svc.Name):
				a.add(Error, "schema", svc.Name, "schema %s is owned by %s, not %s", schema, owner, a.p.OwnerRole(svc.Name))
			}
		}
	}
}

// checkPublic: PUBLIC holds nothing on the database, no CREATE on schema
// public, and nothing on any service's schema or objects.
func (a *auditor) checkPublic() {
	for _, g := range a.snap.Database {
		if g.Grantee == catalog.Public {
			a.add(Error, "public", "", "PUBLIC holds %s on database %s: every role of the cluster gets it", g.Privilege, a.srv.Database)
		}
	}
	for _, o := range a.snap.Objects() {
		for _, g := range a.snap.ACLs[o].Grants {
			if g.Grantee != catalog.Public {
				continue
			}
			switch svc := a.bySchema[o.Schema]; {
			case o.Schema == "public" && o.Kind == catalog.KindSchema && g.Privilege == "CREATE":
				a.add(Error, "public", "", "PUBLIC holds CREATE on schema public: every role can create objects there")
			case svc != nil:
				a.add(Error, "public", svc.Name, "PUBLIC holds %s on %s", g.Privilege, o)
			}
		}
	}
}

// checkMemberships: a service role is a member of no other role, directly
// or not (another service's role, or a predefined one such as
// pg_read_all_data, would lend it its privileges), except a migrator, of
// its own service's owner role and nothing else.
func (a *auditor) checkMemberships(ctx context.Context, q *pgcatalog.Queries, roles []string) error {
	rows, err := q.AuditMemberships(ctx, roles)
	if err != nil {
		return fmt.Errorf("audit memberships: %w", err)
	}
	ownerOf := map[string]bool{}
	for _, svc := range a.p.Services {
		migrator, owner := a.p.MigratorRole(svc.Name), a.p.OwnerRole(svc.Name)
		ownerOf[migrator+" "+owner] = true
		if !slices.ContainsFunc(rows, func(r pgcatalog.AuditMembershipsRow) bool { return r.Role == migrator && r.MemberOf == owner }) && a.snap.Roles[migrator] != nil {
			a.add(Error, "membership", svc.Name, "migrator role %s is not a member of %s: migrations cannot run; run `splitschema provision`", migrator, owner)
		}
	}
	for _, r := range rows {
		if ownerOf[r.Role+" "+r.MemberOf] {
			continue
		}
		a.add(Error, "membership", a.roleService[r.Role], "%s is a member of %s and holds its privileges", r.Role, r.MemberOf)
	}
	return nil
}

// checkPrivileges: no service role holds anything on another service's
// objects but what a declaration grants: a link (USAGE on the schema,
// REFERENCES on the link's columns for the linking owner), a read (USAGE,
// SELECT on the read's columns for the owner, and the app when declared), a
// use of a shared service (USAGE on its schemas and types, EXECUTE on its
// routines); no service role may create in
// schema public, in another schema or in the database; an application role
// holds its privileges on its own tables.
func (a *auditor) checkPrivileges(ctx context.Context, q *pgcatalog.Queries, roles, schemas []string) error {
	all := append([]string{"public", provision.ToolkitSchema}, schemas...)
	if len(a.p.Settings.Extensions) > 0 {
		all = append(all, manifest.ExtensionsSchema)
	}
	foreign := func(role, schema string) (*manifest.Service, bool) {
		svc := a.bySchema[schema]
		return svc, svc != nil && a.roleService[role] != svc.Name
	}
	rels, err := q.AuditRelationPrivileges(ctx, pgcatalog.AuditRelationPrivilegesParams{Roles: roles, Schemas: schemas})
	if err != nil {
		return fmt.Errorf("audit table privileges: %w", err)
	}
	held := map[string]bool{}
	for _, r := range rels {
		held[r.Role+" "+r.SchemaName+"."+r.Name+" "+r.Privilege] = true
		if svc, ok := foreign(r.Role, r.SchemaName); ok {
			a.add(Error, "privileges", svc.Name, "%s holds %s on %s.%s, which belongs to service %s", r.Role, r.Privilege, r.SchemaName, r.Name, svc.Name)
		}
	}
	for _, svc := range a.p.Services {
		app := a.p.AppRole(svc.Name)
		for _, schema := range svc.Schemas {
			for _, rel := range a.snap.Relations[schema] {
				if rel.RelKind == "S" {
					continue
				}
				for _, priv := range []string{"SELECT", "INSERT", "UPDATE", "DELETE"} {
					has := held[app+" "+schema+"."+rel.Name+" "+priv]
					switch {
					case rel.Name == provision.VersionTable && schema == svc.Schema && priv != "SELECT":
						if has {
							a.add(Warning, "privileges", svc.Name, "%s holds %s on %s.%s and could rewrite its migration history; run `splitschema provision`", app, priv, schema, rel.Name)
						}
					case !has:
						a.add(Warning, "privileges", svc.Name, "%s lacks %s on its own table %s.%s; run `splitschema provision`", app, priv, schema, rel.Name)
					}
				}
			}
		}
	}
	cols, err := q.AuditColumnPrivileges(ctx, pgcatalog.AuditColumnPrivilegesParams{Roles: roles, Schemas: schemas})
	if err != nil {
		return fmt.Errorf("audit column privileges: %w", err)
	}
	undeclared := newGrouped()
	for _, r := range cols {
		svc, ok := foreign(r.Role, r.SchemaName)
		if !ok || r.Privilege == "REFERENCES" && a.linked(r.Role, svc, r.SchemaName, r.Name, r.ColumnName) ||
			r.Privilege == "SELECT" && a.readable(r.Role, svc, r.SchemaName, r.Name, r.ColumnName) {
			continue
		}
		undeclared.add(svc.Name, r.Role+" holds "+r.Privilege+" on columns of "+r.SchemaName+"."+r.Name, r.ColumnName)
	}
	undeclared.each(func(svc, what string, cols []string) {
		a.add(Error, "privileges", svc, "%s (%s), which belongs to service %s and no link or read declares", what, strings.Join(cols, ", "), svc)
	})
	seqs, err := q.AuditSequencePrivileges(ctx, pgcatalog.AuditSequencePrivilegesParams{Roles: roles, Schemas: schemas})
	if err != nil {
		return fmt.Errorf("audit sequence privileges: %w", err)
	}
	for _, r := range seqs {
		if svc, ok := foreign(r.Role, r.SchemaName); ok {
			a.add(Error, "privileges", svc.Name, "%s holds %s on sequence %s.%s, which belongs to service %s", r.Role, r.Privilege, r.SchemaName, r.Name, svc.Name)
		}
	}
	sch, err := q.AuditSchemaPrivileges(ctx, pgcatalog.AuditSchemaPrivilegesParams{Roles: roles, Schemas: all})
	if err != nil {
		return fmt.Errorf("audit schema privileges: %w", err)
	}
	for _, r := range sch {
		own := a.roleService[r.Role]
		svc := a.bySchema[r.SchemaName]
		switch {
		case r.Privilege == "CREATE" && svc == nil:
			a.add(Error, "create", own, "%s may create objects in schema %s", r.Role, r.SchemaName)
		case r.Privilege == "CREATE" && svc.Name != own:
			a.add(Error, "create", svc.Name, "%s may create objects in schema %s, which belongs to service %s", r.Role, r.SchemaName, svc.Name)
		case r.Privilege == "CREATE" && r.Role == a.p.AppRole(own):
			a.add(Error, "create", own, "application role %s may create objects in its schema %s: it is to run DML only", r.Role, r.SchemaName)
		case r.Privilege == "USAGE" && svc != nil && svc.Name != own && !a.linksTo(r.Role, svc) && !a.reads(r.Role, r.SchemaName) && !a.uses(r.Role, svc):
			a.add(Error, "privileges", svc.Name, "%s holds USAGE on schema %s, which belongs to service %s and no link, read or use declares", r.Role, r.SchemaName, svc.Name)
		}
	}
	fns, err := q.AuditRoutinePrivileges(ctx, pgcatalog.AuditRoutinePrivilegesParams{Roles: roles, Schemas: schemas})
	if err != nil {
		return fmt.Errorf("audit routine privileges: %w", err)
	}
	for _, r := range fns {
		if svc, ok := foreign(r.Role, r.SchemaName); ok && !a.uses(r.Role, svc) {
			a.add(Error, "privileges", svc.Name, "%s may execute %s, which belongs to service %s", r.Role, r.Name, svc.Name)
		}
	}
	types, err := q.AuditTypePrivileges(ctx, pgcatalog.AuditTypePrivilegesParams{Roles: roles, Schemas: schemas})
	if err != nil {
		return fmt.Errorf("audit type privileges: %w", err)
	}
	for _, r := range types {
		if svc, ok := foreign(r.Role, r.SchemaName); ok && !a.uses(r.Role, svc) {
			a.add(Error, "privileges", svc.Name, "%s may use type %s.%s, which belongs to service %s", r.Role, r.SchemaName, r.Name, svc.Name)
		}
	}
	dbp, err := q.AuditDatabasePrivileges(ctx, roles)
	if err != nil {
		return fmt.Errorf("audit database privileges: %w", err)
	}
	for _, r := range dbp {
		switch r.Privilege {
		case "CREATE":
			a.add(Error, "create", a.roleService[r.Role], "%s may create schemas in database %s", r.Role, a.srv.Database)
		case "TEMPORARY":
			a.add(Warning, "create", a.roleService[r.Role], "%s may create temporary tables in database %s", r.Role, a.srv.Database)
		}
	}
	return nil
}

// linksTo reports whether role is the owner of a service that links to or
// reads from svc.
func (a *auditor) linksTo(role string, svc *manifest.Service) bool {
	from := a.p.Service(a.roleService[role])
	if from == nil || a.p.OwnerRole(from.Name) != role {
		return false
	}
	return slices.ContainsFunc(from.Links, func(l manifest.Link) bool { return l.Service == svc.Name }) ||
		slices.ContainsFunc(from.Reads, func(r manifest.Read) bool { return r.Service == svc.Name })
}

// linked reports whether role is the owner of a service that declares a
// link to svc's table and column.
func (a *auditor) linked(role string, svc *manifest.Service, schema, table, column string) bool {
	if !a.linksTo(role, svc) {
		return false
	}
	for _, l := range a.p.Service(a.roleService[role]).Links {
		if l.Service == svc.Name && l.Schema == schema && l.Table == table && slices.Contains(l.Columns, column) {
			return true
		}
	}
	return false
}

// checkForeignKeys: every foreign key that crosses a service's schema is
// backed by a declared link and validated; every declared link is used by a
// foreign key (a warning otherwise). It keeps the foreign keys for the
// cascade probes.
func (a *auditor) checkForeignKeys(ctx context.Context, q *pgcatalog.Queries) error {
	var err error
	a.foreignKeys, err = q.AuditForeignKeys(ctx)
	if err != nil {
		return fmt.Errorf("audit foreign keys: %w", err)
	}
	used := map[string]bool{}
	for _, k := range a.foreignKeys {
		from, to := a.bySchema[k.FromSchema], a.bySchema[k.ToSchema]
		if from == nil && to == nil || from != nil && from == to {
			continue
		}
		desc := fmt.Sprintf("foreign key %s of %s.%s references %s.%s(%s)", k.Name, k.FromSchema, k.FromTable, k.ToSchema, k.ToTable, strings.Join(k.ToColumns, ", "))
		var link *manifest.Link
		if from != nil && to != nil {
			for i, l := range from.Links {
				if l.Service == to.Name && l.Schema == k.ToSchema && l.Table == k.ToTable && subset(k.ToColumns, l.Columns) {
					link = &from.Links[i]
				}
			}
		}
		svc := to
		if from != nil {
			svc = from
		}
		if action := fkAction(k.OnDelete, k.OnUpdate); action != "" {
			a.add(Error, "foreign_keys", svc.Name, "%s %s: it makes %s change rows of %s, and the triggers on those rows run as the role of %s; a foreign key between services may only be NO ACTION or RESTRICT (the guard refuses new ones): drop it and add it back without the action",
				desc, action, serviceName(to, k.ToSchema), serviceName(from, k.FromSchema), serviceName(to, k.ToSchema))
		}
		switch {
		case link == nil && from != nil && to != nil:
			a.add(Error, "foreign_keys", svc.Name, "%s, which service %s declares no link to (%s)", desc, from.Name, from.File)
		case link == nil:
			a.add(Error, "foreign_keys", svc.Name, "%s across the boundary of the declared services", desc)
		default:
			used[from.Name+" "+link.String()] = true
			if !k.Validated {
				a.add(Warning, "foreign_keys", svc.Name, "%s is NOT VALID: rows written before it may reference nothing; VALIDATE CONSTRAINT it", desc)
			}
		}
	}
	for _, svc := range a.p.Services {
		for _, l := range svc.Links {
			if used[svc.Name+" "+l.String()] {
				continue
			}
			exists := slices.ContainsFunc(a.snap.Relations[l.Schema], func(r catalog.Relation) bool { return r.Name == l.Table })
			if exists {
				a.add(Warning, "links", svc.Name, "link %s is declared but no foreign key uses it", l)
			} else {
				a.add(Warning, "links", svc.Name, "link %s is declared but no foreign key uses it (table %s does not exist yet)", l, l.Qualified())
			}
		}
	}
	return nil
}

// fkAction renders a foreign key's CASCADE, SET NULL or SET DEFAULT actions
// (pg_constraint's confdeltype and confupdtype), "" when it has none.
func fkAction(onDelete, onUpdate string) string {
	names := map[string]string{"c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}
	var out []string
	if n := names[onDelete]; n != "" {
		out = append(out, "ON DELETE "+n)
	}
	if n := names[onUpdate]; n != "" {
		out = append(out, "ON UPDATE "+n)
	}
	return strings.Join(out, " ")
}

// serviceName names svc, or the schema when it belongs to no service.
func serviceName(svc *manifest.Service, schema string) string {
	if svc == nil {
		return "schema " + schema
	}
	return "service " + svc.Name
}

func subset(xs, of []string) bool {
	for _, x := range xs {
		if !slices.Contains(of, x) {
			return false
		}
	}
	return true
}

// checkDependencies: no object depends on another service's object but
// through a declaration: a foreign key of a link, a view over columns a read
// declares, a column or function using a shared service's type or routine.
// Any other dependency (a view over an undeclared table, a column of another
// service's row type, a default calling its function) couples the services
// outside the manifest, and blocks the other's migrations. Findings are
// grouped per depending object and service depended on.
func (a *auditor) checkDependencies(ctx context.Context, q *pgcatalog.Queries, schemas []string) error {
	deps, err := q.AuditDependencies(ctx, schemas)
	if err != nil {
		return fmt.Errorf("audit dependencies: %w", err)
	}
	undeclared := newGrouped()
	for _, d := range deps {
		to := a.bySchema[d.ToSchema]
		if to == nil {
			continue // depending on an extension, or on schema public, is no coupling between services
		}
		from := a.bySchema[d.FromSchema]
		if from == to || from != nil && a.declaresDependency(from, to, d) {
			continue
		}
		who := d.FromRelation
		if who == "" {
			who = d.FromObject
		}
		what := d.ToObject
		if d.ToColumn != "" {
			what = d.ToSchema + "." + d.ToTable
		}
		undeclared.addOne(to.Name, who+" depends on "+what, d.ToColumn, d.FromObject+" depends on "+d.ToObject)
	}
	undeclared.each(func(svc, what string, cols []string) {
		if cols = slices.DeleteFunc(cols, func(c string) bool { return c == "" }); len(cols) > 0 {
			what += " (" + strings.Join(cols, ", ") + ")"
		}
		a.add(Error, "dependencies", svc, "%s, which belongs to service %s: a dependency no link, read or use declares", what, svc)
	})
	return nil
}

// declaresDependency reports whether from declares the dependency d on to:
// a read of the column, or the use of a shared service.
func (a *auditor) declaresDependency(from, to *manifest.Service, d pgcatalog.AuditDependenciesRow) bool {
	if to.IsShared() && slices.Contains(from.Uses, to.Name) {
		return true
	}
	if d.ToKind != "relation" || d.ToColumn == "" {
		return false
	}
	return slices.ContainsFunc(from.Reads, func(r manifest.Read) bool {
		return r.Service == to.Name && r.Schema == d.ToSchema && r.Table == d.ToTable && slices.Contains(r.Columns, d.ToColumn)
	})
}

// checkOwners: every object of a service's schema belongs to that
// service's owner role. Owned by another service's role, it is that
// service's to alter or drop; owned by any other role (the admin, a
// superuser), it runs with that role's rights where Postgres uses the
// owner's (a view reads with them, a SECURITY DEFINER function runs as
// them, a trigger function of it too), and the service's migrations cannot
// alter it. provision does not change owners: the finding says how.
func (a *auditor) checkOwners(ctx context.Context, q *pgcatalog.Queries, schemas []string) error {
	rows, err := q.AuditOwners(ctx, schemas)
	if err != nil {
		return fmt.Errorf("audit owners: %w", err)
	}
	for _, r := range rows {
		svc := a.bySchema[r.SchemaName]
		owner := a.p.OwnerRole(svc.Name)
		if r.Owner == owner {
			continue
		}
		why := "its owner's rights, not the service's, apply wherever Postgres uses an owner's (a view reads, and a SECURITY DEFINER or trigger function runs, with them), and the service's migrations cannot alter it"
		if other := a.roleService[r.Owner]; other != "" {
			why = "service " + other + " may alter or drop it"
		}
		a.add(Error, "ownership", svc.Name, "%s %s in schema %s is owned by %s, not %s: %s; run ALTER %s %s OWNER TO %s, or drop it (provision does not change owners)",
			strings.ToLower(r.Kind), r.Name, r.SchemaName, r.Owner, owner, why, r.Kind, r.Name, pgx.Identifier{owner}.Sanitize())
	}
	return nil
}
