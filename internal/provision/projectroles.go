package provision

import (
	"slices"
	"strings"

	"github.com/splitschema/splitschema/internal/manifest"
)

// Role names are cluster-wide, so two projects on one cluster would share
// users_app and its password. Every role provisioning creates is marked as
// its project's with a comment that names the project's database, and a
// role marked as another project's is never adopted.

// roleMarkPrefix starts the comment of every role splitschema creates.
const roleMarkPrefix = "splitschema project "

// RoleMark is the comment that marks a role as belonging to the project
// whose database is db.
func RoleMark(db string) string { return roleMarkPrefix + db }

// RoleProject returns the project database a role's comment names, or ""
// when the comment is no splitschema mark.
func RoleProject(comment string) string {
	db, ok := strings.CutPrefix(comment, roleMarkPrefix)
	if !ok || strings.ContainsAny(db, " \n") {
		return ""
	}
	return db
}

// planRoleMarks refuses svc's roles that belong to another project, and
// marks as this project's those created now and those it adopts. A role
// of another project that already owns the service's schema in this
// database (a restored copy) is left as it is, with a warning. An
// existing unmarked role is adopted only when this database already holds
// the service's schema owned by the service's owner role (a project
// provisioned before roles were marked); any other unmarked role may be
// another application's, and is refused with the statement that claims it.
func (pl *planner) planRoleMarks(svc *manifest.Service) {
	var roles []string
	for r, s := range pl.roleService {
		if s == svc.Name {
			roles = append(roles, r)
		}
	}
	slices.Sort(roles)
	mark := RoleMark(pl.db)
	provisionedHere := pl.snap.Schemas[svc.Schema] == pl.p.OwnerRole(svc.Name) && !pl.dbMissing
	for _, name := range roles {
		r := pl.snap.Roles[name]
		switch {
		case r == nil:
			pl.add(Change{Service: svc.Name, Action: ActionMarkRole, phase: phaseRoles,
				SQL: "COMMENT ON ROLE " + ident(name) + " IS " + literal(mark)})
		case r.Comment == mark:
		case RoleProject(r.Comment) != "" && provisionedHere:
			// A copy of the other database (pg_restore into a new name):
			// the role owns this database's objects already.
			pl.warn("role %s belongs to the splitschema project of database %q and already owns schema %s here (a restored copy?): it is left marked as that project's",
				name, RoleProject(r.Comment), svc.Schema)
		case RoleProject(r.Comment) != "":
			pl.problem("service %s: role %s belongs to the splitschema project of database %q (its comment says %q), not to this project (database %q): role names are cluster-wide, and a role is never shared between projects; give this project role names of its own with naming.prefix in splitschema.yaml (for instance prefix: %s_)",
				svc.Name, name, RoleProject(r.Comment), r.Comment, pl.db, pl.db)
		case !provisionedHere:
			pl.problem("service %s: role %s exists but no splitschema project claims it, and this database does not hold schema %s owned by %s: it may be another application's; give this project role names of its own with naming.prefix in splitschema.yaml, or, if the role is this project's, claim it: COMMENT ON ROLE %s IS %s",
				svc.Name, name, svc.Schema, pl.p.OwnerRole(svc.Name), ident(name), literal(mark))
		default:
			pl.add(Change{Service: svc.Name, Action: ActionMarkRole, phase: phaseRoles,
				SQL: "COMMENT ON ROLE " + ident(name) + " IS " + literal(mark), Note: "the role was created before splitschema marked its roles"})
		}
	}
}
