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
	return a.checkOwners(ctx, q, schemas)
}

// checkRoles: every service role exists, owners cannot log in, application
// roles can, and none holds SUPERUSER, CREATEDB, CREATEROLE, REPLICATION or
// BYPASSRLS.
func (a *auditor) checkRoles() {
	for _, svc := range a.p.Services {
		for _, x := range []struct {
			name  string
			login bool
		}{{a.p.OwnerRole(svc.Name), false}, {a.p.AppRole(svc.Name), true}} {
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
				a.add(Error, "roles", svc.Name, "application role %s cannot log in (NOLOGIN)", x.name)
			}
		}
	}
}

// checkSchemas: every service's schema exists and belongs to its owner.
func (a *auditor) checkSchemas() {
	for _, svc := range a.p.Services {
		owner, ok := a.snap.Schemas[svc.Schema]
		switch {
		case !ok:
			a.add(Error, "schema", svc.Name, "schema %s does not exist; run `splitschema provision`", svc.Schema)
		case owner != a.p.OwnerRole(svc.Name):
			a.add(Error, "schema", svc.Name, "schema %s is owned by %s, not %s", svc.Schema, owner, a.p.OwnerRole(svc.Name))
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
// pg_read_all_data, would lend it its privileges).
func (a *auditor) checkMemberships(ctx context.Context, q *pgcatalog.Queries, roles []string) error {
	rows, err := q.AuditMemberships(ctx, roles)
	if err != nil {
		return fmt.Errorf("audit memberships: %w", err)
	}
	for _, r := range rows {
		a.add(Error, "membership", a.roleService[r.Role], "%s is a member of %s and holds its privileges", r.Role, r.MemberOf)
	}
	return nil
}

// checkPrivileges: no service role holds anything on another service's
// objects but what a declared link grants (USAGE on the schema, REFERENCES on
// the link's columns for the linking owner); no service role may create in
// schema public, in another schema or in the database; an application role
// holds its privileges on its own tables.
func (a *auditor) checkPrivileges(ctx context.Context, q *pgcatalog.Queries, roles, schemas []string) error {
	all := append([]string{"public", provision.ToolkitSchema}, schemas...)
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
		for _, rel := range a.snap.Relations[svc.Schema] {
			if rel.RelKind == "S" {
				continue
			}
			for _, priv := range []string{"SELECT", "INSERT", "UPDATE", "DELETE"} {
				has := held[app+" "+svc.Schema+"."+rel.Name+" "+priv]
				switch {
				case rel.Name == provision.VersionTable && priv != "SELECT":
					if has {
						a.add(Warning, "privileges", svc.Name, "%s holds %s on %s.%s and could rewrite its migration history; run `splitschema provision`", app, priv, svc.Schema, rel.Name)
					}
				case !has:
					a.add(Warning, "privileges", svc.Name, "%s lacks %s on its own table %s.%s; run `splitschema provision`", app, priv, svc.Schema, rel.Name)
				}
			}
		}
	}
	cols, err := q.AuditColumnPrivileges(ctx, pgcatalog.AuditColumnPrivilegesParams{Roles: roles, Schemas: schemas})
	if err != nil {
		return fmt.Errorf("audit column privileges: %w", err)
	}
	for _, r := range cols {
		svc, ok := foreign(r.Role, r.SchemaName)
		if !ok || r.Privilege == "REFERENCES" && a.linked(r.Role, svc, r.Name, r.ColumnName) {
			continue
		}
		a.add(Error, "privileges", svc.Name, "%s holds %s on column %s.%s.%s, which belongs to service %s and no link declares",
			r.Role, r.Privilege, r.SchemaName, r.Name, r.ColumnName, svc.Name)
	}
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
		case r.Privilege == "USAGE" && svc != nil && svc.Name != own && !a.linksTo(r.Role, svc):
			a.add(Error, "privileges", svc.Name, "%s holds USAGE on schema %s, which belongs to service %s and no link declares", r.Role, r.SchemaName, svc.Name)
		}
	}
	fns, err := q.AuditRoutinePrivileges(ctx, pgcatalog.AuditRoutinePrivilegesParams{Roles: roles, Schemas: schemas})
	if err != nil {
		return fmt.Errorf("audit routine privileges: %w", err)
	}
	for _, r := range fns {
		if svc, ok := foreign(r.Role, r.SchemaName); ok {
			a.add(Error, "privileges", svc.Name, "%s may execute %s, which belongs to service %s", r.Role, r.Name, svc.Name)
		}
	}
	types, err := q.AuditTypePrivileges(ctx, pgcatalog.AuditTypePrivilegesParams{Roles: roles, Schemas: schemas})
	if err != nil {
		return fmt.Errorf("audit type privileges: %w", err)
	}
	for _, r := range types {
		if svc, ok := foreign(r.Role, r.SchemaName); ok {
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

// linksTo reports whether role is the owner of a service that links to svc.
func (a *auditor) linksTo(role string, svc *manifest.Service) bool {
	from := a.p.Service(a.roleService[role])
	if from == nil || a.p.OwnerRole(from.Name) != role {
		return false
	}
	return slices.Contains(from.DependsOn(), svc.Name)
}

// linked reports whether role is the owner of a service that declares a
// link to svc's table and column.
func (a *auditor) linked(role string, svc *manifest.Service, table, column string) bool {
	if !a.linksTo(role, svc) {
		return false
	}
	for _, l := range a.p.Service(a.roleService[role]).Links {
		if l.Service == svc.Name && l.Table == table && slices.Contains(l.Columns, column) {
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
		if from == nil && to == nil {
			continue
		}
		desc := fmt.Sprintf("foreign key %s of %s.%s references %s.%s(%s)", k.Name, k.FromSchema, k.FromTable, k.ToSchema, k.ToTable, strings.Join(k.ToColumns, ", "))
		var link *manifest.Link
		if from != nil && to != nil {
			for i, l := range from.Links {
				if l.Service == to.Name && l.Table == k.ToTable && subset(k.ToColumns, l.Columns) {
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
			to := a.p.Service(l.Service)
			exists := slices.ContainsFunc(a.snap.Relations[to.Schema], func(r catalog.Relation) bool { return r.Name == l.Table })
			if exists {
				a.add(Warning, "links", svc.Name, "link %s is declared but no foreign key uses it", l)
			} else {
				a.add(Warning, "links", svc.Name, "link %s is declared but no foreign key uses it (table %s.%s does not exist yet)", l, to.Schema, l.Table)
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
// through a declared foreign key (a view over its table, a column of its
// row type, a default calling its function): such a dependency couples the
// services outside the manifest, and blocks the other's migrations.
func (a *auditor) checkDependencies(ctx context.Context, q *pgcatalog.Queries, schemas []string) error {
	deps, err := q.AuditDependencies(ctx, schemas)
	if err != nil {
		return fmt.Errorf("audit dependencies: %w", err)
	}
	for _, d := range deps {
		to := a.bySchema[d.ToSchema]
		if to == nil {
			continue // depending on an extension, or on schema public, is no coupling between services
		}
		a.add(Error, "dependencies", to.Name, "%s depends on %s, which belongs to service %s: a dependency no link declares", d.FromObject, d.ToObject, to.Name)
	}
	return nil
}

// checkOwners: the objects of a service's schema belong to its owner role,
// else its migrations cannot alter them.
func (a *auditor) checkOwners(ctx context.Context, q *pgcatalog.Queries, schemas []string) error {
	rows, err := q.AuditOwners(ctx, schemas)
	if err != nil {
		return fmt.Errorf("audit owners: %w", err)
	}
	for _, r := range rows {
		svc := a.bySchema[r.SchemaName]
		if owner := a.p.OwnerRole(svc.Name); r.Owner != owner {
			a.add(Warning, "ownership", svc.Name, "%s in schema %s is owned by %s, not %s", r.Name, r.SchemaName, r.Owner, owner)
		}
	}
	return nil
}
