package backup

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/splitschema/splitschema/internal/archive"
	"github.com/splitschema/splitschema/internal/manifest"
)

// A restore of some services into a new database (restore ID --service S
// --target-db X) loads only the archive entries of their schemas: the
// schemas themselves, everything in them, their grants and comments, and
// the project's extensions and the shared services they use, which their
// columns may need. A foreign key to a table of a service left out cannot
// be created; it is left out too, and the result says so.

// subset is the part of a backup that a restore of some services loads.
type subset struct {
	// services are the services restored: those asked for and the shared
	// services they use.
	services []string
	// schemas are their schemas, and the extensions' schema.
	schemas []string
	// notRestored are the foreign keys and soft links between a restored
	// table and one left out, as schema.table(cols) -> schema.table(cols).
	notRestored []string
}

// planSubset works out the subset of backup m that restoring services of
// project p needs. Every service must be in both the project and m.
func planSubset(p *manifest.Project, m *archive.Manifest, services []string) (*subset, error) {
	s := &subset{}
	var add func(name string, via string) error
	add = func(name, via string) error {
		if slices.Contains(s.services, name) {
			return nil
		}
		svc := p.Service(name)
		if svc == nil {
			return fmt.Errorf("no service %s in the project%s", name, via)
		}
		if !slices.ContainsFunc(m.Services, func(b archive.Service) bool { return b.Name == name }) {
			return fmt.Errorf("backup %s holds no service %s%s: it was taken before the service existed", m.ID, name, via)
		}
		s.services = append(s.services, name)
		s.schemas = append(s.schemas, svc.Schemas...)
		for _, u := range svc.Uses {
			if err := add(u, " (shared service used by "+name+")"); err != nil {
				return err
			}
		}
		return nil
	}
	for _, name := range services {
		if err := add(name, ""); err != nil {
			return nil, err
		}
	}
	// A declared read is a view of the service reading another's table:
	// without that table the view cannot be created.
	for _, name := range s.services {
		for _, r := range p.Service(name).Reads {
			if !slices.Contains(s.services, r.Service) {
				return nil, fmt.Errorf("service %s reads %s.%s of service %s (its views need that table): restore them together, --service %s,%s",
					name, r.Schema, r.Table, r.Service, strings.Join(services, ","), r.Service)
			}
		}
	}
	if len(p.Settings.Extensions) > 0 {
		s.schemas = append(s.schemas, manifest.ExtensionsSchema)
	}
	for _, fk := range m.ForeignKeys {
		if s.has(fk.From.Schema) != s.has(fk.To.Schema) {
			s.notRestored = append(s.notRestored, fmt.Sprintf("foreign key %s %s -> %s", fk.Name, fk.From, fk.To))
		}
	}
	for _, l := range m.SoftLinks {
		if s.has(l.From.Schema) != s.has(l.To.Schema) {
			s.notRestored = append(s.notRestored, fmt.Sprintf("soft link %s -> %s (of service %s)", l.From, l.To, l.Service))
		}
	}
	sort.Strings(s.notRestored)
	return s, nil
}

func (s *subset) has(schema string) bool { return slices.Contains(s.schemas, schema) }

// manifest narrows m to the subset: its services, tables, foreign keys and
// links, so that verify compares what was restored and nothing else.
func (s *subset) manifest(m *archive.Manifest) *archive.Manifest {
	n := *m
	n.Services = nil
	for _, svc := range m.Services {
		if slices.Contains(s.services, svc.Name) {
			n.Services = append(n.Services, svc)
		}
	}
	n.OtherTables = nil
	for _, t := range m.OtherTables {
		if s.has(t.Schema) {
			n.OtherTables = append(n.OtherTables, t)
		}
	}
	n.ForeignKeys = nil
	for _, fk := range m.ForeignKeys {
		if s.has(fk.From.Schema) && s.has(fk.To.Schema) {
			n.ForeignKeys = append(n.ForeignKeys, fk)
		}
	}
	n.Links = nil
	for _, l := range m.Links {
		if slices.Contains(s.services, l.From) && slices.Contains(s.services, l.Service) {
			n.Links = append(n.Links, l)
		}
	}
	n.SoftLinks = nil
	for _, l := range m.SoftLinks {
		if s.has(l.From.Schema) && s.has(l.To.Schema) {
			n.SoftLinks = append(n.SoftLinks, l)
		}
	}
	return &n
}

// list returns the `pg_restore --use-list` file that loads the subset
// from an archive whose table of contents is toc; m gives each foreign
// key's referenced schema.
func (s *subset) list(toc string, m *archive.Manifest) string {
	refs := map[string]string{} // "schema table constraint" -> referenced schema
	for _, fk := range m.ForeignKeys {
		refs[fk.From.Schema+" "+fk.From.Table+" "+fk.Name] = fk.To.Schema
	}
	var b strings.Builder
	for _, e := range ParseTOC(toc) {
		if s.wants(e, refs) {
			b.WriteString(e.Line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// wants tells whether entry e belongs to the subset.
func (s *subset) wants(e TOCEntry, refs map[string]string) bool {
	tag := e.Tag()
	if e.Namespace == "-" {
		for _, schema := range s.schemas {
			switch {
			case e.Desc == "SCHEMA" && tag == schema:
				return true
			case (e.Desc == "ACL" || e.Desc == "COMMENT" || e.Desc == "SECURITY LABEL") && tag == "SCHEMA "+schema:
				return true
			}
		}
		if e.Desc == "EXTENSION" || (e.Desc == "COMMENT" && strings.HasPrefix(tag, "EXTENSION ")) {
			return s.has(manifest.ExtensionsSchema)
		}
		return false
	}
	if !s.has(e.Namespace) {
		return false
	}
	if e.Desc == "FK CONSTRAINT" {
		// The tag is "table constraint".
		if to, ok := refs[e.Namespace+" "+tag]; ok {
			return s.has(to)
		}
	}
	return true
}
