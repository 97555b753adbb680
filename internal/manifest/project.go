// Package manifest reads a splitschema project: splitschema.yaml and one
// schemas/<service>.yaml per service. It validates names and links, and
// orders the services so that every service comes after those it links to.
// It knows no database.
package manifest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// SchemasDir is the folder, relative to the project, that holds the service files.
const SchemasDir = "schemas"

// SqlcFile is sqlc's configuration at the project root: one package per
// service (see `splitschema init` and `service add`).
const SqlcFile = "sqlc.yaml"

// Project is a loaded, validated project.
type Project struct {
	// Dir is the project folder as given to Load.
	Dir      string
	Settings Settings
	// Services are sorted by name.
	Services []*Service
	// Order lists service names so that each comes after every service it
	// links to; ties are broken by name, so the order is deterministic.
	Order []string
}

// Load reads and validates the project in dir. On any problem it returns an
// *Error that lists every problem found, each naming its file.
func Load(dir string) (*Project, error) {
	p := &Project{Dir: dir}
	var ps problems

	settings, err := LoadSettings(dir)
	if err != nil {
		return nil, err
	}
	p.Settings = settings

	entries, err := os.ReadDir(filepath.Join(dir, SchemasDir))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: folder missing; it holds one <service>.yaml per service (try `splitschema service add NAME`)", filepath.Join(dir, SchemasDir))
		}
		return nil, fmt.Errorf("read %s: %w", SchemasDir, err)
	}
	for _, e := range entries {
		name := e.Name()
		rel := filepath.ToSlash(filepath.Join(SchemasDir, name))
		switch {
		case strings.HasPrefix(name, "."), e.IsDir():
			continue
		case strings.HasSuffix(name, ".yml"):
			ps.add(rel, 0, "service files end in .yaml; rename it to %s", strings.TrimSuffix(name, ".yml")+".yaml")
			continue
		case !strings.HasSuffix(name, ".yaml"):
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, SchemasDir, name))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", rel, err)
		}
		svc, err := ParseService(rel, strings.TrimSuffix(name, ".yaml"), data, settings.Naming)
		var perr *Error
		if errors.As(err, &perr) {
			ps = append(ps, perr.Problems...)
			continue
		}
		p.Services = append(p.Services, svc)
	}
	if len(p.Services) == 0 && len(ps) == 0 {
		ps.add(SchemasDir, 0, "no services declared; add one with `splitschema service add NAME`")
	}
	if len(ps) > 0 {
		return nil, ps.err()
	}
	if err := p.resolve(); err != nil {
		return nil, err
	}
	return p, nil
}

// LoadSettings reads and validates dir's splitschema.yaml alone, for
// commands that need the project's settings but not its services.
func LoadSettings(dir string) (Settings, error) {
	data, err := os.ReadFile(filepath.Join(dir, SettingsFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Settings{}, fmt.Errorf("%s: no %s here; run `splitschema init` or pass --dir with a project folder", filepath.Join(dir, SettingsFile), SettingsFile)
	case err != nil:
		return Settings{}, fmt.Errorf("read settings: %w", err)
	}
	return ParseSettings(SettingsFile, data)
}

// resolve checks names and relations across services and computes Order.
func (p *Project) resolve() error {
	var ps problems
	slices.SortFunc(p.Services, func(a, b *Service) int { return strings.Compare(a.Name, b.Name) })
	bySchema := map[string]*Service{}
	for _, svc := range p.Services {
		for _, schema := range svc.Schemas {
			if other, dup := bySchema[schema]; dup {
				ps.add(svc.File, 0, "schema %q is already the schema of service %s (%s)", schema, other.Name, other.File)
				continue
			}
			if len(p.Settings.Extensions) > 0 && schema == ExtensionsSchema {
				ps.add(svc.File, 0, "schema %q holds the project's extensions; choose another schema for the service", schema)
				continue
			}
			bySchema[schema] = svc
		}
	}
	for _, svc := range p.Services {
		for _, schema := range svc.Schemas[1:] {
			if other := p.Service(schema); other != nil && other != svc {
				ps.add(svc.File, 0, "schema %q is also the name of service %s; a link written %s.table would be ambiguous, rename the schema", schema, other.Name, schema)
			}
		}
	}
	// A role name must not collide with another service's role names either,
	// e.g. service "a_owner" with app suffix "" — the suffix rules prevent
	// most of it, this catches the rest.
	roles := map[string]string{}
	for _, svc := range p.Services {
		for _, r := range []string{p.OwnerRole(svc.Name), p.AppRole(svc.Name)} {
			if other, dup := roles[r]; dup {
				ps.add(svc.File, 0, "role name %s is also a role of service %s; rename one service", r, other)
			}
			roles[r] = svc.Name
		}
	}
	if len(ps) > 0 {
		return ps.err()
	}
	for _, svc := range p.Services {
		ps = append(ps, p.resolveRelations(svc, bySchema)...)
	}
	if len(ps) > 0 {
		return ps.err()
	}
	order, cycle := topoOrder(p.Services)
	if cycle != nil {
		first := p.Service(cycle[0])
		ps.add(first.File, 0, "%s", p.describeCycle(cycle))
		return ps.err()
	}
	p.Order = order
	return nil
}

// resolveTarget finds the service and schema a reference written
// name.table points to: a service's name means its primary schema, a
// schema's name that schema.
func (p *Project) resolveTarget(l *Link, bySchema map[string]*Service) *Service {
	if t := p.Service(l.Service); t != nil {
		l.Schema = t.Schema
		return t
	}
	if t := bySchema[l.Service]; t != nil {
		l.Ref, l.Service, l.Schema = l.Service, t.Name, l.Service
		return t
	}
	return nil
}

func (p *Project) resolveRelations(svc *Service, bySchema map[string]*Service) problems {
	var ps problems
	for i := range svc.Links {
		l := &svc.Links[i]
		switch target := p.resolveTarget(l, bySchema); {
		case target == nil:
			ps.add(svc.File, l.Line, "link %s: no service %q in %s/ (services: %s)", l, l.Service, SchemasDir, strings.Join(p.names(), ", "))
		case target == svc:
			ps.add(svc.File, l.Line, "link %s: a service does not link to itself; links are references to other services", l)
		case target.IsShared():
			ps.add(svc.File, l.Line, "link %s: service %s is shared (a library of types and functions); link to a service that holds the table", l, target.Name)
		}
	}
	for i := range svc.Reads {
		r := &svc.Reads[i]
		switch target := p.resolveTarget(&r.Link, bySchema); {
		case target == nil:
			ps.add(svc.File, r.Line, "read %s: no service %q in %s/ (services: %s)", r.Link, r.Service, SchemasDir, strings.Join(p.names(), ", "))
		case target == svc:
			ps.add(svc.File, r.Line, "read %s: a service reads its own tables without declaring it", r.Link)
		}
	}
	seenTo := map[string]int{}
	for i := range svc.SoftLinks {
		s := &svc.SoftLinks[i]
		if !svc.OwnsSchema(s.FromSchema) {
			ps.add(svc.File, s.Line, "soft link %s: schema %s is not one of the service's schemas (%s)", s, s.FromSchema, strings.Join(svc.Schemas, ", "))
		}
		switch target := p.resolveTarget(&s.To, bySchema); {
		case target == nil:
			ps.add(svc.File, s.Line, "soft link %s: no service %q in %s/ (services: %s)", s, s.To.Service, SchemasDir, strings.Join(p.names(), ", "))
		case target == svc:
			ps.add(svc.File, s.Line, "soft link %s: a reference inside a service is an ordinary foreign key", s)
		case target.IsShared():
			ps.add(svc.File, s.Line, "soft link %s: service %s is shared and holds no tables to reference", s, target.Name)
		}
		from := s.FromSchema + "." + s.FromTable + "(" + strings.Join(s.FromColumns, ",") + ")"
		if first, dup := seenTo[from]; dup {
			ps.add(svc.File, s.Line, "soft link %s: the same columns already reference another table (line %d)", s, first)
		}
		seenTo[from] = s.Line
	}
	for _, u := range svc.Uses {
		switch target := p.Service(u); {
		case target == nil:
			ps.add(svc.File, svc.usesLines[u], "uses: no service %q in %s/ (services: %s)", u, SchemasDir, strings.Join(p.names(), ", "))
		case target == svc:
			ps.add(svc.File, svc.usesLines[u], "uses: a service does not use itself")
		case !target.IsShared():
			ps.add(svc.File, svc.usesLines[u], "uses: service %s is not shared; add kind: shared to %s, or declare a read or a link to its tables", u, target.File)
		}
	}
	return ps
}

// Service returns the service called name, or nil.
func (p *Project) Service(name string) *Service {
	i, ok := slices.BinarySearchFunc(p.Services, name, func(s *Service, n string) int { return strings.Compare(s.Name, n) })
	if !ok {
		return nil
	}
	return p.Services[i]
}

// ServiceBySchema returns the service that owns schema, or nil.
func (p *Project) ServiceBySchema(schema string) *Service {
	for _, s := range p.Services {
		if s.OwnsSchema(schema) {
			return s
		}
	}
	return nil
}

// OrderedServices returns the services in dependency order.
func (p *Project) OrderedServices() []*Service {
	out := make([]*Service, len(p.Order))
	for i, n := range p.Order {
		out[i] = p.Service(n)
	}
	return out
}

// Dependants lists, by name, the services that link to, read from or use
// the service called name.
func (p *Project) Dependants(name string) []string {
	var out []string
	for _, svc := range p.Services {
		if slices.Contains(svc.DependsOn(), name) {
			out = append(out, svc.Name)
		}
	}
	return out
}

// OwnerRole is the owner role of the service called name.
func (p *Project) OwnerRole(name string) string { return p.Settings.Naming.OwnerRole(name) }

// MigratorRole is the login role the migrations of the service called name
// run in, as its owner role.
func (p *Project) MigratorRole(name string) string { return p.Settings.Naming.MigratorRole(name) }

// AppRole is the application login role of the service called name.
func (p *Project) AppRole(name string) string { return p.Settings.Naming.AppRole(name) }

// Path resolves a path relative to the project folder.
func (p *Project) Path(rel ...string) string {
	return filepath.Join(append([]string{p.Dir}, rel...)...)
}

// SearchPath is the search_path of a service's sessions: its own schemas,
// the schemas of the shared services it uses, then the extensions' schema
// when the project declares extensions.
func (p *Project) SearchPath(svc *Service) []string {
	out := slices.Clone(svc.Schemas)
	for _, u := range svc.Uses {
		if s := p.Service(u); s != nil {
			out = append(out, s.Schemas...)
		}
	}
	if len(p.Settings.Extensions) > 0 {
		out = append(out, ExtensionsSchema)
	}
	return out
}

// Users lists the services that declare the shared service name in uses.
func (p *Project) Users(name string) []*Service {
	var out []*Service
	for _, svc := range p.Services {
		if slices.Contains(svc.Uses, name) {
			out = append(out, svc)
		}
	}
	return out
}

// AllSchemas lists every schema of every service, in service order.
func (p *Project) AllSchemas() []string {
	var out []string
	for _, s := range p.Services {
		out = append(out, s.Schemas...)
	}
	return out
}

func (p *Project) names() []string {
	out := make([]string, len(p.Services))
	for i, s := range p.Services {
		out[i] = s.Name
	}
	return out
}
