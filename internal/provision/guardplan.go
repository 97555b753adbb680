package provision

import (
	"github.com/splitschema/splitschema/internal/catalog"
)

const (
	insertGuarded = "INSERT INTO splitschema.service (schema_name, service, owner_role, app_role) VALUES ($1, $2, $3, $4)"
	updateGuarded = "UPDATE splitschema.service SET service = $2, owner_role = $3, app_role = $4 WHERE schema_name = $1"
	deleteGuarded = "DELETE FROM splitschema.service WHERE schema_name = $1"
)

// planToolkit installs or repairs the guard: the toolkit schema, its table
// of services (kept equal to the manifest; rows of undeclared schemas that
// still exist stay, so they stay guarded), the guard function and its event
// trigger. PUBLIC may read the table: the guard runs as whoever issued the
// DDL. Nobody else gets anything on the toolkit.
func (pl *planner) planToolkit() {
	tk := pl.snap.Toolkit
	guard := func(c Change) {
		c.Action, c.needsSuper = ActionGuard, true
		pl.add(c)
	}
	if !tk.HasSchema {
		guard(Change{phase: phaseSchemas, SQL: toolkit.schema})
	}
	if !tk.HasTable {
		guard(Change{phase: phaseSchemas, SQL: toolkit.table})
	}
	pl.planGuardedRows()

	owner := tk.SchemaOwner
	if owner == "" {
		owner = pl.snap.Admin.Name
	}
	schema := catalog.Object{Kind: catalog.KindSchema, Schema: ToolkitSchema}
	table := catalog.Object{Kind: catalog.KindTable, Schema: ToolkitSchema, Name: "service"}
	for _, x := range []struct {
		o    catalog.Object
		need priv
	}{{schema, pUsage}, {table, pSelect}} {
		have, objOwner := pl.held(x.o, owner)
		for _, op := range diffGrants(have, map[string]want{catalog.Public: {need: x.need}}, unmanaged(objOwner)) {
			guard(Change{phase: opPhase(op), SQL: op.statement(objectTarget(x.o))})
		}
	}

	if tk.GuardSource != toolkit.body {
		guard(Change{phase: phaseGuard, SQL: toolkit.function})
	}
	for _, gt := range guardTriggers {
		switch gt.stateIn(tk) {
		case triggerMissing:
			guard(Change{phase: phaseGuard, SQL: gt.create})
		case triggerChanged:
			guard(Change{phase: phaseGuard, SQL: "DROP EVENT TRIGGER " + ident(gt.name), Note: "the guard's event trigger was changed by hand"})
			guard(Change{phase: phaseGuard, SQL: gt.create})
		case triggerDisabled:
			guard(Change{phase: phaseGuard, SQL: "ALTER EVENT TRIGGER " + ident(gt.name) + " ENABLE", Note: "the guard was disabled"})
		}
	}
}

// planGuardedRows keeps splitschema.service equal to the manifest.
func (pl *planner) planGuardedRows() {
	have := guardedBySchema(pl.snap)
	for _, svc := range pl.p.OrderedServices() {
		for _, schema := range svc.Schemas {
			w := guardedRow(pl.p, svc, schema)
			args := []any{w.Schema, w.Service, w.OwnerRole, w.AppRole}
			values := "(" + literal(w.Schema) + ", " + literal(w.Service) + ", " + literal(w.OwnerRole) + ", " + literal(w.AppRole) + ")"
			g, ok := have[schema]
			delete(have, schema)
			switch {
			case !ok:
				pl.add(Change{Service: svc.Name, Action: ActionGuard, phase: phaseSchemas, needsSuper: true, run: insertGuarded, args: args,
					SQL: "INSERT INTO splitschema.service (schema_name, service, owner_role, app_role) VALUES " + values})
			case g != w:
				pl.add(Change{Service: svc.Name, Action: ActionGuard, phase: phaseSchemas, needsSuper: true, run: updateGuarded, args: args,
					SQL: "UPDATE splitschema.service SET service = " + literal(w.Service) + ", owner_role = " + literal(w.OwnerRole) +
						", app_role = " + literal(w.AppRole) + " WHERE schema_name = " + literal(w.Schema)})
			}
		}
	}
	for _, schema := range sortedKeys(have) {
		if _, exists := pl.snap.Schemas[schema]; exists {
			continue // undeclared but still there: keep it guarded
		}
		pl.add(Change{Action: ActionGuard, phase: phaseSchemas, needsSuper: true, run: deleteGuarded, args: []any{schema},
			SQL: "DELETE FROM splitschema.service WHERE schema_name = " + literal(schema), Note: "the schema no longer exists"})
	}
}
