package provision

import (
	"cmp"
	"maps"
	"slices"

	"github.com/splitschema/splitschema/internal/catalog"
)

// defaultKinds names the object kinds of default privileges for SQL.
var defaultKinds = map[string]string{"r": "TABLES", "S": "SEQUENCES", "f": "FUNCTIONS", "T": "TYPES", "n": "SCHEMAS"}

// builtinDefaults is what PostgreSQL grants beyond the owner when a role has
// no global default-privilege entry: EXECUTE on functions and USAGE on types
// to PUBLIC.
var builtinDefaults = map[string][]catalog.Grant{
	"f": {{Grantee: catalog.Public, Privilege: "EXECUTE"}},
	"T": {{Grantee: catalog.Public, Privilege: "USAGE"}},
}

// planDefaults sets the default privileges of each owner role, so that what
// its migrations create later gets the same grants as what exists now: in
// its schemas, the application role's privileges on tables, sequences,
// functions and types (and, in a shared service's, its users' EXECUTE and
// USAGE); everywhere, no EXECUTE or USAGE for PUBLIC on new
// functions and types. Any other default privilege a service role set is
// revoked.
func (pl *planner) planDefaults() {
	desired := map[catalog.DefaultKey]map[string]want{}
	for _, svc := range pl.p.Services {
		owner, app := pl.p.OwnerRole(svc.Name), pl.p.AppRole(svc.Name)
		users := pl.sharedUsers(svc)
		for _, schema := range svc.Schemas {
			in := func(kind string) catalog.DefaultKey {
				return catalog.DefaultKey{Role: owner, Schema: schema, Kind: kind}
			}
			desired[in("r")] = map[string]want{app: {need: appTable}}
			desired[in("S")] = map[string]want{app: {need: appSequence}}
			desired[in("f")] = withUsers(map[string]want{app: {need: appRoutine}}, users, pExecute)
			desired[in("T")] = withUsers(map[string]want{app: {need: appType}}, users, pUsage)
		}
		desired[catalog.DefaultKey{Role: owner, Kind: "f"}] = map[string]want{}
		desired[catalog.DefaultKey{Role: owner, Kind: "T"}] = map[string]want{}
	}
	keys := map[catalog.DefaultKey]bool{}
	for k := range desired {
		keys[k] = true
	}
	for k := range pl.snap.Defaults {
		if pl.isServiceRole(k.Role) {
			keys[k] = true
		}
	}
	for _, k := range slices.SortedFunc(maps.Keys(keys), compareDefaultKeys) {
		if defaultKinds[k.Kind] == "" {
			continue // a kind this version does not know
		}
		grants, exists := pl.snap.Defaults[k]
		if !exists && k.Schema == "" {
			grants = builtinDefaults[k.Kind]
		}
		for _, op := range diffGrants(holdings(grants), desired[k], unmanaged(k.Role)) {
			sql := "ALTER DEFAULT PRIVILEGES FOR ROLE " + ident(k.Role)
			if k.Schema != "" {
				sql += " IN SCHEMA " + ident(k.Schema)
			}
			sql += " " + op.statement(defaultKinds[k.Kind])
			pl.add(Change{Service: pl.roleService[k.Role], Action: ActionDefaultPrivileges, phase: opPhase(op), SQL: sql})
		}
	}
}

// DefaultKind names a kind of default privileges (pg_default_acl's
// defaclobjtype) as ALTER DEFAULT PRIVILEGES does, e.g. TABLES for r.
func DefaultKind(kind string) string {
	if k := defaultKinds[kind]; k != "" {
		return k
	}
	return "objects of kind " + kind
}

func compareDefaultKeys(a, b catalog.DefaultKey) int {
	return cmp.Or(cmp.Compare(a.Role, b.Role), cmp.Compare(a.Schema, b.Schema), cmp.Compare(a.Kind, b.Kind))
}
