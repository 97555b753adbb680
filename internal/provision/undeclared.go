package provision

import (
	"context"
	"fmt"
	"strings"

	"github.com/splitschema/splitschema/gen/pgcatalog"
)

// wouldBeService returns the service name a role name points to by the
// project's naming pattern (prefix + service + owner or app suffix).
func (pl *planner) wouldBeService(role string) (string, bool) {
	n := pl.p.Settings.Naming
	rest, ok := strings.CutPrefix(role, n.Prefix)
	if !ok {
		return "", false
	}
	for _, suffix := range []string{n.OwnerSuffix, n.AppSuffix} {
		if svc, ok := strings.CutSuffix(rest, suffix); ok && svc != "" {
			return svc, true
		}
	}
	return "", false
}

// planUndeclared lists the roles that follow the naming pattern but belong
// to no declared service, and the schemas that no service declares but that
// a service role, or a would-be one, owns, or that the guard still knows.
// Their tables and rows are counted by countUndeclared.
func (pl *planner) planUndeclared() {
	for _, name := range sortedKeys(pl.snap.Roles) {
		if pl.isServiceRole(name) {
			continue
		}
		if svc, ok := pl.wouldBeService(name); ok {
			pl.cs.Undeclared = append(pl.cs.Undeclared, Undeclared{Kind: "role", Name: name, Service: svc})
		}
	}
	declared := map[string]bool{"public": true, ToolkitSchema: true}
	for _, s := range pl.p.Services {
		declared[s.Schema] = true
	}
	guarded := guardedBySchema(pl.snap)
	for _, schema := range sortedKeys(pl.snap.Schemas) {
		if declared[schema] {
			continue
		}
		owner := pl.snap.Schemas[schema]
		svc, wouldBe := pl.wouldBeService(owner)
		if s := pl.roleService[owner]; s != "" {
			svc, wouldBe = s, true
		}
		g, isGuarded := guarded[schema]
		if isGuarded {
			svc = g.Service
		}
		if wouldBe || isGuarded {
			pl.cs.Undeclared = append(pl.cs.Undeclared, Undeclared{Kind: "schema", Name: schema, Service: svc, Owner: owner, Guarded: isGuarded})
		}
	}
}

// countUndeclared counts the tables and rows of the undeclared schemas, so
// that whoever decides to drop one knows what it holds.
func (pl *planner) countUndeclared(ctx context.Context, db catalogDB) error {
	var schemas []string
	at := map[string]int{}
	for i, u := range pl.cs.Undeclared {
		if u.Kind == "schema" {
			schemas = append(schemas, u.Name)
			at[u.Name] = i
		}
	}
	if len(schemas) == 0 || pl.dbMissing {
		return nil
	}
	tables, err := pgcatalog.New(db).TablesOf(ctx, schemas)
	if err != nil {
		return fmt.Errorf("list tables of undeclared schemas: %w", err)
	}
	var counts []string
	for _, t := range tables {
		i := at[t.SchemaName]
		u := &pl.cs.Undeclared[i]
		u.Tables++
		if !t.Readable {
			u.Rows = -1
			continue
		}
		counts = append(counts, fmt.Sprintf("SELECT %d, count(*) FROM %s", i, ident(t.SchemaName, t.Name)))
	}
	if len(counts) == 0 {
		return nil
	}
	rows, err := db.Query(ctx, strings.Join(counts, " UNION ALL "))
	if err != nil {
		return fmt.Errorf("count rows of undeclared schemas: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var i int
		var n int64
		if err := rows.Scan(&i, &n); err != nil {
			return fmt.Errorf("count rows of undeclared schemas: %w", err)
		}
		if u := &pl.cs.Undeclared[i]; u.Rows >= 0 {
			u.Rows += n
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("count rows of undeclared schemas: %w", err)
	}
	return nil
}
