package manifest

// Service is one microservice: its schema and the links it declares.
type Service struct {
	// Name is the service's name, equal to its file name without .yaml.
	Name string `json:"name"`
	// Schema is the PostgreSQL schema the service owns (default: Name).
	Schema string `json:"schema"`
	// Description says what the service does; it is free text.
	Description string `json:"description,omitempty"`
	// Links are the columns of other services this service references.
	Links []Link `json:"links"`
	// File is the service's file, relative to the project folder.
	File string `json:"file"`
}

type serviceDoc struct {
	Name        *lineString  `yaml:"name"`
	Schema      *lineString  `yaml:"schema"`
	Description *string      `yaml:"description"`
	Links       []lineString `yaml:"links"`
}

const serviceKeys = "name, schema, description, links"

// ParseService reads one service file. file is the file's path relative to
// the project (it names the file in errors); the service name must equal
// the file's base name without .yaml. naming bounds the name's length so
// that its role names fit PostgreSQL's 63 bytes. Links are parsed but not
// resolved: Load checks that their targets exist.
func ParseService(file, wantName string, data []byte, naming Naming) (*Service, error) {
	var doc serviceDoc
	ps := decodeStrict(file, data, &doc, serviceKeys)
	if len(ps) > 0 {
		return nil, ps.err()
	}
	svc := &Service{File: file}
	nameLine := 0
	if doc.Name == nil {
		ps.add(file, 0, "name is missing; it must be %q, the file's name", wantName)
	} else {
		svc.Name, nameLine = doc.Name.Value, doc.Name.Line
		if err := CheckIdentifier("service name", svc.Name, naming.maxServiceNameLen()); err != nil {
			ps.add(file, nameLine, "%v (the role names %s and %s must fit in %d bytes)", err,
				naming.OwnerRole("<name>"), naming.AppRole("<name>"), MaxIdentifierLen)
		} else if svc.Name != wantName {
			ps.add(file, nameLine, "name %q differs from the file name; rename the file to %s.yaml or set name: %s", svc.Name, svc.Name, wantName)
		}
	}
	svc.Schema = svc.Name
	if doc.Schema != nil {
		svc.Schema = doc.Schema.Value
		if err := CheckIdentifier("schema", svc.Schema, MaxIdentifierLen); err != nil {
			ps.add(file, doc.Schema.Line, "%v", err)
		}
	}
	if doc.Description != nil {
		svc.Description = *doc.Description
	}
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
	if err := ps.err(); err != nil {
		return nil, err
	}
	return svc, nil
}

// DependsOn lists the services svc links to, each once, in link order.
func (svc *Service) DependsOn() []string {
	var deps []string
	seen := map[string]bool{}
	for _, l := range svc.Links {
		if !seen[l.Service] {
			seen[l.Service] = true
			deps = append(deps, l.Service)
		}
	}
	return deps
}
