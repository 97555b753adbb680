package cli

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/pgtest"
)

// TestRealshopEndToEnd takes examples/realshop (extensions, a shared type
// library used by three services, a view reading another service through a
// declared read, a materialized view, a soft link closing a cycle, a service
// with two schemas) through lint, apply, backup, restore and verify, with
// its DDL as it is. A broken soft link in the restored copy is a mismatch.
func TestRealshopEndToEnd(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	database := strings.TrimPrefix(u.Path, "/")
	dir := filepath.Join(t.TempDir(), "realshop")
	copyTree(t, filepath.Join(repoRoot(t), "examples", "realshop"), dir)
	conf, err := os.ReadFile(filepath.Join(dir, "splitschema.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	conf = []byte(strings.Replace(string(conf), "database: realshop", "database: "+database, 1) + "naming:\n  prefix: e2e_\n")
	if err := os.WriteFile(filepath.Join(dir, "splitschema.yaml"), conf, 0o644); err != nil {
		t.Fatal(err)
	}
	expect := func(wantCode int, args ...string) string {
		t.Helper()
		code, out, errOut := run(t, append([]string{"--dir", dir, "--database-url", dbURL}, args...)...)
		if code != wantCode {
			t.Fatalf("%v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, code, wantCode, out, errOut)
		}
		return out
	}
	expect(0, "lint", "--no-sqlc")
	expect(0, "apply")

	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	for _, stmt := range []string{
		`SET search_path = person, common, extensions`,
		`INSERT INTO person.person (first_name, last_name, email) VALUES ('Ada', 'L', 'ada@example.org'), ('Bob', 'M', 'bob@example.org')`,
		`INSERT INTO product.product (name, price) VALUES ('lamp', ROW(12.50, 'EUR')::common.price)`,
		`INSERT INTO sales.sales_order (person_id, contact) SELECT id, email FROM person.person`,
		`INSERT INTO sales.order_line (order_id, product_id, quantity, amount) SELECT o.id, p.id, 2, 12.50 FROM sales.sales_order o, product.product p`,
		`UPDATE person.person SET favourite_order_id = (SELECT max(id) FROM sales.sales_order)`,
		`INSERT INTO pe.contact (person_id, kind) SELECT id, k FROM person.person, unnest(ARRAY['email', 'phone']) k`,
		`INSERT INTO pe.contact_note (contact_id, note) SELECT id, 'note ' || id FROM pe.contact`,
		`RESET search_path`,
	} {
		if _, err := conn.Exec(t.Context(), stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}

	var b struct{ ID string }
	if err := json.Unmarshal([]byte(expect(0, "backup", "--json", "--jobs", "2")), &b); err != nil || b.ID == "" {
		t.Fatalf("backup --json: %v", err)
	}
	copyDB := database + "_copy"
	out := expect(0, "restore", b.ID, "--target-db", copyDB)
	for _, want := range []string{"verified", "isolation audit: passed", "person.person(favourite_order_id) -> sales.sales_order(id): 0 broken"} {
		if !strings.Contains(out, want) {
			t.Errorf("restore output does not say %q:\n%s", want, out)
		}
	}

	// sales alone into a new database: refused, its view reads person's;
	// with person, the shared common and the extensions come along, and
	// the keys to product are listed as not restored.
	if code, _, errOut := run(t, "--dir", dir, "--database-url", dbURL, "restore", b.ID, "--service", "sales", "--target-db", database+"_sales"); code != 1 ||
		!strings.Contains(errOut, "restore them together, --service sales,person") {
		t.Errorf("restore --service sales --target-db: exit %d, %s", code, errOut)
	}
	out = expect(0, "restore", b.ID, "--service", "sales,person", "--target-db", database+"_sales")
	for _, want := range []string{"restored services sales, common, person of backup", "verified (those services only)",
		"not restored, not checked (one end is in a service left out): foreign key order_line_product_id_fkey sales.order_line(product_id) -> product.product(id)",
		"foreign key pe.contact(person_id) -> person.person(id): 0 broken", "isolation audit: not run"} {
		if !strings.Contains(out, want) {
			t.Errorf("restore --service sales,person --target-db does not say %q:\n%s", want, out)
		}
	}

	if out := expect(0, "backup", "verify", b.ID, "--restore-test", "--jobs", "2"); !strings.Contains(out, "restore test of backup "+b.ID+" passed") {
		t.Errorf("backup verify --restore-test:\n%s", out)
	}

	// The soft link has no foreign key: nothing stops this delete, and
	// verify must count what it breaks.
	cu := *u
	cu.Path = "/" + copyDB
	copyConn, err := pgx.Connect(t.Context(), cu.String())
	if err != nil {
		t.Fatal(err)
	}
	defer copyConn.Close(t.Context())
	if _, err := copyConn.Exec(t.Context(), `DELETE FROM sales.order_line; DELETE FROM sales.sales_order WHERE id = (SELECT max(id) FROM sales.sales_order)`); err != nil {
		t.Fatal(err)
	}
	// A foreign key inside the second schema of person, dropped, and a
	// note pointed at no contact: the row counts stay the same, only the
	// check of every foreign key of every schema of a service sees it.
	if _, err := copyConn.Exec(t.Context(), `ALTER TABLE pe.contact_note DROP CONSTRAINT contact_note_contact_id_fkey;
		UPDATE pe.contact_note SET contact_id = -1 WHERE id = (SELECT min(id) FROM pe.contact_note)`); err != nil {
		t.Fatal(err)
	}
	out = expect(1, "verify", "--against", b.ID, "--target-db", copyDB)
	for _, want := range []string{"(soft link of person): 2 rows reference a row that is missing",
		"foreign key contact_note_contact_id_fkey pe.contact_note(contact_id) -> pe.contact(id) is missing",
		"pe.contact_note(contact_id) -> pe.contact(id) (contact_note_contact_id_fkey): 1 rows reference a row that is missing"} {
		if !strings.Contains(out, want) {
			t.Errorf("verify does not say %q:\n%s", want, out)
		}
	}

	// person alone, in place, in the live database: both of its schemas
	// get the backup's rows back.
	contacts := func() string {
		t.Helper()
		var d string
		if err := conn.QueryRow(t.Context(), `SELECT (SELECT count(*) || ' ' || md5(string_agg(c::text, ',' ORDER BY c.id)) FROM pe.contact c) || ' / ' ||
			(SELECT count(*) || ' ' || md5(string_agg(n::text, ',' ORDER BY n.id)) FROM pe.contact_note n)`).Scan(&d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	atBackup := contacts()
	if _, err := conn.Exec(t.Context(), `DELETE FROM pe.contact_note WHERE id = (SELECT max(id) FROM pe.contact_note); UPDATE pe.contact_note SET note = 'lost'`); err != nil {
		t.Fatal(err)
	}
	out = expect(0, "restore", b.ID, "--service", "person", "--in-place")
	if !strings.Contains(out, "pe.contact_note") || !strings.Contains(out, "done in") {
		t.Errorf("restore --service person --in-place does not restore pe.contact_note:\n%s", out)
	}
	if got := contacts(); got != atBackup {
		t.Errorf("pe after the restore: %s; at the backup: %s", got, atBackup)
	}
}
