package provision

import (
	"github.com/splitschema/splitschema/internal/catalog"
	"github.com/splitschema/splitschema/internal/manifest"
)

// planExtensions creates the project's extensions, as the admin, in a
// schema of their own (manifest.ExtensionsSchema, owned by the admin) on
// which every service role has USAGE; the search_path of every service
// ends with it. An extension installed in another schema is a problem the
// admin settles (ALTER EXTENSION ... SET SCHEMA): moving it silently could
// break what already calls it by a qualified name.
func (pl *planner) planExtensions() {
	exts := pl.p.Settings.Extensions
	if len(exts) == 0 {
		return
	}
	schema := manifest.ExtensionsSchema
	owner, exists := pl.snap.Schemas[schema]
	switch {
	case !exists:
		pl.add(Change{Action: ActionCreateSchema, phase: phaseSchemas, Note: "the project's extensions live here",
			SQL: "CREATE SCHEMA " + ident(schema)})
		owner = pl.snap.Admin.Name
	case pl.isServiceRole(owner):
		pl.problem("%s: schema %s holds the project's extensions but is owned by %s, a service role, which could then change them for every service; have a superuser run ALTER SCHEMA %s OWNER TO %s",
			manifest.SettingsFile, schema, owner, ident(schema), ident(pl.snap.Admin.Name))
		return
	}
	for _, e := range exts {
		at, installed := pl.snap.Extensions[e]
		switch {
		case !installed:
			pl.add(Change{Action: ActionCreateExtension, phase: phaseSchemas,
				SQL: "CREATE EXTENSION " + ident(e) + " SCHEMA " + ident(schema)})
		case at != schema:
			pl.problem("%s: extension %s is installed in schema %s, not in %s where the services find it; move it with ALTER EXTENSION %s SET SCHEMA %s (check first what calls it as %s.…)",
				manifest.SettingsFile, e, at, schema, ident(e), ident(schema), at)
		}
	}
	wants := map[string]want{}
	for _, svc := range pl.p.Services {
		wants[pl.p.OwnerRole(svc.Name)] = want{need: pUsage}
		wants[pl.p.AppRole(svc.Name)] = want{need: pUsage}
	}
	have := map[string]holding{}
	if acl := pl.snap.ACLs[catalog.Object{Kind: catalog.KindSchema, Schema: schema}]; acl != nil {
		have = holdings(acl.Grants)
	}
	managed := func(g string) bool { return g != owner && (g == catalog.Public || pl.isServiceRole(g)) }
	o := catalog.Object{Kind: catalog.KindSchema, Schema: schema}
	for _, op := range diffGrants(have, wants, managed) {
		pl.add(Change{Service: pl.roleService[op.grantee], Action: op.action(), phase: opPhase(op), SQL: op.statement(objectTarget(o))})
	}
}
