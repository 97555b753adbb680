package provision

import (
	"fmt"

	"github.com/splitschema/splitschema/internal/catalog"
	"github.com/splitschema/splitschema/internal/manifest"
)

// GuardProblems says what is wrong with the guard in snap (read with
// catalog.ReadCluster) for project p: missing, changed by hand, disabled, or
// not knowing a declared service. It returns nothing when the guard is in
// place and current.
func GuardProblems(p *manifest.Project, snap *catalog.Snapshot) []string {
	tk := snap.Toolkit
	if !tk.HasSchema || !tk.HasTable {
		return []string{"the guard is not installed (no table splitschema.service); run `splitschema provision`"}
	}
	var out []string
	switch {
	case tk.GuardSource == "":
		out = append(out, "the guard function splitschema.guard() is missing")
	case tk.GuardSource != toolkit.body:
		out = append(out, "the guard function splitschema.guard() differs from this version's")
	}
	switch {
	case tk.TriggerEvent == "":
		out = append(out, "the guard's event trigger splitschema_guard is missing: nothing stops a service's DROP ... CASCADE")
	case tk.TriggerEvent != "sql_drop" || !tk.TriggerCallsGuard:
		out = append(out, "the event trigger splitschema_guard was changed: it must run splitschema.guard() on sql_drop")
	case tk.TriggerEnabled == "D" || tk.TriggerEnabled == "R":
		out = append(out, "the guard's event trigger splitschema_guard is disabled")
	}
	have := map[string]catalog.Guarded{}
	for _, g := range snap.Guarded {
		have[g.Schema] = g
	}
	for _, svc := range p.Services {
		w := catalog.Guarded{Schema: svc.Schema, Service: svc.Name, OwnerRole: p.OwnerRole(svc.Name), AppRole: p.AppRole(svc.Name)}
		if g, ok := have[svc.Schema]; !ok || g != w {
			out = append(out, fmt.Sprintf("the guard does not know service %s as declared (splitschema.service row of schema %s: %+v)", svc.Name, svc.Schema, g))
		}
	}
	for i := range out {
		out[i] += "; `splitschema provision` repairs it"
	}
	return out
}
