package provision_test

import (
	"strings"
	"testing"
)

// TestMembershipOfAnotherGrantor: a membership in another service's owner
// role, granted by a role that is not the admin, is taken away too. From
// PostgreSQL 16 on a member holds a role once per grantor and a plain REVOKE
// takes back only the admin's own grant (with a mere warning), so the plan
// names each grantor; the test shows the plain REVOKE leaving it there.
func TestMembershipOfAnotherGrantor(t *testing.T) {
	t.Parallel()
	p := mustShop(t, "t3z_")
	srv := mustServer(t)
	mustApply(t, p, srv)
	conn := mustConnect(t, srv)
	mustExec(t, conn, "CREATE ROLE t3z_dba NOLOGIN CREATEROLE")
	mustExec(t, conn, "GRANT t3z_customers_owner TO t3z_dba WITH ADMIN OPTION")
	grant := "SET ROLE t3z_dba; GRANT t3z_customers_owner TO t3z_orders_app; RESET ROLE"
	mustExec(t, conn, grant)
	member := func() bool {
		t.Helper()
		var m bool
		if err := conn.QueryRow(ctxFor(t), "SELECT pg_has_role('t3z_orders_app', 't3z_customers_owner', 'MEMBER')").Scan(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}

	v16 := serverVersion(t, conn) >= 160000
	if v16 {
		mustExec(t, conn, "REVOKE t3z_customers_owner FROM t3z_orders_app")
		if !member() {
			t.Fatal("a plain REVOKE by the superuser took back t3z_dba's grant: this test shows nothing on this server")
		}
	} else {
		// Up to 15 a plain REVOKE takes it, whoever granted it.
		mustExec(t, conn, "REVOKE t3z_customers_owner FROM t3z_orders_app")
		if member() {
			t.Fatal("a plain REVOKE left the membership")
		}
		mustExec(t, conn, grant)
	}

	want := `REVOKE "t3z_customers_owner" FROM "t3z_orders_app"`
	if v16 {
		want += ` GRANTED BY "t3z_dba" CASCADE`
	}
	var found bool
	for _, c := range mustPlan(t, p, srv).Changes {
		if strings.HasPrefix(c.SQL, `REVOKE "t3z_customers_owner"`) {
			found = found || c.SQL == want
			if c.SQL != want {
				t.Errorf("plan holds %s, want %s", c.SQL, want)
			}
		}
	}
	if !found {
		t.Errorf("plan lacks %s", want)
	}
	mustApply(t, p, srv)
	if member() {
		t.Error("after provision t3z_orders_app is still a member of t3z_customers_owner")
	}
	mustNoChanges(t, p, srv)
}
