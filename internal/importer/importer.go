package importer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/gen/pgcatalog"
	"github.com/splitschema/splitschema/internal/inspect"
	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/target"
)

// Options adjust Run.
type Options struct {
	// Dir is the project folder to write; it must not hold a project yet.
	Dir string
	// Schemas limits the import to these schemas; default: every schema
	// but the system ones, splitschema's and the extensions'.
	Schemas []string
	// Into puts schemas into another schema's service instead of one of
	// their own: schema -> the service (named after its first schema)
	// that owns it too.
	Into map[string]string
	// PgDump is the pg_dump to run; default: found like backup's.
	PgDump string
	Log    *slog.Logger
}

// Run reads srv's Database and writes a project into o.Dir. It refuses a
// folder that already holds a project, and writes nothing when it fails
// before the files.
func Run(ctx context.Context, srv *target.Server, o Options) (*Result, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	for _, f := range []string{manifest.SettingsFile, manifest.SchemasDir, "migrations"} {
		if _, err := os.Stat(filepath.Join(o.Dir, f)); err == nil {
			return nil, fmt.Errorf("import: %s already exists; import writes a new project, into an empty folder", filepath.Join(o.Dir, f))
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("import: %w", err)
		}
	}
	conn, err := srv.Connect(ctx, srv.Database)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	im := &importer{srv: srv, conn: conn, o: o, res: &Result{Dir: o.Dir, Database: srv.Database, Services: []*service{}, Notes: []Note{}}, byName: map[string]*service{}}
	if err := im.read(ctx); err != nil {
		return nil, err
	}
	if err := im.write(ctx); err != nil {
		return nil, err
	}
	return im.res, nil
}

type importer struct {
	srv    *target.Server
	conn   *pgx.Conn
	o      Options
	res    *Result
	byName map[string]*service
	// extSchemas are the schemas the extensions live in.
	extSchemas map[string]bool
}

func (im *importer) note(file, format string, args ...any) {
	im.res.Notes = append(im.res.Notes, Note{File: file, Message: fmt.Sprintf(format, args...)})
}

func serviceFile(name string) string { return manifest.SchemasDir + "/" + name + ".yaml" }
func baselineFile(name string) string {
	return "migrations/" + name + "/" + baselineName
}

const baselineName = "00001_baseline.sql"

// read works out the services and their relations from the catalog.
func (im *importer) read(ctx context.Context) error {
	q := pgcatalog.New(im.conn)
	exts, err := q.Extensions(ctx)
	if err != nil {
		return fmt.Errorf("import: read extensions: %w", err)
	}
	im.extSchemas = map[string]bool{}
	for _, e := range exts {
		if e.Name == "plpgsql" {
			continue
		}
		im.res.Extensions = append(im.res.Extensions, e.Name)
		im.extSchemas[e.SchemaName] = true
		if e.SchemaName != manifest.ExtensionsSchema {
			im.note(manifest.SettingsFile, "extension %s lives in schema %s; the project creates it in schema %s: where the baselines name %s.… for its objects, write %s.…",
				e.Name, e.SchemaName, manifest.ExtensionsSchema, e.SchemaName, manifest.ExtensionsSchema)
		}
	}
	schemas, err := im.schemas(ctx)
	if err != nil {
		return err
	}
	if len(schemas) == 0 {
		return errors.New("import: no schema to import (schema public cannot be a service's; use --schemas to name them)")
	}
	if err := im.services(schemas); err != nil {
		return err
	}
	deps, err := q.AuditDependencies(ctx, schemas)
	if err != nil {
		return fmt.Errorf("import: read dependencies: %w", err)
	}
	for _, d := range deps {
		from, to := im.byName[d.FromSchema], im.byName[d.ToSchema]
		if from == nil || to == nil || from == to {
			if from != nil && to == nil && !im.extSchemas[d.ToSchema] && d.ToSchema != "pg_catalog" {
				im.note(serviceFile(from.Name), "%s depends on %s, in schema %s that is not imported", d.FromObject, d.ToObject, d.ToSchema)
			}
			continue
		}
		switch {
		case d.ToKind == "relation" && d.ToColumn != "":
			from.addRead(d.ToSchema+"."+d.ToTable, d.ToColumn)
			from.deps[to.Name] = true
		case d.ToKind == "type" || d.ToKind == "routine":
			from.uses[to.Name] = true
			to.Shared = true
			from.deps[to.Name] = true
		default:
			im.note(serviceFile(from.Name), "%s depends on %s of service %s, which no link, read or use can declare: move it into one service", d.FromObject, d.ToObject, to.Name)
		}
	}
	fks, err := inspect.ForeignKeys(ctx, im.conn, schemas)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	for _, fk := range fks {
		from, to := im.byName[fk.From.Schema], im.byName[fk.To.Schema]
		if fk.From.Schema == fk.To.Schema || (from != nil && from == to) {
			continue // inside one service: its baseline keeps it
		}
		if from == nil || to == nil {
			im.note(baselineFile(cmpOr(from, to).Name), "foreign key %s of %s.%s references %s.%s across the imported schemas' boundary", fk.Name, fk.From.Schema, fk.From.Table, fk.To.Schema, fk.To.Table)
			continue
		}
		target := fk.To.Schema + "." + fk.To.Table + "(" + strings.Join(fk.To.Columns, ", ") + ")"
		if to.Shared {
			im.note(serviceFile(to.Name), "service %s holds types others use, so it is shared, and %s.%s references its table %s.%s: a shared service is linked to by nobody; move its types to a schema of their own",
				to.Name, fk.From.Schema, fk.From.Table, fk.To.Schema, fk.To.Table)
		}
		if reaches(im.byName, to.Name, from.Name) {
			from.SoftLinks = append(from.SoftLinks, fk.From.Table+"("+strings.Join(fk.From.Columns, ", ")+") -> "+target)
			from.softFKs = append(from.softFKs, fk.Name)
			im.note(baselineFile(from.Name), "foreign key %s of %s.%s closes a cycle of services: it is a soft link (checked by verify, no constraint) and left out of the baseline", fk.Name, fk.From.Schema, fk.From.Table)
			continue
		}
		if !slices.Contains(from.Links, target) {
			from.Links = append(from.Links, target)
		}
		from.deps[to.Name] = true
	}
	for _, svc := range im.res.Services {
		svc.finish()
		if svc.Shared {
			for _, other := range im.res.Services {
				if slices.Contains(other.Uses, svc.Name) && reaches(im.byName, svc.Name, other.Name) {
					im.note(serviceFile(svc.Name), "shared service %s depends on %s, which uses it: a cycle no soft link can break", svc.Name, other.Name)
				}
			}
		}
	}
	return nil
}

// services makes one service per schema, but for the schemas o.Into puts
// into another schema's service; byName maps every schema to its service.
func (im *importer) services(schemas []string) error {
	for _, s := range schemas {
		if _, joins := im.o.Into[s]; joins {
			continue
		}
		svc := &service{Name: s, Schemas: []string{s}, reads: map[string][]string{}, uses: map[string]bool{}, deps: map[string]bool{}}
		im.byName[s] = svc
		im.res.Services = append(im.res.Services, svc)
	}
	for _, s := range slices.Sorted(maps.Keys(im.o.Into)) {
		into := im.o.Into[s]
		switch {
		case !slices.Contains(schemas, s):
			return fmt.Errorf("import: --into %s=%s: schema %s is not imported (it does not exist, or --schemas leaves it out)", s, into, s)
		case s == into:
			return fmt.Errorf("import: --into %s=%s: a schema is in its own service already", s, into)
		case im.byName[into] == nil:
			return fmt.Errorf("import: --into %s=%s: there is no service %s (a service is named after its first schema, which must be imported and not itself put into another)", s, into, into)
		}
		svc := im.byName[into]
		svc.Schemas = append(svc.Schemas, s)
		im.byName[s] = svc
	}
	return nil
}

func cmpOr(a, b *service) *service {
	if a != nil {
		return a
	}
	return b
}

// schemas lists the schemas to import, each a valid service name.
func (im *importer) schemas(ctx context.Context) ([]string, error) {
	rows, err := im.conn.Query(ctx, `
		SELECT n.nspname::text,
		       (SELECT count(*) FROM pg_catalog.pg_class c WHERE c.relnamespace = n.oid)
		FROM pg_catalog.pg_namespace n
		WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
		  AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d
		                  WHERE d.classid = 'pg_catalog.pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e')
		ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("import: list schemas: %w", err)
	}
	type schema struct {
		name    string
		objects int64
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (schema, error) {
		var s schema
		return s, r.Scan(&s.name, &s.objects)
	})
	if err != nil {
		return nil, fmt.Errorf("import: list schemas: %w", err)
	}
	exists := map[string]bool{}
	var out []string
	for _, s := range all {
		exists[s.name] = true
		switch {
		case len(im.o.Schemas) > 0 && !slices.Contains(im.o.Schemas, s.name):
		case s.name == "splitschema" || im.extSchemas[s.name] && s.name == manifest.ExtensionsSchema:
		case s.name == "public":
			if s.objects > 0 {
				im.note(manifest.SchemasDir, "schema public holds %d relations; no service may own schema public: move them to a schema of their own (ALTER TABLE … SET SCHEMA) and import again", s.objects)
			}
		default:
			if err := manifest.CheckIdentifier("service name", s.name, manifest.MaxIdentifierLen-len("_owner")); err != nil {
				im.note(manifest.SchemasDir, "schema %s is not imported: %v", s.name, err)
				continue
			}
			out = append(out, s.name)
		}
	}
	for _, s := range im.o.Schemas {
		if !exists[s] {
			return nil, fmt.Errorf("import: --schemas %s: database %s has no schema %s", s, im.srv.Database, s)
		}
	}
	return out, nil
}
