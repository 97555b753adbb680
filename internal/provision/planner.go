package provision

import (
	"fmt"

	"github.com/splitschema/splitschema/internal/catalog"
	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/target"
)

// planner compares one catalog snapshot with the manifest.
type planner struct {
	p         *manifest.Project
	snap      *catalog.Snapshot
	srv       *target.Server
	opts      Options
	db        string
	dbMissing bool
	forApply  bool

	cs       *Changeset
	problems []string

	// roleService maps every declared role to its service.
	roleService map[string]string
	// bySchema indexes the snapshot's objects by schema, sorted.
	bySchema map[string][]catalog.Object
	// linkGrants: schema -> linking owner roles (USAGE on the schema), and
	// "schema.table" -> grantee -> columns (REFERENCES).
	linkSchemas map[string][]string
	linkColumns map[string]map[string][]string
	// readColumns: "schema.table" -> grantee -> columns (SELECT).
	readColumns map[string]map[string][]string
	// linkTables lists, by schema, the tables of linkColumns and readColumns.
	linkTables map[string][]string
	// revokedTable remembers table-level revokes: a REVOKE on a table also
	// revokes the same privilege on its columns.
	revokedTable map[string]map[string]priv
}

func newPlanner(p *manifest.Project, snap *catalog.Snapshot, srv *target.Server, opts Options, dbMissing, forApply bool) *planner {
	pl := &planner{
		p: p, snap: snap, srv: srv, opts: opts, db: srv.Database, dbMissing: dbMissing, forApply: forApply,
		cs: &Changeset{
			Database: srv.Database, Server: srv.Addr(),
			Changes: []Change{}, Undeclared: []Undeclared{}, services: p.Order,
		},
		roleService:  map[string]string{},
		bySchema:     map[string][]catalog.Object{},
		linkSchemas:  map[string][]string{},
		linkColumns:  map[string]map[string][]string{},
		readColumns:  map[string]map[string][]string{},
		linkTables:   map[string][]string{},
		revokedTable: map[string]map[string]priv{},
	}
	for _, s := range p.Services {
		pl.roleService[p.OwnerRole(s.Name)] = s.Name
		pl.roleService[p.AppRole(s.Name)] = s.Name
		pl.roleService[p.MigratorRole(s.Name)] = s.Name
	}
	for _, o := range snap.Objects() {
		pl.bySchema[o.Schema] = append(pl.bySchema[o.Schema], o)
	}
	return pl
}

// run computes every change, in any order: sortChanges orders them.
func (pl *planner) run() {
	if pl.dbMissing {
		pl.add(Change{Action: ActionCreateDatabase, SQL: "CREATE DATABASE " + ident(pl.db), phase: phaseRoles})
	}
	pl.planLinks()
	for _, svc := range pl.p.OrderedServices() {
		pl.planRoles(svc)
		pl.planRoleMarks(svc)
	}
	pl.planMemberships()
	for _, svc := range pl.p.OrderedServices() {
		pl.planSchema(svc)
		pl.planObjects(svc)
		pl.planSettings(svc)
		pl.planRoleResets(svc)
	}
	pl.planDatabase()
	pl.planPublicSchema()
	pl.planDefaults()
	pl.planExtensions()
	pl.planSideChannels()
	pl.planToolkit()
	pl.planRefresh()
	pl.planUndeclared()
	pl.checkAdmin()
	pl.cs.sortChanges()
	pl.cs.Pending = len(pl.cs.Changes)
	pl.cs.problems = pl.problems
}

func (pl *planner) add(c Change) { pl.cs.Changes = append(pl.cs.Changes, c) }

func (pl *planner) problem(format string, args ...any) {
	pl.problems = append(pl.problems, fmt.Sprintf(format, args...))
}

func (pl *planner) warn(format string, args ...any) {
	pl.cs.Warnings = append(pl.cs.Warnings, fmt.Sprintf(format, args...))
}

// isServiceRole reports whether role is a declared service's role.
func (pl *planner) isServiceRole(role string) bool { return pl.roleService[role] != "" }

// checkInput turns the problems a plan found into an *InputError.
func checkInput(cs *Changeset) error {
	if len(cs.problems) == 0 {
		return nil
	}
	return &InputError{Problems: cs.problems}
}
