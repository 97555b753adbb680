package provision

import (
	"fmt"
	"slices"
	"strings"

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
	for _, gt := range guardTriggers {
		switch gt.stateIn(tk) {
		case triggerMissing:
			out = append(out, fmt.Sprintf("the guard's event trigger %s is missing: %s", gt.name, gt.without))
		case triggerChanged:
			out = append(out, fmt.Sprintf("the event trigger %s was changed: it must run splitschema.guard() on %s%s", gt.name, gt.event, gt.tagsSQL()))
		case triggerDisabled:
			out = append(out, fmt.Sprintf("the guard's event trigger %s is disabled: %s", gt.name, gt.without))
		}
	}
	have := guardedBySchema(snap)
	for _, svc := range p.Services {
		for _, schema := range svc.Schemas {
			if g, ok := have[schema]; !ok || g != guardedRow(p, svc, schema) {
				out = append(out, fmt.Sprintf("the guard does not know service %s as declared (splitschema.service row of schema %s: %+v)", svc.Name, schema, g))
			}
		}
	}
	for i := range out {
		out[i] += "; `splitschema provision` repairs it"
	}
	return out
}

// triggerState is the state of the guard's event trigger.
type triggerState int

const (
	triggerOK triggerState = iota
	triggerMissing
	// triggerChanged: it fires on another event or runs another function.
	triggerChanged
	triggerDisabled
)

func (gt guardTrigger) stateIn(tk catalog.Toolkit) triggerState {
	have, ok := tk.Triggers[gt.name]
	tags := slices.Sorted(slices.Values(have.Tags))
	switch {
	case !ok:
		return triggerMissing
	case have.Event != gt.event || !have.CallsGuard || !slices.Equal(tags, gt.tags):
		return triggerChanged
	case have.Enabled == "D" || have.Enabled == "R":
		return triggerDisabled
	}
	return triggerOK
}

// tagsSQL renders the trigger's tag filter for a message.
func (gt guardTrigger) tagsSQL() string {
	if len(gt.tags) == 0 {
		return ""
	}
	return " WHEN TAG IN ('" + strings.Join(gt.tags, "', '") + "')"
}

// guardedRow is the row of splitschema.service the manifest wants for
// schema, one of svc's schemas.
func guardedRow(p *manifest.Project, svc *manifest.Service, schema string) catalog.Guarded {
	return catalog.Guarded{Schema: schema, Service: svc.Name, OwnerRole: p.OwnerRole(svc.Name), AppRole: p.AppRole(svc.Name)}
}

// guardedBySchema indexes the rows of splitschema.service by schema.
func guardedBySchema(snap *catalog.Snapshot) map[string]catalog.Guarded {
	out := make(map[string]catalog.Guarded, len(snap.Guarded))
	for _, g := range snap.Guarded {
		out[g.Schema] = g
	}
	return out
}
