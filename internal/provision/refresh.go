package provision

import (
	_ "embed"
	"strings"

	"github.com/splitschema/splitschema/internal/catalog"
)

//go:embed refresh.sql
var refreshSQL string

// RefreshFunction is the toolkit function a service's application role
// calls to refresh one of its service's materialized views:
// SELECT splitschema.refresh_materialized_view('sales.daily_total').
const RefreshFunction = "splitschema.refresh_materialized_view"

// refresh is refresh.sql's statement and the function's body as
// pg_proc.prosrc holds it.
var refresh = func() struct{ statement, body string } {
	stmt := strings.TrimSpace(stripComments(refreshSQL))
	const marker = "$refresh$"
	i, j := strings.Index(stmt, marker), strings.LastIndex(stmt, marker)
	if i < 0 || j <= i {
		panic("provision: refresh.sql lacks its $refresh$ body")
	}
	return struct{ statement, body string }{stmt, stmt[i+len(marker) : j]}
}()

// planRefresh installs splitschema.refresh_materialized_view (a superuser's
// job, like the guard: it runs as its owner) and keeps EXECUTE on it to the
// service application roles alone. REFRESH needs ownership of the view, which
// an application role must not have; see refresh.sql.
func (pl *planner) planRefresh() {
	if pl.snap.Toolkit.RefreshSource != refresh.body {
		pl.add(Change{Action: ActionGuard, phase: phaseGuard, needsSuper: true, SQL: refresh.statement,
			Note: "lets each application role refresh its own service's materialized views"})
	}
	wants := map[string]want{}
	for _, svc := range pl.p.Services {
		wants[pl.p.AppRole(svc.Name)] = want{need: pExecute}
	}
	have := map[string]holding{catalog.Public: {privs: pExecute}} // a new function's default
	owner := pl.snap.Admin.Name
	for o, acl := range pl.snap.ACLs {
		if o.Kind == catalog.KindRoutine && o.Schema == ToolkitSchema && strings.Contains(o.Name, "refresh_materialized_view(") {
			have, owner = holdings(acl.Grants), acl.Owner
		}
	}
	managed := func(g string) bool { return g != owner && (g == catalog.Public || pl.isServiceRole(g)) }
	for _, op := range diffGrants(have, wants, managed) {
		ph := phaseGuard // after the function exists
		pl.add(Change{Service: pl.roleService[op.grantee], Action: op.action(), phase: ph,
			SQL: op.statement("FUNCTION " + RefreshFunction + "(regclass, boolean)")})
	}
}
