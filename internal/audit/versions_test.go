package audit_test

import (
	"strings"
	"testing"

	"github.com/splitschema/splitschema/internal/provision"
	"github.com/splitschema/splitschema/internal/provision/provisiontest"
)

// TestAuditMaintain: from PostgreSQL 17 on, MAINTAIN on a table lets a role
// VACUUM, REINDEX, CLUSTER and LOCK it in any mode, and pg_maintain gives
// it on every table. The owners hold it on their own tables (no finding, as
// TestAuditCleanAfterProvision shows on every major); held on another
// service's table it is an error, as is membership in pg_maintain. Before
// 17 neither exists, which the test checks instead.
func TestAuditMaintain(t *testing.T) {
	t.Parallel()
	p, srv := provisiontest.Provisioned(t, "t4m_")
	conn := provisiontest.Connect(t, srv)
	var version int
	if err := conn.QueryRow(provisiontest.Context(t), "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if version < 170000 {
		if _, err := conn.Exec(provisiontest.Context(t), "GRANT MAINTAIN ON customers.customer TO t4m_orders_app"); err == nil {
			t.Errorf("GRANT MAINTAIN went through on server %d, which the audit does not check for it", version)
		}
		t.Skipf("no MAINTAIN privilege before PostgreSQL 17 (server %d)", version)
	}
	holes := []hole{
		{name: "app may maintain another service's table",
			open: "GRANT MAINTAIN ON customers.customer TO t4m_orders_app",
			want: []string{"error privileges t4m_orders_app holds MAINTAIN on customers.customer, which belongs to service customers"}},
		{name: "owner may maintain another service's table",
			open: "GRANT MAINTAIN ON orders.order_line TO t4m_catalog_owner",
			want: []string{"error privileges t4m_catalog_owner holds MAINTAIN on orders.order_line, which belongs to service orders"}},
		{name: "app holds pg_maintain",
			open: "GRANT pg_maintain TO t4m_payments_app",
			want: []string{"error membership t4m_payments_app is a member of pg_maintain",
				"error privileges t4m_payments_app holds MAINTAIN on customers.customer"}},
	}
	for _, h := range holes {
		t.Run(strings.ReplaceAll(h.name, " ", "_"), func(t *testing.T) {
			mustExec(t, conn, h.open)
			rep := mustAudit(t, p, srv)
			if rep.OK {
				t.Error("audit OK with the hole open")
			}
			for _, w := range h.want {
				if !hasFinding(rep, w) {
					t.Errorf("no finding %q", w)
				}
			}
			if t.Failed() {
				t.Logf("findings:\n%s", rep.Human())
			}
			if _, err := provision.Apply(provisiontest.Context(t), p, srv, nil); err != nil {
				t.Fatalf("provision: %v", err)
			}
			if rep := mustAudit(t, p, srv); !rep.OK || len(rep.Findings) != 0 {
				t.Fatalf("after provision closed the hole:\n%s", rep.Human())
			}
		})
	}
}
