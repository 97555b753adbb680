package manifest

import (
	"slices"
	"strings"
	"testing"
)

// realProject has every kind of declaration: extensions, a shared library
// used by two services, reads, a soft link closing a cycle, two schemas.
func realProject() map[string]string {
	return map[string]string{
		"splitschema.yaml":    "database: real\nextensions: [uuid-ossp, pg_trgm]\n",
		"schemas/common.yaml": "name: common\nkind: shared\n",
		"schemas/person.yaml": "name: person\nschemas: [person, pe]\nuses: [common]\n" +
			"soft_links:\n  - person(favourite_order) -> sales.sales_order(id)\n",
		"schemas/sales.yaml": "name: sales\nuses: [common]\nlinks:\n  - person.person(id)\n" +
			"reads:\n  - pe.contact(id, email)\n  - {columns: 'person.person(id, name)', app: true}\n",
	}
}

func TestRelations(t *testing.T) {
	p, err := Load(writeProject(t, realProject()))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.Order, []string{"common", "person", "sales"}; !slices.Equal(got, want) {
		t.Errorf("order = %v, want %v", got, want)
	}
	if got := p.Settings.Extensions; !slices.Equal(got, []string{"uuid-ossp", "pg_trgm"}) {
		t.Errorf("extensions = %v", got)
	}
	person, sales := p.Service("person"), p.Service("sales")
	if person.Schema != "person" || !slices.Equal(person.Schemas, []string{"person", "pe"}) {
		t.Errorf("person schemas = %s %v", person.Schema, person.Schemas)
	}
	if p.ServiceBySchema("pe") != person {
		t.Error("schema pe is not person's")
	}
	if !p.Service("common").IsShared() || sales.IsShared() {
		t.Error("kind not read")
	}
	if got, want := p.SearchPath(sales), []string{"sales", "common", ExtensionsSchema}; !slices.Equal(got, want) {
		t.Errorf("search_path = %v, want %v", got, want)
	}
	r := sales.Reads[0]
	if r.Service != "person" || r.Schema != "pe" || r.Table != "contact" || r.App || r.String() != "pe.contact(id, email)" {
		t.Errorf("read 0 = %+v (%s)", r, r.String())
	}
	if r := sales.Reads[1]; !r.App || r.Schema != "person" || !slices.Equal(r.Columns, []string{"id", "name"}) {
		t.Errorf("read 1 = %+v", r)
	}
	s := person.SoftLinks[0]
	if s.FromSchema != "person" || s.FromTable != "person" || s.To.Service != "sales" || s.To.Schema != "sales" {
		t.Errorf("soft link = %+v", s)
	}
	if got := p.Dependants("person"); !slices.Equal(got, []string{"sales"}) {
		t.Errorf("dependants of person = %v (a soft link is no dependency)", got)
	}
	if got := p.Users("common"); len(got) != 2 {
		t.Errorf("users of common = %d, want 2", len(got))
	}
	m := p.Mermaid()
	for _, want := range []string{`person -.->|"soft: sales_order(id)"| sales`, `sales -.-o|"reads pe.contact(id, email)"| person`, `sales -->|"person(id)"| person`, `common[(common)]`} {
		if !strings.Contains(m, want) {
			t.Errorf("mermaid lacks %s:\n%s", want, m)
		}
	}
	if d := p.Dot(); !strings.Contains(d, `"person" -> "sales" [label="soft: sales_order(id)", style=dashed]`) {
		t.Errorf("dot does not draw the soft link dashed:\n%s", d)
	}
	if c := p.WouldCycle("person", "sales"); !slices.Equal(c, []string{"person", "sales"}) {
		t.Errorf("WouldCycle(person, sales) = %v", c)
	}
	if c := p.WouldCycle("sales", "common"); c != nil {
		t.Errorf("WouldCycle(sales, common) = %v, want none", c)
	}
}

// TestShortestCycleSuggestsSoftLink: of two cycles the message names the
// shorter, says which declaration makes each step, and suggests a soft link.
func TestShortestCycleSuggestsSoftLink(t *testing.T) {
	files := map[string]string{
		"splitschema.yaml": "database: x\n",
		"schemas/a.yaml":   "name: a\nlinks: [b.t(id)]\n",
		"schemas/b.yaml":   "name: b\nlinks: [c.t(id)]\n",
		"schemas/c.yaml":   "name: c\nlinks: [a.t(id)]\nreads: [b.t(id)]\n",
	}
	_, err := Load(writeProject(t, files))
	if err == nil {
		t.Fatal("a cycle was accepted")
	}
	for _, want := range []string{"b -> c -> b", "b links to c.t(id)", "c reads b.t(id)", "soft_links", "schemas/b.yaml"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestBadRelations(t *testing.T) {
	cases := []struct {
		name  string
		edit  map[string]string
		wants []string
	}{
		{"bad kind", map[string]string{"schemas/common.yaml": "name: common\nkind: library\n"},
			[]string{"schemas/common.yaml:2", `kind "library"`}},
		{"uses unknown", map[string]string{"schemas/sales.yaml": "name: sales\nuses: [lib]\n"},
			[]string{"schemas/sales.yaml:2", `no service "lib"`}},
		{"uses not shared", map[string]string{"schemas/sales.yaml": "name: sales\nuses: [person]\n"},
			[]string{"schemas/sales.yaml:2", "not shared"}},
		{"uses twice", map[string]string{"schemas/sales.yaml": "name: sales\nuses: [common, common]\n"},
			[]string{"schemas/sales.yaml:2", "twice"}},
		{"link to shared", map[string]string{"schemas/sales.yaml": "name: sales\nlinks: [common.t(id)]\n"},
			[]string{"schemas/sales.yaml:2", "shared"}},
		{"read unknown", map[string]string{"schemas/sales.yaml": "name: sales\nreads: [nobody.t(id)]\n"},
			[]string{"schemas/sales.yaml:2", `no service "nobody"`}},
		{"read self", map[string]string{"schemas/sales.yaml": "name: sales\nreads: [sales.t(id)]\n"},
			[]string{"schemas/sales.yaml:2", "own tables"}},
		{"read bad key", map[string]string{"schemas/sales.yaml": "name: sales\nreads:\n  - {columns: person.person(id), writes: true}\n"},
			[]string{"schemas/sales.yaml:3", `unknown key "writes"`}},
		{"read app not bool", map[string]string{"schemas/sales.yaml": "name: sales\nreads:\n  - {columns: person.person(id), app: yes please}\n"},
			[]string{"schemas/sales.yaml:3", "true or false"}},
		{"read no columns", map[string]string{"schemas/sales.yaml": "name: sales\nreads:\n  - {app: true}\n"},
			[]string{"schemas/sales.yaml:3", "needs columns"}},
		{"read twice", map[string]string{"schemas/sales.yaml": "name: sales\nreads: [person.person(id), person.person(name)]\n"},
			[]string{"schemas/sales.yaml:2", "twice"}},
		{"soft link syntax", map[string]string{"schemas/sales.yaml": "name: sales\nsoft_links: [person.person(id)]\n"},
			[]string{"schemas/sales.yaml:2", "want table(column, ...) -> service.table"}},
		{"soft link arity", map[string]string{"schemas/sales.yaml": "name: sales\nsoft_links: ['t(a, b) -> person.person(id)']\n"},
			[]string{"schemas/sales.yaml:2", "2 referencing columns for 1"}},
		{"soft link foreign schema", map[string]string{"schemas/sales.yaml": "name: sales\nsoft_links: ['pe.t(a) -> person.person(id)']\n"},
			[]string{"schemas/sales.yaml:2", "not one of the service's schemas"}},
		{"soft link to self", map[string]string{"schemas/sales.yaml": "name: sales\nsoft_links: ['t(a) -> sales.u(id)']\n"},
			[]string{"schemas/sales.yaml:2", "ordinary foreign key"}},
		{"schema and schemas", map[string]string{"schemas/sales.yaml": "name: sales\nschema: s\nschemas: [s, t]\n"},
			[]string{"schemas/sales.yaml:2", "both set"}},
		{"schemas empty", map[string]string{"schemas/sales.yaml": "name: sales\nschemas: []\n"},
			[]string{"schemas/sales.yaml", "empty"}},
		{"schemas reserved", map[string]string{"schemas/sales.yaml": "name: sales\nschemas: [sales, pg_x]\n"},
			[]string{"schemas/sales.yaml:2", "reserved"}},
		{"schema of another", map[string]string{"schemas/sales.yaml": "name: sales\nschemas: [sales, pe]\n"},
			[]string{`schema "pe" is already the schema of service person`}},
		{"schema named like a service", map[string]string{"schemas/sales.yaml": "name: sales\nschemas: [sales, common]\n"},
			[]string{"schema \"common\" is already the schema of service common"}},
		{"extensions schema", map[string]string{"schemas/sales.yaml": "name: sales\nschemas: [sales, extensions]\n"},
			[]string{"schemas/sales.yaml", "holds the project's extensions"}},
		{"bad extension", map[string]string{"splitschema.yaml": "database: real\nextensions: [\"pg trgm; drop\"]\n"},
			[]string{"splitschema.yaml:2", "not an extension name"}},
		{"extension twice", map[string]string{"splitschema.yaml": "database: real\nextensions: [pg_trgm, pg_trgm]\n"},
			[]string{"splitschema.yaml:2", "twice"}},
		{"cycle through uses", map[string]string{"schemas/common.yaml": "name: common\nkind: shared\nreads: [sales.t(id)]\n"},
			[]string{"cycle", "common -> sales -> common", "sales uses common"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := realProject()
			for k, v := range tc.edit {
				files[k] = v
			}
			_, err := Load(writeProject(t, files))
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, want := range tc.wants {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

func TestParseSoftLink(t *testing.T) {
	s, err := ParseSoftLink(" pe.contact( a , b ) -> sales.t(x, y) ")
	if err != nil {
		t.Fatal(err)
	}
	if s.FromSchema != "pe" || s.FromTable != "contact" || !slices.Equal(s.FromColumns, []string{"a", "b"}) || s.To.String() != "sales.t(x, y)" {
		t.Errorf("soft link = %+v", s)
	}
	if got := s.String(); got != "pe.contact(a, b) -> sales.t(x, y)" {
		t.Errorf("String() = %s", got)
	}
	for _, bad := range []string{"", "t(a)", "t(a) -> ", "t(a) - > s.t(b)", "a.b.t(a) -> s.t(b)", "t(a,a) -> s.t(b,c)", "T(a) -> s.t(b)", "t(a) -> t(b)"} {
		if _, err := ParseSoftLink(bad); err == nil {
			t.Errorf("ParseSoftLink(%q) succeeded", bad)
		}
	}
}
