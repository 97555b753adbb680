package provision

import (
	"fmt"
	"slices"
	"strings"

	"github.com/splitschema/splitschema/internal/catalog"
	"github.com/splitschema/splitschema/internal/manifest"
)

// planLinks works out the privileges the declared links and reads call
// for: USAGE on the target schema, and REFERENCES (links) or SELECT (reads)
// on the target columns for the declaring service's owner (and, for a read
// with app: true, its application role), where the target table exists. A
// link or read to a table or column that does not exist while the target
// service has tables is a mistake, unless Options.DeferLinks leaves it to
// GrantLinks.
func (pl *planner) planLinks() {
	for _, svc := range pl.p.OrderedServices() {
		owner := pl.p.OwnerRole(svc.Name)
		for _, l := range svc.Links {
			pl.planColumnGrant(svc, l, "link", []string{owner}, pl.linkColumns)
		}
		for _, r := range svc.Reads {
			grantees := []string{owner}
			if r.App {
				grantees = append(grantees, pl.p.AppRole(svc.Name))
			}
			pl.planColumnGrant(svc, r.Link, "read", grantees, pl.readColumns)
		}
	}
}

// planColumnGrant records that grantees need USAGE on l's schema and a
// privilege on l's columns (into cols); what says "link" or "read".
func (pl *planner) planColumnGrant(svc *manifest.Service, l manifest.Link, what string, grantees []string, into map[string]map[string][]string) {
	to := pl.p.Service(l.Service)
	for _, g := range grantees {
		if !slices.Contains(pl.linkSchemas[l.Schema], g) {
			pl.linkSchemas[l.Schema] = append(pl.linkSchemas[l.Schema], g)
		}
	}
	key := l.Qualified()
	cols, exists := pl.snap.Columns[key]
	// Creates knows the tables of a service's primary schema; a read may
	// name a view, which it does not know: those wait for GrantLinks.
	creates := pl.opts.Creates
	if what != "link" || l.Schema != to.Schema {
		creates = nil
	}
	created, willExist := creates[key]
	switch {
	case !exists && creates != nil && !pl.opts.DeferLinks:
		if !willExist {
			pl.problem("%s: %s %s: service %s has no table %s and its migrations create none (its tables: %s); fix the %s or add the table in a migration of %s",
				svc.File, what, l, to.Name, key, strings.Join(pl.tableNames(l.Schema), ", "), what, to.Name)
		} else if missing := missingFrom(l.Columns, created); len(missing) > 0 {
			pl.problem("%s", missingColumnsProblem(svc, what, l, missing, created))
		}
		return
	case !exists:
		if !pl.opts.DeferLinks && creates == nil && pl.opts.Creates == nil && pl.hasTables(l.Schema) {
			pl.problem("%s: %s %s: service %s has no table %s (its tables: %s); fix the %s or add the table in a migration of %s",
				svc.File, what, l, to.Name, key, strings.Join(pl.tableNames(l.Schema), ", "), what, to.Name)
		}
		return
	}
	if missing := missingFrom(l.Columns, cols); len(missing) > 0 {
		if stillMissing := missingFrom(missing, created); !pl.opts.DeferLinks && (creates == nil || len(stillMissing) > 0) {
			if creates != nil {
				missing = stillMissing
			}
			pl.problem("%s", missingColumnsProblem(svc, what, l, missing, cols))
		}
		return
	}
	if pl.linkColumns[key] == nil && pl.readColumns[key] == nil {
		pl.linkTables[l.Schema] = append(pl.linkTables[l.Schema], l.Table)
	}
	if into[key] == nil {
		into[key] = map[string][]string{}
	}
	for _, g := range grantees {
		for _, c := range l.Columns {
			if !slices.Contains(into[key][g], c) {
				into[key][g] = append(into[key][g], c)
			}
		}
	}
}

// missingFrom returns the columns of want that have does not hold.
func missingFrom(want, have []string) []string {
	var out []string
	for _, c := range want {
		if !slices.Contains(have, c) {
			out = append(out, c)
		}
	}
	return out
}

func (pl *planner) hasTables(schema string) bool { return len(pl.tableNames(schema)) > 0 }

func (pl *planner) tableNames(schema string) []string {
	var out []string
	for _, r := range pl.snap.Relations[schema] {
		if r.RelKind != "S" {
			out = append(out, r.Name)
		}
	}
	return out
}

// planSchema creates the service's schemas, owned by its owner role. A
// schema of that name owned by anyone else is a mistake the admin must settle.
func (pl *planner) planSchema(svc *manifest.Service) {
	owner := pl.p.OwnerRole(svc.Name)
	for _, schema := range svc.Schemas {
		have, exists := pl.snap.Schemas[schema]
		switch {
		case !exists:
			pl.add(Change{Service: svc.Name, Action: ActionCreateSchema, phase: phaseSchemas,
				SQL: "CREATE SCHEMA " + ident(schema) + " AUTHORIZATION " + ident(owner)})
		case have != owner:
			pl.problem("%s: schema %s already exists and is owned by %s, not %s; if it belongs to service %s, run ALTER SCHEMA %s OWNER TO %s (and give its objects to %s too), else choose another schema for the service",
				svc.File, schema, have, owner, svc.Name, ident(schema), ident(owner), ident(owner))
		}
	}
}

// sharedUsers lists the roles that may use a shared service's types and
// functions: the owner and application roles of every service that
// declares it in uses. For another service it is empty.
func (pl *planner) sharedUsers(svc *manifest.Service) []string {
	if !svc.IsShared() {
		return nil
	}
	var out []string
	for _, u := range pl.p.Users(svc.Name) {
		out = append(out, pl.p.OwnerRole(u.Name), pl.p.AppRole(u.Name))
	}
	return out
}

// withUsers adds to wants what the users of a shared service need.
func withUsers(wants map[string]want, users []string, need priv) map[string]want {
	for _, u := range users {
		wants[u] = want{need: wants[u].need | need}
	}
	return wants
}

// planObjects puts the privileges on the service's schema and on every
// object in it right: the application role gets USAGE on the schema, DML on
// the tables (only SELECT on the migration version table), USAGE and SELECT on the sequences, EXECUTE on the routines and
// USAGE on the types; linking owners get USAGE on the schema and REFERENCES
// on their link columns; nobody else (PUBLIC included) gets anything.
//
// The services that use a shared service get USAGE on its schemas and
// types and EXECUTE on its routines, for their owner and application roles.
func (pl *planner) planObjects(svc *manifest.Service) {
	for _, schema := range svc.Schemas {
		pl.planSchemaObjects(svc, schema)
	}
}

func (pl *planner) planSchemaObjects(svc *manifest.Service, schema string) {
	owner, app := pl.p.OwnerRole(svc.Name), pl.p.AppRole(svc.Name)
	users := pl.sharedUsers(svc)
	schemaObj := catalog.Object{Kind: catalog.KindSchema, Schema: schema}
	wants := withUsers(map[string]want{app: {need: appSchema}}, users, pUsage)
	for _, l := range pl.linkSchemas[schema] {
		wants[l] = want{need: pUsage}
	}
	pl.diffObject(svc.Name, schemaObj, wants, owner)

	routines := map[aclOp]bool{}
	var routineOps []aclOp
	var columns []catalog.Object
	for _, o := range pl.bySchema[schema] {
		switch o.Kind {
		case catalog.KindTable:
			need := appTable
			if o.Name == VersionTable && schema == svc.Schema {
				need = appVersionTable
			}
			pl.diffObject(svc.Name, o, map[string]want{app: {need: need}}, owner)
		case catalog.KindSequence:
			pl.diffObject(svc.Name, o, map[string]want{app: {need: appSequence}}, owner)
		case catalog.KindType:
			pl.diffObject(svc.Name, o, withUsers(map[string]want{app: {need: appType}}, users, pUsage), owner)
		case catalog.KindColumn:
			columns = append(columns, o)
		case catalog.KindRoutine:
			acl := pl.snap.ACLs[o]
			want := withUsers(map[string]want{app: {need: appRoutine}}, users, pExecute)
			for _, op := range diffGrants(holdings(acl.Grants), want, unmanaged(acl.Owner, owner)) {
				if !routines[op] {
					routines[op] = true
					routineOps = append(routineOps, op)
				}
			}
		}
	}
	for _, op := range routineOps {
		pl.add(Change{Service: pl.attribute(svc.Name, op), Action: op.action(), phase: opPhase(op),
			SQL: op.statement("ALL ROUTINES IN SCHEMA " + ident(schema))})
	}
	pl.planColumns(svc, schema, columns, owner)
}

// planColumns diffs column privileges: the REFERENCES of the links, the
// SELECT of the reads, and no other column privilege. Statements group
// columns per table and grantee.
func (pl *planner) planColumns(svc *manifest.Service, schema string, existing []catalog.Object, owner string) {
	type colKey struct {
		table string
		op    aclOp
	}
	var order []colKey
	cols := map[colKey][]string{}
	add := func(table, col string, op aclOp) {
		k := colKey{table, op}
		if _, ok := cols[k]; !ok {
			order = append(order, k)
		}
		cols[k] = append(cols[k], col)
	}
	seen := map[catalog.Object]bool{}
	diff := func(o catalog.Object, wants map[string]want) {
		seen[o] = true
		have, objOwner := pl.held(o, owner)
		// A REVOKE on the table takes the same privilege off its columns.
		for g, p := range pl.revokedTable[schema+"."+o.Name] {
			if h, ok := have[g]; ok {
				h.privs &^= p
				h.grantable &^= p
				have[g] = h
			}
		}
		for _, op := range diffGrants(have, wants, unmanaged(objOwner, owner)) {
			add(o.Name, o.Column, op)
		}
	}
	names := slices.Clone(pl.linkTables[schema])
	slices.Sort(names)
	for _, name := range names {
		table := schema + "." + name
		for _, col := range pl.snap.Columns[table] {
			wants := map[string]want{}
			for grantee, cs := range pl.linkColumns[table] {
				if slices.Contains(cs, col) {
					wants[grantee] = want{need: pReferences}
				}
			}
			for grantee, cs := range pl.readColumns[table] {
				if slices.Contains(cs, col) {
					wants[grantee] = want{need: wants[grantee].need | pSelect}
				}
			}
			if len(wants) > 0 {
				diff(catalog.Object{Kind: catalog.KindColumn, Schema: schema, Name: name, Column: col}, wants)
			}
		}
	}
	for _, o := range existing {
		if !seen[o] {
			diff(o, nil)
		}
	}
	for _, k := range order {
		var list []string
		for _, c := range cols[k] {
			list = append(list, ident(c))
		}
		op := k.op
		pl.add(Change{Service: pl.attribute(svc.Name, op), Action: op.action(), phase: opPhase(op),
			SQL: op.columnStatement("TABLE "+ident(schema, k.table), list)})
	}
}

// diffObject diffs one object's privileges against wants; owner is the
// service's owner role, which, like the object's own owner, is left alone.
func (pl *planner) diffObject(svc string, o catalog.Object, wants map[string]want, owner string) {
	have, objOwner := pl.held(o, owner)
	target := objectTarget(o)
	for _, op := range diffGrants(have, wants, unmanaged(objOwner, owner)) {
		if op.kind == opRevoke && o.Kind == catalog.KindTable {
			key := o.Schema + "." + o.Name
			if pl.revokedTable[key] == nil {
				pl.revokedTable[key] = map[string]priv{}
			}
			pl.revokedTable[key][op.grantee] |= op.privs
		}
		pl.add(Change{Service: pl.attribute(svc, op), Action: op.action(), phase: opPhase(op), SQL: op.statement(target)})
	}
}

// held returns what each grantee holds on o, and o's owner: an object the
// snapshot lacks (it is yet to be created) holds nothing and is owner's.
func (pl *planner) held(o catalog.Object, owner string) (map[string]holding, string) {
	if acl := pl.snap.ACLs[o]; acl != nil {
		return holdings(acl.Grants), acl.Owner
	}
	return map[string]holding{}, owner
}

// unmanaged manages every grantee but the given owners.
func unmanaged(owners ...string) func(string) bool {
	return func(g string) bool { return !slices.Contains(owners, g) }
}

func objectTarget(o catalog.Object) string {
	switch o.Kind {
	case catalog.KindSchema:
		return "SCHEMA " + ident(o.Schema)
	case catalog.KindSequence:
		return "SEQUENCE " + ident(o.Schema, o.Name)
	case catalog.KindType:
		return "TYPE " + ident(o.Schema, o.Name)
	case catalog.KindDatabase:
		return "DATABASE " + ident(o.Name)
	}
	return "TABLE " + ident(o.Schema, o.Name)
}

func opPhase(op aclOp) phase {
	if op.kind == opGrant {
		return phaseGrant
	}
	return phaseRevoke
}

// attribute names the service a change is listed under: a grant to a
// service role belongs to that role's service (a link grant belongs to the
// linking service); anything else to the service owning the object.
func (pl *planner) attribute(objService string, op aclOp) string {
	if s := pl.roleService[op.grantee]; op.kind == opGrant && s != "" {
		return s
	}
	return objService
}

// planSettings sets the application role's search_path, in the project
// database, to the service's schemas, then those of the shared services it
// uses, then the extensions' schema (manifest.Project.SearchPath).
func (pl *planner) planSettings(svc *manifest.Service) {
	app := pl.p.AppRole(svc.Name)
	path := pl.p.SearchPath(svc)
	want := SearchPathSetting(path)
	for _, kv := range pl.snap.Settings[app] {
		if v, ok := strings.CutPrefix(kv, "search_path="); ok && normalPath(v) == want {
			return
		}
	}
	var adminOf string
	if pl.snap.Roles[app] != nil { // one the admin creates now is its own
		adminOf = app
	}
	pl.add(Change{Service: svc.Name, Action: ActionRoleSetting, phase: phaseGrant, needsAdminOf: adminOf,
		SQL: "ALTER ROLE " + ident(app) + " IN DATABASE " + ident(pl.db) + " SET search_path = " + want})
}

// IdentitySettings are the per-role settings that change who a session
// is or where it finds its objects: on a service role, only provisioning's
// own search_path of the application role belongs.
var IdentitySettings = []string{"role", "session_authorization", "search_path"}

// planRoleResets removes, from every service role, an identity setting set
// by hand (ALTER ROLE ... SET role = ...), for every database and for the
// project's: a session would start as, or resolve names through, something
// the service was not given. The application role's search_path in the
// project database is planSettings' to fix; elsewhere it is reset too.
func (pl *planner) planRoleResets(svc *manifest.Service) {
	app := pl.p.AppRole(svc.Name)
	for _, role := range []string{pl.p.OwnerRole(svc.Name), app, pl.p.MigratorRole(svc.Name)} {
		if pl.snap.Roles[role] == nil {
			continue
		}
		for _, scope := range []struct {
			in       string
			settings []string
		}{{"", pl.snap.GlobalSettings[role]}, {" IN DATABASE " + ident(pl.db), pl.snap.Settings[role]}} {
			for _, name := range identitySettingsIn(scope.settings) {
				if role == app && name == "search_path" && scope.in != "" {
					continue // the project database's is planSettings'
				}
				pl.add(Change{Service: svc.Name, Action: ActionRoleSetting, phase: phaseRoles, needsAdminOf: role,
					SQL:  "ALTER ROLE " + ident(role) + scope.in + " RESET " + name,
					Note: "set by hand: it changes who the role's sessions are or where they find objects"})
			}
		}
	}
}

// identitySettingsIn returns the IdentitySettings among settings
// ("name=value"), each once.
func identitySettingsIn(settings []string) []string {
	var names []string
	for _, kv := range settings {
		name, _, _ := strings.Cut(kv, "=")
		if slices.Contains(IdentitySettings, name) && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names
}

// SearchPathSetting renders a search_path as SET takes it: comma-separated.
// The schemas are manifest identifiers (lower-case letters, digits and _,
// no reserved word), which need no quotes; a name that would is quoted.
func SearchPathSetting(schemas []string) string {
	out := make([]string, len(schemas))
	for i, s := range schemas {
		out[i] = s
		if manifest.CheckIdentifier("schema", s, manifest.MaxIdentifierLen) != nil {
			out[i] = ident(s)
		}
	}
	return strings.Join(out, ", ")
}

// SearchPathIs reports whether stored, a search_path as
// pg_db_role_setting holds it, is schemas in that order.
func SearchPathIs(stored string, schemas []string) bool {
	return normalPath(stored) == SearchPathSetting(schemas)
}

// normalPath renders a search_path as pg_db_role_setting stores it
// (e.g. orders, "my schema") the way SearchPathSetting does.
func normalPath(v string) string {
	var out []string
	for part := range strings.SplitSeq(v, ",") {
		out = append(out, strings.Trim(strings.TrimSpace(part), `"`))
	}
	return SearchPathSetting(out)
}

// planDatabase takes every privilege on the database away from PUBLIC and
// gives CONNECT to the application and migrator roles only. Other roles' privileges on the
// database are not splitschema's business.
func (pl *planner) planDatabase() {
	o := catalog.Object{Kind: catalog.KindDatabase, Name: pl.db}
	wants := map[string]want{}
	for _, svc := range pl.p.Services {
		wants[pl.p.AppRole(svc.Name)] = want{need: pConnect}
		wants[pl.p.MigratorRole(svc.Name)] = want{need: pConnect}
	}
	managed := func(g string) bool { return g == catalog.Public || pl.isServiceRole(g) }
	for _, op := range diffGrants(holdings(pl.snap.Database), wants, managed) {
		svc := pl.roleService[op.grantee]
		pl.add(Change{Service: svc, Action: op.action(), phase: opPhase(op), SQL: op.statement(objectTarget(o)), needsOwnerOfDB: true})
	}
}

// planPublicSchema takes CREATE on schema public away from PUBLIC (USAGE may
// stay), and every privilege on it from the service roles.
func (pl *planner) planPublicSchema() {
	o := catalog.Object{Kind: catalog.KindSchema, Schema: "public"}
	acl := pl.snap.ACLs[o]
	if acl == nil {
		return // no schema public
	}
	wants := map[string]want{catalog.Public: {allow: pUsage}}
	managed := func(g string) bool { return g == catalog.Public || pl.isServiceRole(g) }
	for _, op := range diffGrants(holdings(acl.Grants), wants, managed) {
		pl.add(Change{Service: pl.roleService[op.grantee], Action: op.action(), phase: opPhase(op),
			SQL: op.statement(objectTarget(o)), needsOwnerOfDB: true})
	}
}

// String makes a priv readable in test failures.
func (p priv) String() string { return fmt.Sprintf("{%s}", p.sql()) }
