package audit

import (
	"slices"

	"github.com/splitschema/splitschema/internal/catalog"
	"github.com/splitschema/splitschema/internal/manifest"
)

// checkExtensions: every declared extension is installed in the extensions'
// schema, and every service role holds USAGE on that schema.
func (a *auditor) checkExtensions() {
	if len(a.p.Settings.Extensions) == 0 {
		return
	}
	schema := manifest.ExtensionsSchema
	for _, e := range a.p.Settings.Extensions {
		switch at, ok := a.snap.Extensions[e]; {
		case !ok:
			a.add(Error, "extensions", "", "extension %s is not installed; run `splitschema provision`", e)
		case at != schema:
			a.add(Error, "extensions", "", "extension %s is installed in schema %s, not %s where the services look for it", e, at, schema)
		}
	}
	acl := a.snap.ACLs[catalog.Object{Kind: catalog.KindSchema, Schema: schema}]
	if acl == nil {
		a.add(Error, "extensions", "", "schema %s does not exist; run `splitschema provision`", schema)
		return
	}
	if a.roleService[acl.Owner] != "" {
		a.add(Error, "extensions", a.roleService[acl.Owner], "schema %s is owned by service role %s, which could change every service's extensions", schema, acl.Owner)
	}
	for _, svc := range a.p.Services {
		for _, role := range []string{a.p.OwnerRole(svc.Name), a.p.AppRole(svc.Name)} {
			if !slices.ContainsFunc(acl.Grants, func(g catalog.Grant) bool {
				return (g.Grantee == role || g.Grantee == catalog.Public) && g.Privilege == "USAGE"
			}) {
				a.add(Error, "extensions", svc.Name, "%s lacks USAGE on schema %s and cannot use the project's extensions; run `splitschema provision`", role, schema)
			}
		}
	}
}

// reads reports whether role may use schema through a declared read: the
// owner of a service that reads from it, or its application role when the
// read says app: true.
func (a *auditor) reads(role, schema string) bool {
	from := a.p.Service(a.roleService[role])
	if from == nil {
		return false
	}
	owner := a.p.OwnerRole(from.Name) == role
	return slices.ContainsFunc(from.Reads, func(r manifest.Read) bool { return r.Schema == schema && (owner || r.App) })
}

// readable reports whether role may SELECT schema.table(column) through a
// declared read of svc.
func (a *auditor) readable(role string, svc *manifest.Service, schema, table, column string) bool {
	from := a.p.Service(a.roleService[role])
	if from == nil {
		return false
	}
	owner := a.p.OwnerRole(from.Name) == role
	return slices.ContainsFunc(from.Reads, func(r manifest.Read) bool {
		return r.Service == svc.Name && r.Schema == schema && r.Table == table && slices.Contains(r.Columns, column) && (owner || r.App)
	})
}

// uses reports whether role belongs to a service that declares the shared
// service svc in uses.
func (a *auditor) uses(role string, svc *manifest.Service) bool {
	from := a.p.Service(a.roleService[role])
	return from != nil && svc.IsShared() && slices.Contains(from.Uses, svc.Name)
}

// grouped collects findings that differ only by a part (a column), so that
// one finding names the object and lists its parts.
type grouped struct {
	keys  []groupKey
	parts map[groupKey][]string
	// alone is how a group of one finding is told, when it is told
	// otherwise than as a group (see addOne).
	alone map[groupKey]string
	count map[groupKey]int
}

type groupKey struct{ service, what string }

func newGrouped() *grouped {
	return &grouped{parts: map[groupKey][]string{}, alone: map[groupKey]string{}, count: map[groupKey]int{}}
}

// addOne adds a part like add; alone is how the finding reads when it stays
// the only one of its group.
func (g *grouped) addOne(service, what, part, alone string) {
	k := groupKey{service, what}
	if g.count[k] == 0 {
		g.alone[k] = alone
	}
	g.count[k]++
	g.add(service, what, part)
}

func (g *grouped) add(service, what, part string) {
	k := groupKey{service, what}
	if _, ok := g.parts[k]; !ok {
		g.keys = append(g.keys, k)
	}
	if !slices.Contains(g.parts[k], part) {
		g.parts[k] = append(g.parts[k], part)
	}
}

func (g *grouped) each(fn func(service, what string, parts []string)) {
	for _, k := range g.keys {
		if g.count[k] == 1 && g.alone[k] != "" {
			fn(k.service, g.alone[k], nil)
			continue
		}
		parts := slices.Clone(g.parts[k])
		slices.Sort(parts)
		fn(k.service, k.what, parts)
	}
}
