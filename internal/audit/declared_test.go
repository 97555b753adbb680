package audit_test

import (
	"strings"
	"testing"

	"github.com/splitschema/splitschema/internal/provision/provisiontest"
)

// TestAuditDeclaredRelations: on the real shop (extensions, a shared
// library, a read, two schemas) the audit accepts what is declared, and
// reports what is not, one finding per object rather than per column.
func TestAuditDeclaredRelations(t *testing.T) {
	t.Parallel()
	p, srv := provisiontest.RealshopProvisioned(t, "t4r_")
	if r := mustAudit(t, p, srv); !r.OK {
		t.Fatalf("audit of the provisioned real shop:\n%s", r.Human())
	}
	conn := provisiontest.Connect(t, srv)
	// Undeclared: sales_owner reads three columns of person.person, a view
	// of sales depends on them, and sales_app reads the view the read
	// declares for the owner only.
	mustExec(t, conn, `GRANT SELECT (first_name, last_name, email) ON person.person TO t4r_sales_owner`)
	mustExec(t, conn, `GRANT SELECT (id, full_name) ON pe.person_name TO t4r_sales_app`)
	mustExec(t, conn, `SET ROLE t4r_sales_owner; CREATE VIEW sales.mailing AS SELECT first_name, last_name, email FROM person.person; RESET ROLE`)
	mustExec(t, conn, `DROP EXTENSION pg_trgm CASCADE`)
	r := mustAudit(t, p, srv)
	text := r.Human()
	for _, want := range []string{
		"t4r_sales_owner holds SELECT on columns of person.person (email, first_name, last_name), which belongs to service person and no link or read declares",
		"t4r_sales_app holds SELECT on columns of pe.person_name (full_name, id)",
		"view sales.mailing depends on person.person (email, first_name, last_name), which belongs to service person",
		"extension pg_trgm is not installed",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no finding %q", want)
		}
	}
	if n := strings.Count(text, "person.person ("); n != 2 {
		t.Errorf("%d findings name person.person's columns, want 2 (one per object):\n%s", n, text)
	}
	if t.Failed() {
		t.Logf("findings:\n%s", text)
	}
}
