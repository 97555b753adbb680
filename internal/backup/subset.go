package backup

import (
	"bufio"
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

// tocEntry is one entry of `pg_restore --list`:
// "dumpId; tableoid oid DESC NAMESPACE TAG OWNER", where DESC may hold
// spaces and NAMESPACE is "-" for an object outside any schema.
type tocEntry struct {
	line      string
	desc      string
	namespace string
	// rest is the tag and the owner.
	rest string
}

// tocDescs are the entry kinds pg_dump writes, longest first where one
// starts another.
var tocDescs = []string{
	"MATERIALIZED VIEW DATA", "MATERIALIZED VIEW", "TABLE DATA", "TABLE ATTACH", "TABLE",
	"SEQUENCE OWNED BY", "SEQUENCE SET", "SEQUENCE", "FK CONSTRAINT", "CHECK CONSTRAINT", "CONSTRAINT",
	"DEFAULT ACL", "DEFAULT", "INDEX ATTACH", "INDEX", "EVENT TRIGGER", "TRIGGER",
	"TEXT SEARCH CONFIGURATION", "TEXT SEARCH DICTIONARY", "TEXT SEARCH PARSER", "TEXT SEARCH TEMPLATE",
	"FOREIGN DATA WRAPPER", "FOREIGN SERVER", "FOREIGN TABLE", "USER MAPPING",
	"OPERATOR CLASS", "OPERATOR FAMILY", "OPERATOR", "ACCESS METHOD", "LARGE OBJECT", "BLOBS", "BLOB",
	"PUBLICATION TABLES IN SCHEMA", "PUBLICATION TABLE", "PUBLICATION", "SUBSCRIPTION TABLE", "SUBSCRIPTION",
	"PROCEDURAL LANGUAGE", "ROW SECURITY", "STATISTICS DATA", "STATISTICS", "SECURITY LABEL",
	"DATABASE PROPERTIES", "DATABASE", "ENCODING", "STDSTRINGS", "SEARCHPATH",
	"SCHEMA", "EXTENSION", "COMMENT", "ACL", "TYPE", "DOMAIN", "FUNCTION", "PROCEDURE", "AGGREGATE",
	"COLLATION", "CONVERSION", "CAST", "TRANSFORM", "POLICY", "RULE", "VIEW", "SERVER", "SHELL TYPE",
}

// parseTOCLine parses one entry line; ok is false for comments, blank
// lines and kinds it does not know.
func parseTOCLine(line string) (e tocEntry, ok bool) {
	if strings.HasPrefix(line, ";") || strings.TrimSpace(line) == "" {
		return e, false
	}
	_, rest, found := strings.Cut(line, "; ")
	if !found {
		return e, false
	}
	// Skip the two numbers: the catalog's table oid and the object's oid.
	f := strings.SplitN(rest, " ", 3)
	if len(f) < 3 {
		return e, false
	}
	rest = f[2]
	for _, d := range tocDescs {
		if after, found := strings.CutPrefix(rest, d+" "); found {
			ns, tail, _ := strings.Cut(after, " ")
			return tocEntry{line: line, desc: d, namespace: ns, rest: tail}, true
		}
	}
	return e, false
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
	sc := bufio.NewScanner(strings.NewReader(toc))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		e, ok := parseTOCLine(sc.Text())
		if !ok || !s.wants(e, refs) {
			continue
		}
		b.WriteString(e.line)
		b.WriteByte('\n')
	}
	return b.String()
}

// wants tells whether entry e belongs to the subset.
func (s *subset) wants(e tocEntry, refs map[string]string) bool {
	if e.namespace == "-" {
		for _, schema := range s.schemas {
			switch {
			case e.desc == "SCHEMA" && strings.HasPrefix(e.rest, schema+" "):
				return true
			case (e.desc == "ACL" || e.desc == "COMMENT" || e.desc == "SECURITY LABEL") && strings.HasPrefix(e.rest, "SCHEMA "+schema+" "):
				return true
			}
		}
		if e.desc == "EXTENSION" || (e.desc == "COMMENT" && strings.HasPrefix(e.rest, "EXTENSION ")) {
			return s.has(manifest.ExtensionsSchema)
		}
		return false
	}
	if !s.has(e.namespace) {
		return false
	}
	if e.desc == "FK CONSTRAINT" {
		// The tag is "table constraint".
		for key, to := range refs {
			if strings.HasPrefix(e.namespace+" "+e.rest, key+" ") {
				return s.has(to)
			}
		}
	}
	return true
}
