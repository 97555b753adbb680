package provision_test

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/target"
)

// TestProvisionClosesLargeObjects: after provisioning no service role can
// create a large object (which lives in no schema and could be granted to
// another service); with PUBLIC's EXECUTE given back it can, the plan
// revokes it again, and then has nothing left to do.
func TestProvisionClosesLargeObjects(t *testing.T) {
	t.Parallel()
	p := mustShop(t, "t5c_")
	srv := mustServer(t)
	mustApply(t, p, srv)
	conn := mustConnect(t, srv)
	app, owner := p.AppRole("orders"), p.OwnerRole("customers")
	for _, role := range []string{app, owner} {
		for _, sql := range []string{"SELECT lo_creat(-1)", "SELECT lo_create(0)", `SELECT lo_from_bytea(0, '\x00')`} {
			if err := execAs(t, conn, role, sql); sqlState(err) != "42501" {
				t.Errorf("%s as %s: err = %v, want permission denied", sql, role, err)
			}
		}
	}
	// The check can fail: with EXECUTE back for PUBLIC, the app creates one.
	err := inRolledBack(t, conn, "", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctxFor(t), "GRANT EXECUTE ON FUNCTION lo_creat(integer) TO PUBLIC; SET LOCAL ROLE "+q(app)); err != nil {
			return err
		}
		_, err := tx.Exec(ctxFor(t), "SELECT lo_creat(-1)")
		return err
	})
	if err != nil {
		t.Fatalf("with EXECUTE for PUBLIC: %v, want the large object made", err)
	}
	mustExec(t, conn, "GRANT EXECUTE ON FUNCTION lo_from_bytea(oid, bytea) TO PUBLIC")
	cs := mustPlan(t, p, srv)
	if !strings.Contains(cs.Human(), "REVOKE EXECUTE ON FUNCTION pg_catalog.lo_from_bytea(oid, bytea) FROM PUBLIC") {
		t.Errorf("plan does not revoke it:\n%s", cs.Human())
	}
	mustApply(t, p, srv)
	mustNoChanges(t, p, srv)
	if err := execAs(t, conn, app, `SELECT lo_from_bytea(0, '\x00')`); sqlState(err) != "42501" {
		t.Errorf("after provision: err = %v, want permission denied", err)
	}
}

// TestProvisionEmbeddedRevokesMaintenanceConnect: on the embedded cluster,
// the toolkit's own, provisioning takes CONNECT on postgres and template1
// from PUBLIC; on another server it leaves them alone (audit reports them).
// Not parallel: it opens template1 to PUBLIC for a while.
func TestProvisionEmbeddedRevokesMaintenanceConnect(t *testing.T) {
	p := mustShop(t, "t5d_")
	srv := mustServer(t)
	embedded := *srv
	embedded.Source = target.SourceEmbedded
	conn := mustConnect(t, srv)
	mustExec(t, conn, "GRANT CONNECT ON DATABASE template1 TO PUBLIC")
	t.Cleanup(func() { mustExec(t, conn, "REVOKE CONNECT ON DATABASE template1 FROM PUBLIC") })
	const revoke = `REVOKE CONNECT ON DATABASE "template1" FROM PUBLIC`
	if cs := mustPlan(t, p, srv); strings.Contains(cs.Human(), revoke) {
		t.Errorf("on a server of the user's the plan revokes CONNECT on template1:\n%s", cs.Human())
	}
	if cs := mustPlan(t, p, &embedded); !strings.Contains(cs.Human(), revoke) {
		t.Errorf("on the embedded cluster the plan does not revoke CONNECT on template1:\n%s", cs.Human())
	}
	mustApply(t, p, &embedded)
	var may bool
	if err := conn.QueryRow(ctxFor(t), "SELECT has_database_privilege('public', 'template1', 'CONNECT')").Scan(&may); err != nil {
		t.Fatal(err)
	}
	if may {
		t.Error("PUBLIC may still connect to template1")
	}
	mustNoChanges(t, p, &embedded)
}

// TestProvisionResetsIdentitySettings: a role, session_authorization or
// search_path set by hand on a service role (for every database or the
// project's) makes its sessions start as someone else or resolve names
// elsewhere; the plan resets each in its scope, then has nothing left to
// do, and other settings are left alone (audit warns about them).
func TestProvisionResetsIdentitySettings(t *testing.T) {
	t.Parallel()
	p := mustShop(t, "t5r_")
	srv := mustServer(t)
	mustApply(t, p, srv)
	conn := mustConnect(t, srv)
	app, migrator, owner := p.AppRole("orders"), p.MigratorRole("orders"), p.OwnerRole("customers")
	db := q(srv.Database)
	mustExec(t, conn, "ALTER ROLE "+q(app)+" SET role = "+q(owner))
	mustExec(t, conn, "ALTER ROLE "+q(migrator)+" IN DATABASE "+db+" SET search_path = customers")
	mustExec(t, conn, "ALTER ROLE "+q(owner)+" IN DATABASE "+db+" SET statement_timeout = '5s'")
	want := []string{
		"ALTER ROLE " + q(app) + " RESET role",
		"ALTER ROLE " + q(migrator) + " IN DATABASE " + db + " RESET search_path",
	}
	h := mustPlan(t, p, srv).Human()
	for _, w := range want {
		if !strings.Contains(h, w) {
			t.Errorf("plan lacks %q:\n%s", w, h)
		}
	}
	if strings.Contains(h, "statement_timeout") || strings.Contains(h, "IN DATABASE "+db+" RESET role") {
		t.Errorf("plan resets what it should leave alone:\n%s", h)
	}
	mustApply(t, p, srv)
	mustNoChanges(t, p, srv)
	var left []string
	err := conn.QueryRow(ctxFor(t), `SELECT coalesce(array_agg(r.rolname || ':' || c), '{}')
		FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole, unnest(s.setconfig) c
		WHERE r.rolname = ANY($1) AND c NOT LIKE 'search_path=%' OR r.rolname = $2`, []string{app, migrator, owner}, migrator).Scan(&left)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || left[0] != owner+":statement_timeout=5s" {
		t.Errorf("settings left after provision: %v, want only %s's statement_timeout", left, owner)
	}
}
