package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeProject lays out a project in a temp folder: files maps a path
// relative to the project to its content.
func writeProject(tb testing.TB, files map[string]string) string {
	tb.Helper()
	dir := tb.TempDir()
	for rel, content := range files {
		path := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

func shop() map[string]string {
	return map[string]string{
		"splitschema.yaml":       "database: shop\n",
		"schemas/customers.yaml": "name: customers\n",
		"schemas/catalog.yaml":   "name: catalog\ndescription: products\n",
		"schemas/orders.yaml":    "name: orders\nlinks:\n  - customers.customer(id)\n  - catalog.product(id)\n",
		"schemas/payments.yaml":  "name: payments\nlinks:\n  - orders.customer_order(id)\n",
		"schemas/shipping.yaml":  "name: shipping\nlinks:\n  - orders.customer_order(id)\n  - customers.customer(id)\n",
	}
}

func TestLoadShop(t *testing.T) {
	p, err := Load(writeProject(t, shop()))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"catalog", "customers", "orders", "payments", "shipping"}
	if !slices.Equal(p.Order, want) {
		t.Errorf("order = %v, want %v", p.Order, want)
	}
	if got := p.Settings.Database; got != "shop" {
		t.Errorf("database = %q, want shop", got)
	}
	if got := p.Settings.LockTimeout; got != 5*time.Second {
		t.Errorf("lock_timeout = %s, want the default 5s", got)
	}
	orders := p.Service("orders")
	if orders == nil || orders.Schema != "orders" || len(orders.Links) != 2 {
		t.Fatalf("orders = %+v", orders)
	}
	if got := orders.Links[0].String(); got != "customers.customer(id)" {
		t.Errorf("link = %s", got)
	}
	if got := orders.Links[0].Line; got != 3 {
		t.Errorf("link line = %d, want 3", got)
	}
	if got := p.OwnerRole("orders"); got != "orders_owner" {
		t.Errorf("owner role = %s", got)
	}
	if got := p.Dependants("orders"); !slices.Equal(got, []string{"payments", "shipping"}) {
		t.Errorf("dependants = %v", got)
	}
}

func TestOrderIsDependencyOrder(t *testing.T) {
	files := shop()
	files["schemas/aaa.yaml"] = "name: aaa\nlinks: [shipping.shipment(id)]\n"
	p, err := Load(writeProject(t, files))
	if err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	for i, n := range p.Order {
		pos[n] = i
	}
	for _, e := range p.Edges() {
		if pos[e.From] <= pos[e.To] {
			t.Errorf("%s comes before %s, which it links to: %v", e.From, e.To, p.Order)
		}
	}
}

func TestSettings(t *testing.T) {
	files := shop()
	files["splitschema.yaml"] = "database: shop\nbackups: /var/backups/shop\nlock_timeout: 750ms\nstatement_timeout: 10m\nidle_in_transaction_session_timeout: 30s\ntoolkit_lock_wait: 45s\nnaming:\n  prefix: acme_\nretention:\n  keep: 3\n  window: 7d\npitr:\n  repo: /srv/pitr\n  archive_timeout: 15s\n"
	p, err := Load(writeProject(t, files))
	if err != nil {
		t.Fatal(err)
	}
	if p.Settings.Window != 7*24*time.Hour || p.Settings.PITR.Repo != "/srv/pitr" || p.Settings.PITR.ArchiveTimeout != 15*time.Second {
		t.Errorf("retention window and pitr settings = %+v", p.Settings)
	}
	if got := p.AppRole("orders"); got != "acme_orders_app" {
		t.Errorf("app role = %s", got)
	}
	if p.Settings.ToolkitLockWait != 45*time.Second {
		t.Errorf("toolkit_lock_wait = %s", p.Settings.ToolkitLockWait)
	}
	if p.Settings.StatementTimeout != 10*time.Minute || p.Settings.IdleInTransactionTimeout != 30*time.Second {
		t.Errorf("timeouts = %s, %s", p.Settings.StatementTimeout, p.Settings.IdleInTransactionTimeout)
	}
	if p.Settings.LockTimeout != 750*time.Millisecond || p.Settings.Keep != 3 || p.Settings.Backups != "/var/backups/shop" {
		t.Errorf("settings = %+v", p.Settings)
	}
}

// TestBadProjects checks that each mistake is refused with a message that
// names the file, the line where known, and the offending name.
func TestBadProjects(t *testing.T) {
	const gone = "\x00gone"
	long := strings.Repeat("a", 58)
	cases := []struct {
		name  string
		edit  map[string]string // the value gone removes the file
		wants []string
	}{
		{"unknown key", map[string]string{"schemas/catalog.yaml": "name: catalog\ntables: [a]\n"},
			[]string{"schemas/catalog.yaml:2", `unknown key "tables"`}},
		{"wrong type", map[string]string{"schemas/catalog.yaml": "name: [catalog]\n"},
			[]string{"schemas/catalog.yaml:1", "want a string"}},
		{"links not a list", map[string]string{"schemas/catalog.yaml": "name: catalog\nlinks: customers.customer(id)\n"},
			[]string{"schemas/catalog.yaml:2"}},
		{"invalid name", map[string]string{"schemas/Catalog.yaml": "name: Catalog\n"},
			[]string{"schemas/Catalog.yaml:1", `"Catalog" is not a valid identifier`}},
		{"reserved public", map[string]string{"schemas/catalog.yaml": "name: catalog\nschema: public\n"},
			[]string{"schemas/catalog.yaml:2", `"public" is reserved`}},
		{"reserved pg_", map[string]string{"schemas/pg_stuff.yaml": "name: pg_stuff\n"},
			[]string{"schemas/pg_stuff.yaml:1", "reserved"}},
		{"reserved information_schema", map[string]string{"schemas/catalog.yaml": "name: catalog\nschema: information_schema\n"},
			[]string{"schemas/catalog.yaml:2", "reserved"}},
		{"sql keyword", map[string]string{"schemas/order.yaml": "name: order\n"},
			[]string{"schemas/order.yaml:1", "reserved word"}},
		{"too long for roles", map[string]string{"schemas/" + long + ".yaml": "name: " + long + "\n"},
			[]string{"schemas/" + long + ".yaml:1", "63 bytes"}},
		{"name differs from file", map[string]string{"schemas/catalog.yaml": "name: products\n"},
			[]string{"schemas/catalog.yaml:1", "differs from the file name"}},
		{"missing name", map[string]string{"schemas/catalog.yaml": "description: x\n"},
			[]string{"schemas/catalog.yaml", "name is missing"}},
		{"duplicate schema", map[string]string{"schemas/catalog.yaml": "name: catalog\nschema: customers\n"},
			[]string{"schemas/customers.yaml", `schema "customers" is already the schema of service catalog`}},
		{"duplicate link", map[string]string{"schemas/payments.yaml": "name: payments\nlinks:\n  - orders.customer_order(id)\n  - orders.customer_order( id )\n"},
			[]string{"schemas/payments.yaml:4", "declared twice"}},
		{"unknown service", map[string]string{"schemas/payments.yaml": "name: payments\nlinks:\n  - billing.invoice(id)\n"},
			[]string{"schemas/payments.yaml:3", `no service "billing"`}},
		{"self link", map[string]string{"schemas/payments.yaml": "name: payments\nlinks:\n  - payments.payment(id)\n"},
			[]string{"schemas/payments.yaml:3", "itself"}},
		{"bad link syntax", map[string]string{"schemas/payments.yaml": "name: payments\nlinks:\n  - orders.customer_order\n"},
			[]string{"schemas/payments.yaml:3", "want service.table(column, ...)"}},
		{"bad link column", map[string]string{"schemas/payments.yaml": "name: payments\nlinks:\n  - orders.customer_order(id; drop table x)\n"},
			[]string{"schemas/payments.yaml:3", "column"}},
		{"cycle", map[string]string{"schemas/customers.yaml": "name: customers\nlinks: [shipping.shipment(id)]\n"},
			[]string{"cycle", "customers -> shipping -> customers"}},
		{"longer cycle", map[string]string{"schemas/customers.yaml": "name: customers\nlinks: [payments.payment(id)]\n"},
			[]string{"cycle", "customers -> payments -> orders -> customers"}},
		{"yml extension", map[string]string{"schemas/extra.yml": "name: extra\n"},
			[]string{"schemas/extra.yml", "rename it to extra.yaml"}},
		{"empty file", map[string]string{"schemas/catalog.yaml": ""},
			[]string{"schemas/catalog.yaml", "empty"}},
		{"two documents", map[string]string{"schemas/catalog.yaml": "name: catalog\n---\nname: x\n"},
			[]string{"schemas/catalog.yaml", "second YAML document"}},
		{"not yaml", map[string]string{"schemas/catalog.yaml": "name: [catalog\n"},
			[]string{"schemas/catalog.yaml"}},
		{"settings unknown key", map[string]string{"splitschema.yaml": "database: shop\ndatabse: x\n"},
			[]string{"splitschema.yaml:2", `unknown key "databse"`}},
		{"settings bad timeout", map[string]string{"splitschema.yaml": "lock_timeout: soon\n"},
			[]string{"splitschema.yaml:1", "not a duration"}},
		{"settings zero statement timeout", map[string]string{"splitschema.yaml": "database: shop\nstatement_timeout: 0s\n"},
			[]string{"splitschema.yaml:2", "statement_timeout must be at least 1ms"}},
		{"settings bad window", map[string]string{"splitschema.yaml": "retention:\n  window: a week\n"},
			[]string{"splitschema.yaml:2", "retention.window"}},
		{"settings bad archive timeout", map[string]string{"splitschema.yaml": "pitr:\n  archive_timeout: 500ms\n"},
			[]string{"splitschema.yaml:2", "pitr.archive_timeout"}},
		{"settings bad database", map[string]string{"splitschema.yaml": "database: Shop-DB\n"},
			[]string{"splitschema.yaml", "database"}},
		{"settings bad prefix", map[string]string{"splitschema.yaml": "naming:\n  prefix: 'x; drop'\n"},
			[]string{"splitschema.yaml", "prefix"}},
		{"no settings", map[string]string{"splitschema.yaml": gone},
			[]string{"splitschema.yaml", "splitschema init"}},
		{"no services", map[string]string{"schemas/customers.yaml": gone, "schemas/catalog.yaml": gone, "schemas/orders.yaml": gone, "schemas/payments.yaml": gone, "schemas/shipping.yaml": gone, "schemas/README.md": "services go here"},
			[]string{"schemas", "no services"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := shop()
			for k, v := range tc.edit {
				if v == gone {
					delete(files, k)
					continue
				}
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

func TestAllProblemsReported(t *testing.T) {
	files := shop()
	files["schemas/catalog.yaml"] = "name: catalog\nfoo: 1\n"
	files["schemas/payments.yaml"] = "name: payment\n"
	_, err := Load(writeProject(t, files))
	var merr *Error
	if !errors.As(err, &merr) {
		t.Fatalf("err = %v, want *Error", err)
	}
	if len(merr.Problems) != 2 {
		t.Errorf("problems = %v, want 2 (one per bad file)", merr.Problems)
	}
}

func TestParseLink(t *testing.T) {
	l, err := ParseLink(" orders.customer_order( id , region ) ")
	if err != nil {
		t.Fatal(err)
	}
	if l.Service != "orders" || l.Table != "customer_order" || !slices.Equal(l.Columns, []string{"id", "region"}) {
		t.Errorf("link = %+v", l)
	}
	for _, bad := range []string{"", "a.b()", "a.b(c,c)", "a(b)", ".b(c)", "a.b(c", "a.b.c(d)", "a.b(\"C\")"} {
		if _, err := ParseLink(bad); err == nil {
			t.Errorf("ParseLink(%q) succeeded", bad)
		}
	}
}

func TestGraphOutput(t *testing.T) {
	p, err := Load(writeProject(t, shop()))
	if err != nil {
		t.Fatal(err)
	}
	if m := p.Mermaid(); !strings.Contains(m, `orders -->|"customer(id)"| customers`) {
		t.Errorf("mermaid lacks the orders->customers edge:\n%s", m)
	}
	if d := p.Dot(); !strings.Contains(d, `"payments" -> "orders" [label="customer_order(id)"]`) {
		t.Errorf("dot lacks the payments->orders edge:\n%s", d)
	}
}
