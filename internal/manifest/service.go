package manifest

import (
	"fmt"
	"slices"

	"go.yaml.in/yaml/v3"
)

// Kind says what a service is.
type Kind string

const (
	// KindService is an ordinary service: tables, its own data.
	KindService Kind = "service"
	// KindShared is a library of types, domains and functions that the
	// services declaring it in `uses:` may use (USAGE, EXECUTE), nothing else.
	KindShared Kind = "shared"
)

// Service is one microservice: its schemas and the relations it declares.
type Service struct {
	// Name is the service's name, equal to its file name without .yaml.
	Name string `json:"name"`
	// Kind is KindService unless the file says `kind: shared`.
	Kind Kind `json:"kind"`
	// Schema is the service's primary schema (default: Name): its version
	// table lives there and it comes first on its search_path.
	Schema string `json:"schema"`
	// Schemas are all the schemas the service owns, Schema first.
	Schemas []string `json:"schemas"`
	// Description says what the service does; it is free text.
	Description string `json:"description,omitempty"`
	// Uses are the shared services whose types and functions it uses.
	Uses []string `json:"uses,omitempty"`
	// Links are the columns of other services this service references.
	Links []Link `json:"links"`
	// Reads are the columns of other services this service may SELECT.
	Reads []Read `json:"reads,omitempty"`
	// SoftLinks are references that no foreign key enforces.
	SoftLinks []SoftLink `json:"soft_links,omitempty"`
	// File is the service's file, relative to the project folder.
	File string `json:"file"`

	usesLines map[string]int
}

type serviceDoc struct {
	Name        *lineString  `yaml:"name"`
	Kind        *lineString  `yaml:"kind"`
	Schema      *lineString  `yaml:"schema"`
	Schemas     []lineString `yaml:"schemas"`
	Description *string      `yaml:"description"`
	Uses        []lineString `yaml:"uses"`
	Links       []lineString `yaml:"links"`
	Reads       []readEntry  `yaml:"reads"`
	SoftLinks   []lineString `yaml:"soft_links"`
}

const serviceKeys = "name, kind, schema, schemas, description, uses, links, reads, soft_links"

// readEntry is one item of reads: a string, or a mapping
// {columns: service.table(col, ...), app: true}.
type readEntry struct {
	Value string
	App   bool
	Line  int
}

func (r *readEntry) UnmarshalYAML(n *yaml.Node) error {
	r.Line = n.Line
	switch n.Kind {
	case yaml.ScalarNode:
		var s lineString
		if err := s.UnmarshalYAML(n); err != nil {
			return err
		}
		r.Value = s.Value
		return nil
	case yaml.MappingNode:
		var hasColumns bool
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			switch k.Value {
			case "columns":
				var s lineString
				if err := s.UnmarshalYAML(v); err != nil {
					return err
				}
				r.Value, hasColumns = s.Value, true
			case "app":
				if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" {
					return fmt.Errorf("line %d: app wants true or false, got %s", v.Line, describeNode(v))
				}
				if err := v.Decode(&r.App); err != nil {
					return fmt.Errorf("line %d: app: %w", v.Line, err)
				}
			default:
				return fmt.Errorf("line %d: unknown key %q in a read (allowed: columns, app)", k.Line, k.Value)
			}
		}
		if !hasColumns {
			return fmt.Errorf("line %d: a read written as a mapping needs columns: service.table(column, ...)", n.Line)
		}
		return nil
	}
	return fmt.Errorf("line %d: a read is service.table(column, ...) or {columns: ..., app: true}, got %s", n.Line, describeNode(n))
}

// ParseService reads one service file. file is the file's path relative to
// the project (it names the file in errors); the service name must equal
// the file's base name without .yaml. naming bounds the name's length so
// that its role names fit PostgreSQL's 63 bytes. Links, reads and soft links
// are parsed but not resolved: Load checks that their targets exist.
func ParseService(file, wantName string, data []byte, naming Naming) (*Service, error) {
	var doc serviceDoc
	ps := decodeStrict(file, data, &doc, serviceKeys)
	if len(ps) > 0 {
		return nil, ps.err()
	}
	svc := &Service{File: file, Kind: KindService, usesLines: map[string]int{}}
	nameLine := 0
	if doc.Name == nil {
		ps.add(file, 0, "name is missing; it must be %q, the file's name", wantName)
	} else {
		svc.Name, nameLine = doc.Name.Value, doc.Name.Line
		if err := CheckIdentifier("service name", svc.Name, naming.maxServiceNameLen()); err != nil {
			ps.add(file, nameLine, "%v (the role names %s, %s and %s must fit in %d bytes)", err,
				naming.OwnerRole("<name>"), naming.AppRole("<name>"), naming.MigratorRole("<name>"), MaxIdentifierLen)
		} else if svc.Name != wantName {
			ps.add(file, nameLine, "name %q differs from the file name; rename the file to %s.yaml or set name: %s", svc.Name, svc.Name, wantName)
		}
	}
	if doc.Kind != nil {
		switch k := Kind(doc.Kind.Value); k {
		case KindService, KindShared:
			svc.Kind = k
		default:
			ps.add(file, doc.Kind.Line, "kind %q: want service (the default) or shared (a library of types and functions)", doc.Kind.Value)
		}
	}
	ps = append(ps, svc.parseSchemas(file, doc)...)
	if doc.Description != nil {
		svc.Description = *doc.Description
	}
	for _, u := range doc.Uses {
		if err := CheckIdentifier("service", u.Value, MaxIdentifierLen); err != nil {
			ps.add(file, u.Line, "uses: %v", err)
			continue
		}
		if first, dup := svc.usesLines[u.Value]; dup {
			ps.add(file, u.Line, "uses: %s is listed twice (first on line %d)", u.Value, first)
			continue
		}
		svc.usesLines[u.Value] = u.Line
		svc.Uses = append(svc.Uses, u.Value)
	}
	ps = append(ps, svc.parseRelations(file, doc)...)
	if err := ps.err(); err != nil {
		return nil, err
	}
	return svc, nil
}

func (svc *Service) parseSchemas(file string, doc serviceDoc) problems {
	var ps problems
	switch {
	case doc.Schema != nil && doc.Schemas != nil:
		ps.add(file, doc.Schema.Line, "schema and schemas are both set; keep schemas: [primary, ...] only")
		return ps
	case doc.Schema != nil:
		svc.Schemas = []string{doc.Schema.Value}
		if err := CheckIdentifier("schema", doc.Schema.Value, MaxIdentifierLen); err != nil {
			ps.add(file, doc.Schema.Line, "%v", err)
		}
	case doc.Schemas != nil:
		if len(doc.Schemas) == 0 {
			ps.add(file, 0, "schemas is empty; list the service's schemas, the primary first")
		}
		for _, s := range doc.Schemas {
			if err := CheckIdentifier("schema", s.Value, MaxIdentifierLen); err != nil {
				ps.add(file, s.Line, "%v", err)
				continue
			}
			if slices.Contains(svc.Schemas, s.Value) {
				ps.add(file, s.Line, "schema %s is listed twice", s.Value)
				continue
			}
			svc.Schemas = append(svc.Schemas, s.Value)
		}
	default:
		svc.Schemas = []string{svc.Name}
	}
	if len(svc.Schemas) > 0 {
		svc.Schema = svc.Schemas[0]
	}
	return ps
}

func (svc *Service) parseRelations(file string, doc serviceDoc) problems {
	var ps problems
	seen := map[string]int{}
	for _, raw := range doc.Links {
		l, err := ParseLink(raw.Value)
		if err != nil {
			ps.add(file, raw.Line, "%v", err)
			continue
		}
		l.Line = raw.Line
		key := l.String()
		if first, dup := seen[key]; dup {
			ps.add(file, raw.Line, "link %s is declared twice (first on line %d)", key, first)
			continue
		}
		seen[key] = raw.Line
		svc.Links = append(svc.Links, l)
	}
	seenRead := map[string]int{}
	for _, raw := range doc.Reads {
		l, err := ParseLink(raw.Value)
		if err != nil {
			ps.add(file, raw.Line, "read: %v", err)
			continue
		}
		l.Line = raw.Line
		key := l.Ref + l.Service + "." + l.Table
		if first, dup := seenRead[key]; dup {
			ps.add(file, raw.Line, "read of %s.%s is declared twice (first on line %d); list every column in one read", l.Service, l.Table, first)
			continue
		}
		seenRead[key] = raw.Line
		svc.Reads = append(svc.Reads, Read{Link: l, App: raw.App})
	}
	seenSoft := map[string]int{}
	for _, raw := range doc.SoftLinks {
		s, err := ParseSoftLink(raw.Value)
		if err != nil {
			ps.add(file, raw.Line, "%v", err)
			continue
		}
		s.Line = raw.Line
		if !s.fromWritten {
			s.FromSchema = svc.Schema
		}
		key := s.String()
		if first, dup := seenSoft[key]; dup {
			ps.add(file, raw.Line, "soft link %s is declared twice (first on line %d)", key, first)
			continue
		}
		seenSoft[key] = raw.Line
		svc.SoftLinks = append(svc.SoftLinks, s)
	}
	return ps
}

// DependsOn lists the services svc must come after, each once: those it
// links to, reads from and uses. Soft links are no dependency.
func (svc *Service) DependsOn() []string {
	var deps []string
	seen := map[string]bool{}
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			deps = append(deps, s)
		}
	}
	for _, l := range svc.Links {
		add(l.Service)
	}
	for _, r := range svc.Reads {
		add(r.Service)
	}
	for _, u := range svc.Uses {
		add(u)
	}
	return deps
}

// OwnsSchema reports whether schema is one of the service's schemas.
func (svc *Service) OwnsSchema(schema string) bool { return slices.Contains(svc.Schemas, schema) }

// IsShared reports whether the service is a shared library of types and functions.
func (svc *Service) IsShared() bool { return svc.Kind == KindShared }
