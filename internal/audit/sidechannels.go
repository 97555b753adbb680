package audit

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/gen/pgcatalog"
	"github.com/splitschema/splitschema/internal/catalog"
	"github.com/splitschema/splitschema/internal/provision"
)

// notClosable is what Postgres shares between every role of a database and
// the audit therefore does not check (README, Isolation).
var notClosable = []string{
	"LISTEN/NOTIFY channels (any role may listen on or notify any channel: services must authenticate payloads)",
	"the advisory lock key space (any role may take any key and see the held ones in pg_locks)",
	"the pg_stat_* and pg_locks views (any role sees the others' activity, query texts aside)",
}

// sideChannels checks what lies outside the schemas and their privileges:
// large objects and who may create them, per-role settings, the owner
// roles' passwords, default privileges, and CONNECT on the maintenance
// databases.
func (a *auditor) sideChannels(ctx context.Context, q *pgcatalog.Queries, roles []string) error {
	for _, check := range []func(context.Context, *pgcatalog.Queries, []string) error{
		a.checkLargeObjects, a.checkLargeObjectCreators, a.checkRoleSettings, a.checkDefaultPrivileges, a.checkMaintenanceConnect,
	} {
		if err := check(ctx, q, roles); err != nil {
			return err
		}
	}
	a.checkOwnerPasswords()
	return nil
}

// checkLargeObjects: no large object of a service role is granted to a role
// of another service or to PUBLIC, nor one of another role to a service
// role; a large object a service role owns is a warning (it lives in no
// schema, so no per-service restore or verify sees it). lo_compat_privileges
// on turns every large object's privilege checks off.
func (a *auditor) checkLargeObjects(ctx context.Context, q *pgcatalog.Queries, roles []string) error {
	compat, err := q.AuditSetting(ctx, "lo_compat_privileges")
	if err != nil {
		return fmt.Errorf("audit lo_compat_privileges: %w", err)
	}
	if compat == "on" {
		a.add(Error, "large_objects", "", "lo_compat_privileges is on: every role may read and write every large object, whatever its owner granted; set it off in postgresql.conf")
	}
	rows, err := q.AuditLargeObjects(ctx, roles)
	if err != nil {
		return fmt.Errorf("audit large objects: %w", err)
	}
	type grant struct {
		id             int64
		owner, grantee string
		privileges     []string
	}
	var grants []*grant
	owned := map[int64]string{}
	for _, r := range rows {
		if svc := a.roleService[r.Owner]; svc != "" {
			owned[r.ID] = r.Owner
		}
		if r.Privilege == "" || a.roleService[r.Grantee] != "" && a.roleService[r.Grantee] == a.roleService[r.Owner] {
			continue
		}
		if n := len(grants); n > 0 && grants[n-1].id == r.ID && grants[n-1].grantee == r.Grantee {
			grants[n-1].privileges = append(grants[n-1].privileges, r.Privilege)
			continue
		}
		grants = append(grants, &grant{id: r.ID, owner: r.Owner, grantee: r.Grantee, privileges: []string{r.Privilege}})
	}
	crossed := map[int64]bool{}
	for _, g := range grants {
		crossed[g.id] = true
		from, to := a.roleService[g.owner], a.roleService[g.grantee]
		who := "PUBLIC"
		if g.grantee != catalog.Public {
			who = g.grantee
		}
		svc := to
		if from != "" {
			svc = from
		}
		a.add(Error, "large_objects", svc, "large object %d of %s is granted %s to %s: a large object lives in no schema, so this is a channel between %s and %s that no schema privilege closes; run SELECT lo_unlink(%d) as its owner once its data is safe, or REVOKE ALL ON LARGE OBJECT %d FROM %s",
			g.id, g.owner, strings.Join(g.privileges, ", "), who, roleDesc(g.owner, from), roleDesc(g.grantee, to), g.id, g.id, pgxGrantee(g.grantee))
	}
	for _, id := range slices.Sorted(maps.Keys(owned)) {
		if crossed[id] {
			continue
		}
		owner := owned[id]
		a.add(Warning, "large_objects", a.roleService[owner], "large object %d is owned by %s: it lives in no schema, so no backup of the service alone, restore --service or verify sees it; store the data in a bytea column of the service's own tables",
			id, owner)
	}
	return nil
}

// checkLargeObjectCreators: no service role may create a large object;
// provisioning revokes EXECUTE on the creating functions from PUBLIC.
func (a *auditor) checkLargeObjectCreators(ctx context.Context, q *pgcatalog.Queries, roles []string) error {
	rows, err := q.AuditFunctionExecute(ctx, pgcatalog.AuditFunctionExecuteParams{Roles: roles, Functions: catalog.LargeObjectCreators})
	if err != nil {
		return fmt.Errorf("audit large object functions: %w", err)
	}
	public := map[string]bool{}
	for _, r := range rows {
		if r.PublicMay {
			public[r.Function] = true
			continue
		}
		a.add(Error, "large_objects", a.roleService[r.Role], "%s may execute %s and so create a large object, which it could grant to any other role; REVOKE EXECUTE ON FUNCTION %s FROM %s",
			r.Role, r.Function, r.Function, pgx.Identifier{r.Role}.Sanitize())
	}
	for _, f := range slices.Sorted(maps.Keys(public)) {
		a.add(Error, "large_objects", "", "PUBLIC may execute %s, so every service role may create a large object and grant it to any other role; run `splitschema provision` (it revokes it), or REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC", f, f)
	}
	return nil
}

// checkRoleSettings: the only per-role setting of a service role is the
// application role's search_path in the project database, which
// provisioning sets. A role, session_authorization or other search_path
// setting is an error; any other (statement_timeout, say) a warning.
func (a *auditor) checkRoleSettings(ctx context.Context, q *pgcatalog.Queries, roles []string) error {
	rows, err := q.AuditRoleSettings(ctx, roles)
	if err != nil {
		return fmt.Errorf("audit role settings: %w", err)
	}
	for _, r := range rows {
		svc := a.p.Service(a.roleService[r.Role])
		where, in := "every database", ""
		if !r.AllDatabases {
			where, in = "database "+a.srv.Database, " IN DATABASE "+pgx.Identifier{a.srv.Database}.Sanitize()
		}
		path := a.p.SearchPath(svc)
		if r.Role == a.p.AppRole(svc.Name) && !r.AllDatabases && r.Name == "search_path" && provision.SearchPathIs(r.Value, path) {
			continue // provisioning's own
		}
		fix := fmt.Sprintf("run ALTER ROLE %s%s RESET %s", pgx.Identifier{r.Role}.Sanitize(), in, r.Name)
		if !slices.Contains(provision.IdentitySettings, r.Name) {
			a.add(Warning, "role_settings", svc.Name, "%s has %s = %s for %s, a setting splitschema does not make: it applies to every session of the role; if it was not set on purpose, %s",
				r.Role, r.Name, r.Value, where, fix)
			continue
		}
		why := "every session of the role starts with it"
		fix = "run `splitschema provision` (it resets it) or " + strings.TrimPrefix(fix, "run ")
		switch {
		case r.Name == "search_path" && r.Role == a.p.AppRole(svc.Name) && !r.AllDatabases:
			why = fmt.Sprintf("unqualified names resolve through it instead of %s, the path provisioning sets", provision.SearchPathSetting(path))
			fix = "run `splitschema provision`"
		case r.Name == "search_path":
			why = "unqualified names of every session of the role resolve through it"
		}
		a.add(Error, "role_settings", svc.Name, "%s has %s = %s for %s: %s; %s", r.Role, r.Name, r.Value, where, why, fix)
	}
	return nil
}

// checkOwnerPasswords: an owner role has no password (it never logs in;
// with one, a later LOGIN would let anyone who has it in). Only a superuser
// can read the verifiers: otherwise the check is reported as not made.
func (a *auditor) checkOwnerPasswords() {
	if !a.snap.Admin.Superuser {
		a.notChecked(fmt.Sprintf("whether the owner roles have passwords: only a superuser can read pg_authid, and %s is not one", a.snap.Admin.Name))
		return
	}
	for _, svc := range a.p.Services {
		owner := a.p.OwnerRole(svc.Name)
		if a.snap.Verifiers[owner] != "" {
			a.add(Error, "roles", svc.Name, "owner role %s has a password: it must only be reached through membership, and with LOGIN anyone who knows the password is the owner; run `splitschema provision` (it sets PASSWORD NULL)", owner)
		}
	}
}

// checkDefaultPrivileges: no default privilege (ALTER DEFAULT PRIVILEGES)
// gives a service's role anything on what another role creates later,
// unless it is a declared use of a shared service; none of a service role
// grants to PUBLIC. The probes see only the objects that exist: these are
// the grants of the objects to come.
func (a *auditor) checkDefaultPrivileges(ctx context.Context, q *pgcatalog.Queries, roles []string) error {
	rows, err := q.AuditDefaultPrivileges(ctx, roles)
	if err != nil {
		return fmt.Errorf("audit default privileges: %w", err)
	}
	g := newGrouped()
	for _, r := range rows {
		from, to := a.roleService[r.Role], a.roleService[r.Grantee]
		switch {
		case r.Grantee == catalog.Public && from == "":
			continue // another role's business
		case r.Grantee != catalog.Public && (to == "" || to == from):
			continue
		case to != "" && a.declaredUse(from, to, r.SchemaName, r.Kind):
			continue
		}
		svc := to
		if from != "" {
			svc = from
		}
		g.add(svc, r.Role+"\x00"+r.SchemaName+"\x00"+r.Kind+"\x00"+r.Grantee, r.Privilege)
	}
	// Postgres's own default gives PUBLIC EXECUTE on functions and USAGE
	// on types; provisioning replaces it with an entry that grants nothing.
	// Without that entry (GRANT ... TO PUBLIC restores the default, which
	// removes the entry), PUBLIC holds them again.
	for _, svc := range a.p.Services {
		owner := a.p.OwnerRole(svc.Name)
		for _, d := range []struct{ kind, priv string }{{"f", "EXECUTE"}, {"T", "USAGE"}} {
			if _, ok := a.snap.Defaults[catalog.DefaultKey{Role: owner, Kind: d.kind}]; !ok {
				g.add(svc.Name, owner+"\x00\x00"+d.kind+"\x00"+catalog.Public, d.priv)
			}
		}
	}
	g.each(func(svc, key string, privs []string) {
		parts := strings.Split(key, "\x00")
		role, schema, kind, grantee := parts[0], parts[1], parts[2], parts[3]
		in, where := "", "anywhere"
		if schema != "" {
			in, where = " IN SCHEMA "+pgx.Identifier{schema}.Sanitize(), "in schema "+schema
		}
		fix := "run `splitschema provision` (it revokes the default privileges of service roles)"
		if a.roleService[role] == "" {
			fix = fmt.Sprintf("run ALTER DEFAULT PRIVILEGES FOR ROLE %s%s REVOKE %s ON %s FROM %s",
				pgx.Identifier{role}.Sanitize(), in, strings.Join(privs, ", "), provision.DefaultKind(kind), pgxGrantee(grantee))
		}
		to := "PUBLIC"
		if grantee != catalog.Public {
			to = roleDesc(grantee, a.roleService[grantee])
		}
		a.add(Error, "default_privileges", svc, "ALTER DEFAULT PRIVILEGES FOR ROLE %s gives %s %s on the %s it creates %s from now on: every such object is open to that role as soon as it exists; %s",
			role, to, strings.Join(privs, ", "), strings.ToLower(provision.DefaultKind(kind)), where, fix)
	})
	return nil
}

// declaredUse reports whether a default privilege of from's role in schema
// for a role of to is a declared use: from is a shared service to uses, the
// schema is from's, and the kind functions or types.
func (a *auditor) declaredUse(from, to, schema, kind string) bool {
	shared := a.p.Service(from)
	user := a.p.Service(to)
	return shared != nil && user != nil && shared.IsShared() && slices.Contains(user.Uses, from) &&
		schema != "" && shared.OwnsSchema(schema) && (kind == "f" || kind == "T")
}

// checkMaintenanceConnect: service roles may not connect to the
// maintenance databases postgres and template1. There a service finds a
// room of its own that no schema privilege governs (temporary tables, and
// before PostgreSQL 15 CREATE in schema public, which another service could
// read). On the embedded cluster provisioning revokes PUBLIC's CONNECT; on
// another server this is a warning, as other programs may rely on it.
func (a *auditor) checkMaintenanceConnect(ctx context.Context, q *pgcatalog.Queries, roles []string) error {
	rows, err := q.AuditClusterConnect(ctx, roles)
	if err != nil {
		return fmt.Errorf("audit CONNECT on other databases: %w", err)
	}
	byDB := map[string][]string{}
	public := map[string]bool{}
	for _, r := range rows {
		if !slices.Contains(catalog.MaintenanceDatabases, r.Database) {
			continue
		}
		byDB[r.Database] = append(byDB[r.Database], r.Role)
		public[r.Database] = public[r.Database] || r.PublicMay
	}
	for _, db := range catalog.MaintenanceDatabases {
		who := byDB[db]
		if len(who) == 0 {
			continue
		}
		from := "PUBLIC"
		subject := "every service role"
		if !public[db] || len(who) < len(roles) {
			from, subject = strings.Join(who, ", "), strings.Join(who, ", ")
		}
		a.add(Warning, "connect", "", "%s may connect to database %s, a room no schema privilege of the project governs (temporary tables there; before PostgreSQL 15 tables in its schema public that others can read); unless some program needs it, run REVOKE CONNECT ON DATABASE %s FROM %s (provision does on the embedded cluster)",
			subject, db, db, from)
	}
	return nil
}

// roleDesc names a role and its service, if any.
func roleDesc(role, svc string) string {
	switch {
	case role == catalog.Public:
		return "PUBLIC"
	case svc == "":
		return role
	}
	return role + " (service " + svc + ")"
}

// pgxGrantee renders a grantee for SQL.
func pgxGrantee(role string) string {
	if role == catalog.Public {
		return "PUBLIC"
	}
	return pgx.Identifier{role}.Sanitize()
}
