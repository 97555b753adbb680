package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/backup"
	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/migrate"
)

// generated is a project of generated services and the Up SQL of each
// service's migrations, for running them without goose.
type generated struct {
	p *manifest.Project
	// ups holds, per service, the Up SQL of each migration in order.
	ups map[string][]string
}

// linkedTable is the table every generated service has, and that the
// services after it link to.
const linkedTable = "t"

// serviceName is the name of the i-th generated service.
func serviceName(i int) string { return fmt.Sprintf("s%04d", i) }

// generatedLinks are the services the i-th service links to: the one just
// before it and the one at half its index, so the graph is deep and wide
// and every service but the first has one or two links.
func generatedLinks(i int) []int {
	var out []int
	if i >= 1 {
		out = append(out, i-1)
	}
	if h := i / 2; i >= 2 && h != i-1 {
		out = append(out, h)
	}
	return out
}

// generate writes a project of n services, each with 1 to 5 migrations,
// into dir, with database db and role prefix, and loads it.
// The first migration creates the table t with a foreign key to each
// linked service's t; the next ones add a column, an index, a second table
// and a check constraint.
func generate(dir, db, prefix string, n, migrations int) (*generated, error) {
	if migrations < 1 || migrations > 5 {
		return nil, fmt.Errorf("generate: %d migrations per service, want 1 to 5", migrations)
	}
	if err := writeSettings(dir, db, prefix); err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	g := &generated{ups: map[string][]string{}}
	for i := range n {
		name := serviceName(i)
		var service strings.Builder
		fmt.Fprintf(&service, "name: %s\ndescription: Generated service %d of %d.\n", name, i+1, n)
		links := generatedLinks(i)
		if len(links) > 0 {
			service.WriteString("links:\n")
		}
		for _, l := range links {
			fmt.Fprintf(&service, "  - %s.%s(id)\n", serviceName(l), linkedTable)
		}
		if err := writeFile(filepath.Join(dir, manifest.SchemasDir, name+".yaml"), service.String()); err != nil {
			return nil, fmt.Errorf("generate: %w", err)
		}
		ups, downs := generatedMigrations(links)
		for k := range migrations {
			file := filepath.Join(dir, migrate.MigrationsDir, name, fmt.Sprintf("%05d_step%d.sql", k+1, k+1))
			if err := writeFile(file, "-- +goose Up\n"+ups[k]+"\n\n-- +goose Down\n"+downs[k]+"\n"); err != nil {
				return nil, fmt.Errorf("generate: %w", err)
			}
			g.ups[name] = append(g.ups[name], ups[k])
		}
	}
	p, err := manifest.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("generate: load: %w", err)
	}
	g.p = p
	return g, nil
}

// generate writes a project of n services with the given migrations each
// into the work folder's name, with database bench_<name> and role prefix
// bench_<name>_, and claims them for this run.
func (e *env) generate(ctx context.Context, name string, n, migrations int) (*generated, error) {
	db := "bench_" + name
	g, err := generate(filepath.Join(e.work, name), db, db+"_", n, migrations)
	if err != nil {
		return nil, err
	}
	return g, e.claim(ctx, db, backup.ServiceRoles(g.p))
}

// generatedMigrations are the Up and Down SQL of a generated service's five
// migrations. Unqualified names land in the service's schema: migrations
// run with it as the search_path.
func generatedMigrations(links []int) (ups, downs []string) {
	var cols strings.Builder
	for _, l := range links {
		s := serviceName(l)
		fmt.Fprintf(&cols, ",\n    %s bigint REFERENCES %s (id)", pgx.Identifier{s + "_id"}.Sanitize(), pgx.Identifier{s, linkedTable}.Sanitize())
	}
	ups = []string{
		"CREATE TABLE t (\n    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n    name text NOT NULL,\n    created_at timestamptz NOT NULL DEFAULT now()" + cols.String() + "\n);",
		"ALTER TABLE t ADD COLUMN note text;",
		"CREATE INDEX t_created_at_idx ON t (created_at);",
		"CREATE TABLE event (\n    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n    t_id bigint NOT NULL REFERENCES t (id),\n    kind text NOT NULL,\n    at timestamptz NOT NULL DEFAULT now()\n);",
		"ALTER TABLE t ADD CONSTRAINT t_name_check CHECK (name <> '');",
	}
	downs = []string{
		"DROP TABLE t;",
		"ALTER TABLE t DROP COLUMN note;",
		"DROP INDEX t_created_at_idx;",
		"DROP TABLE event;",
		"ALTER TABLE t DROP CONSTRAINT t_name_check;",
	}
	return ups, downs
}

func writeFile(path, content string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(content), 0o644)
}
