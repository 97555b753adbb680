package provision

import (
	"fmt"
	"slices"
	"strings"
)

// checkAdmin makes sure the admin may run every change of the plan, so that
// a plan that cannot be applied fails before it changes anything, saying
// what is missing. A superuser may do everything. Another admin needs
// CREATEROLE (to create the roles and grant itself membership in the owner
// roles), CREATEDB when the database must be created, CREATE on the
// database for new schemas, ownership of the database for its privileges
// and those of schema public; the guard (an event trigger) and the
// attributes SUPERUSER, REPLICATION and BYPASSRLS need a superuser. From
// PostgreSQL 16 on it also needs the ADMIN option on every existing role it
// grants, revokes or alters: CREATEROLE alone no longer covers them.
func (pl *planner) checkAdmin() {
	a := pl.snap.Admin
	if a.Superuser {
		return
	}
	if !a.CreateRole {
		pl.problem("the admin role %s is neither a superuser nor has CREATEROLE, so it cannot create the service roles or make itself a member of the owner roles; connect as a superuser, or have one run ALTER ROLE %s CREATEROLE",
			a.Name, ident(a.Name))
	}
	if pl.dbMissing && !a.CreateDB {
		pl.problem("database %s does not exist and the admin role %s may not create it (no CREATEDB); create it, owned by %s, or connect as a superuser",
			pl.db, a.Name, a.Name)
	}
	var super, dbOwner, noAdmin, noAdminRoles []string
	schemas := false
	adminOption := pl.snap.Admin.ServerVersion >= 160000
	for _, c := range pl.cs.Changes {
		switch {
		case c.needsSuper:
			super = append(super, c.SQL)
		case adminOption && c.needsAdminOf != "" && !pl.snap.AdminOptionOn[c.needsAdminOf]:
			noAdmin = append(noAdmin, c.SQL)
			if !slices.Contains(noAdminRoles, c.needsAdminOf) {
				noAdminRoles = append(noAdminRoles, c.needsAdminOf)
			}
		case c.needsOwnerOfDB && !a.OwnsDatabase:
			dbOwner = append(dbOwner, c.SQL)
		case c.Action == ActionCreateSchema && !a.CanCreateSchema:
			schemas = true
		}
	}
	if len(super) > 0 {
		pl.problem("the admin role %s is not a superuser, and only a superuser may run %s; the guard is an event trigger, which only a superuser can install: run `splitschema provision` once as a superuser",
			a.Name, summarize(super))
	}
	if len(noAdmin) > 0 {
		quoted := make([]string, len(noAdminRoles))
		for i, r := range noAdminRoles {
			quoted[i] = ident(r)
		}
		pl.problem("the admin role %s is not a superuser, and from PostgreSQL 16 on CREATEROLE lets it grant, revoke or alter only the roles it holds the ADMIN option on (those it created itself); it lacks it on %s, so it may not run %s: have a superuser run GRANT %s TO %s WITH ADMIN OPTION, or run `splitschema provision` as a superuser",
			a.Name, strings.Join(noAdminRoles, ", "), summarize(noAdmin), strings.Join(quoted, ", "), ident(a.Name))
	}
	if len(dbOwner) > 0 {
		pl.problem("the admin role %s does not own database %s (its owner is %s), so it may not run %s; connect as the owner or a superuser",
			a.Name, pl.db, a.DatabaseOwner, summarize(dbOwner))
	}
	if schemas {
		pl.problem("the admin role %s may not create schemas in database %s (no CREATE on it); have its owner run GRANT CREATE ON DATABASE %s TO %s",
			a.Name, pl.db, ident(pl.db), ident(a.Name))
	}
}

// summarize quotes the first statements of a list.
func summarize(stmts []string) string {
	const show = 3
	var out []string
	for i, s := range stmts {
		if i == show {
			out = append(out, fmt.Sprintf("and %d more", len(stmts)-show))
			break
		}
		first, _, _ := strings.Cut(s, "\n")
		out = append(out, first)
	}
	return strings.Join(out, "; ")
}
