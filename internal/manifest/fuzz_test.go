package manifest

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseService feeds arbitrary bytes to the service parser. It must never
// panic, and whatever it accepts must hold only valid identifiers.
// The seed corpus holds bad inputs under testdata/fuzz/FuzzParseService.
func FuzzParseService(f *testing.F) {
	for _, s := range []string{
		"name: orders\nlinks:\n  - customers.customer(id)\n",
		"name: orders\nschema: sales\ndescription: x\nlinks: []\n",
		"name: [x]\n", "links: {a: b}\n", "name: orders\nlinks:\n  - &a x\n  - *a\n",
		"name: orders\n---\n", "\t", "name: orders\nlinks: [a.b(c,c)]\n", "name: !!binary aGk=\n",
		"name: orders\nkind: shared\nschemas: [orders, o2]\nuses: [lib]\n",
		"name: orders\nreads:\n  - a.b(c)\n  - {columns: a.b(d), app: true}\n",
		"name: orders\nsoft_links: ['o2.t(a, b) -> a.b(c, d)']\n", "name: orders\nreads: [{app: 1}]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		svc, err := ParseService("schemas/orders.yaml", "orders", data, DefaultSettings().Naming)
		if err != nil {
			if svc != nil {
				t.Fatal("service returned with an error")
			}
			return
		}
		if svc.Name != "orders" {
			t.Fatalf("accepted name %q for orders.yaml", svc.Name)
		}
		if err := CheckIdentifier("schema", svc.Schema, MaxIdentifierLen); err != nil {
			t.Fatalf("accepted bad schema: %v", err)
		}
		for _, l := range svc.Links {
			if _, err := ParseLink(l.String()); err != nil {
				t.Fatalf("accepted link does not round-trip: %v", err)
			}
		}
		for _, r := range svc.Reads {
			if _, err := ParseLink(r.String()); err != nil {
				t.Fatalf("accepted read does not round-trip: %v", err)
			}
		}
		for _, sl := range svc.SoftLinks {
			back, err := ParseSoftLink(sl.String())
			if err != nil || len(back.FromColumns) != len(back.To.Columns) {
				t.Fatalf("accepted soft link %s does not round-trip: %v", sl, err)
			}
		}
		if len(svc.Schemas) == 0 || svc.Schemas[0] != svc.Schema {
			t.Fatalf("schemas %v do not start with the primary %s", svc.Schemas, svc.Schema)
		}
		for _, s := range svc.Schemas {
			if err := CheckIdentifier("schema", s, MaxIdentifierLen); err != nil {
				t.Fatalf("accepted bad schema: %v", err)
			}
		}
		if svc.Kind != KindService && svc.Kind != KindShared {
			t.Fatalf("accepted kind %q", svc.Kind)
		}
	})
}

// FuzzParseSettings checks the settings parser never panics and never
// accepts an invalid database name or role naming.
func FuzzParseSettings(f *testing.F) {
	for _, s := range []string{
		"database: shop\nlock_timeout: 2s\n", "naming:\n  prefix: a_\n", "lock_timeout: -1s\n",
		"retention:\n  keep: 0\n", "database: 1\n", "naming: x\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSettings(SettingsFile, data)
		if err != nil {
			return
		}
		if err := CheckIdentifier("database", s.Database, MaxIdentifierLen); err != nil {
			t.Fatalf("accepted bad database: %v", err)
		}
		if err := CheckIdentifier("role", s.Naming.OwnerRole("x"), MaxIdentifierLen); err != nil {
			t.Fatalf("accepted naming that makes a bad role: %v", err)
		}
	})
}

// FuzzLoad runs the whole loader on a project whose orders.yaml is fuzzed.
func FuzzLoad(f *testing.F) {
	f.Add([]byte("name: orders\nlinks: [customers.customer(id)]\n"))
	f.Add([]byte("name: orders\nlinks: [orders.customer_order(id)]\n"))
	f.Add([]byte("name: orders\nlinks: [nobody.t(id)]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		must := func(err error) {
			if err != nil {
				t.Fatal(err)
			}
		}
		must(os.MkdirAll(filepath.Join(dir, SchemasDir), 0o755))
		must(os.WriteFile(filepath.Join(dir, SettingsFile), []byte("database: shop\n"), 0o644))
		must(os.WriteFile(filepath.Join(dir, SchemasDir, "customers.yaml"), []byte("name: customers\nlinks: [orders.customer_order(id)]\n"), 0o644))
		must(os.WriteFile(filepath.Join(dir, SchemasDir, "orders.yaml"), data, 0o644))
		p, err := Load(dir)
		if err != nil {
			return
		}
		if len(p.Order) != len(p.Services) {
			t.Fatalf("order %v misses services", p.Order)
		}
	})
}
