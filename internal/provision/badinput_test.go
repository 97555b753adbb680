package provision_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/splitschema/splitschema/internal/provision"
	"github.com/splitschema/splitschema/internal/secrets"
	"github.com/splitschema/splitschema/internal/target"
)

// mustInputError checks that err is an *InputError naming every want.
func mustInputError(t *testing.T, err error, wants ...string) {
	t.Helper()
	var ie *provision.InputError
	if !errors.As(err, &ie) {
		t.Fatalf("err = %v, want an *InputError", err)
	}
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
}

// roleCount counts the roles carrying prefix.
func roleCount(t *testing.T, srv *target.Server, prefix string) int {
	t.Helper()
	var n int
	if err := mustConnect(t, srv).QueryRow(ctxFor(t), "SELECT count(*) FROM pg_roles WHERE starts_with(rolname, $1)", prefix).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSchemaOwnedBySomeoneElse: a service's schema that exists but belongs
// to another role is an error before any change.
func TestSchemaOwnedBySomeoneElse(t *testing.T) {
	t.Parallel()
	p := mustShop(t, "t3i_")
	srv := mustServer(t)
	mustExec(t, mustConnect(t, srv), "CREATE SCHEMA orders")
	_, err := provision.Plan(ctxFor(t), p, srv)
	mustInputError(t, err, "schema orders already exists and is owned by postgres, not t3i_orders_owner", "ALTER SCHEMA")
	_, err = provision.Apply(ctxFor(t), p, srv, nil)
	mustInputError(t, err, "nothing was changed")
	if n := roleCount(t, srv, "t3i_"); n != 0 {
		t.Errorf("a failed provision created %d roles", n)
	}
}

// TestLinkToMissingColumnOrTable: once the target service has tables, a
// link to a table or column it lacks is an error before any change, unless
// DeferLinks leaves it to the migration pipeline.
func TestLinkToMissingColumnOrTable(t *testing.T) {
	t.Parallel()
	p := mustShop(t, "t3j_")
	srv := mustServer(t)
	mustApply(t, p, srv)
	mustMigrate(t, p, srv)
	conn := mustConnect(t, srv)
	mustExec(t, conn, "GRANT SELECT ON customers.customer TO t3j_orders_app") // drift that must survive a failed run

	mustWrite(t, filepath.Join(p.Dir, "schemas", "orders.yaml"),
		"name: orders\nlinks:\n  - customers.customer(idx)\n  - catalog.products(id)\n")
	bad := mustLoad(t, p.Dir)
	_, err := provision.Plan(ctxFor(t), bad, srv)
	mustInputError(t, err, "schemas/orders.yaml: link customers.customer(idx): table customers.customer has no column idx (its columns: id, email",
		"link catalog.products(id): service catalog has no table catalog.products (its tables: product)")
	_, err = provision.Apply(ctxFor(t), bad, srv, nil)
	mustInputError(t, err, "nothing was changed")
	var kept bool
	if err := conn.QueryRow(ctxFor(t), "SELECT has_table_privilege('t3j_orders_app', 'customers.customer', 'SELECT')").Scan(&kept); err != nil || !kept {
		t.Errorf("a failed provision changed something: drift kept = %v, err = %v", kept, err)
	}
	if err := provision.GrantLinks(ctxFor(t), conn, bad, "customers"); err == nil || !strings.Contains(err.Error(), "no column idx") {
		t.Errorf("GrantLinks with a missing column: err = %v", err)
	}
	if _, err := provision.PlanWith(ctxFor(t), bad, srv, provision.Options{DeferLinks: true}); err != nil {
		t.Errorf("plan with DeferLinks: %v", err)
	}
}

// TestAdminRights: an admin that is no superuser needs CREATEROLE, and the
// guard needs a superuser to install; once installed, a CREATEROLE admin
// can keep the services in shape, making itself a member of the owner
// roles, and the guard lets it drop what it must. From PostgreSQL 16 on,
// CREATEROLE covers only the roles the admin holds the ADMIN option on:
// the roles a superuser created are refused, before anything changes,
// until a superuser grants it that option.
func TestAdminRights(t *testing.T) {
	t.Parallel()
	p := mustShop(t, "t3k_")
	srv := mustServer(t)
	conn := mustConnect(t, srv)
	const pw = "admin-password-t3k"
	mustExec(t, conn, "CREATE ROLE t3k_weak LOGIN PASSWORD '"+pw+"'")
	mustExec(t, conn, "CREATE ROLE t3k_admin LOGIN CREATEROLE PASSWORD '"+pw+"'")
	mustExec(t, conn, "ALTER DATABASE "+q(srv.Database)+" OWNER TO t3k_admin")
	as := func(user string) *target.Server {
		s, err := target.FromURL(srv.RoleURL(user, pw), "")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	_, err := provision.Plan(ctxFor(t), p, as("t3k_weak"))
	mustInputError(t, err, "the admin role t3k_weak is neither a superuser nor has CREATEROLE", "ALTER ROLE \"t3k_weak\" CREATEROLE")
	_, err = provision.Apply(ctxFor(t), p, as("t3k_admin"), nil)
	mustInputError(t, err, "the admin role t3k_admin is not a superuser", "run `splitschema provision` once as a superuser")
	if n := roleCount(t, srv, "t3k_"); n != 2 {
		t.Errorf("a failed provision created %d roles", n-2)
	}

	mustApply(t, p, srv) // as the superuser: the guard is installed
	mustMigrate(t, p, srv)
	mustExec(t, conn, "GRANT SELECT ON customers.customer TO t3k_orders_app")
	admin := as("t3k_admin")
	wantGrants := 5
	if serverVersion(t, conn) >= 160000 {
		_, err := provision.Apply(ctxFor(t), p, admin, nil)
		mustInputError(t, err, "from PostgreSQL 16 on CREATEROLE lets it grant, revoke or alter only the roles it holds the ADMIN option on",
			`GRANT "t3k_catalog_owner" TO "t3k_admin"`, `"t3k_shipping_owner" TO "t3k_admin" WITH ADMIN OPTION`)
		var kept bool
		if err := conn.QueryRow(ctxFor(t), "SELECT has_table_privilege('t3k_orders_app', 'customers.customer', 'SELECT')").Scan(&kept); err != nil || !kept {
			t.Errorf("a refused provision changed something: drift kept = %v, err = %v", kept, err)
		}
		var owners []string
		for _, svc := range p.OrderedServices() {
			owners = append(owners, q(p.OwnerRole(svc.Name)))
		}
		mustExec(t, conn, "GRANT "+strings.Join(owners, ", ")+" TO t3k_admin WITH ADMIN OPTION")
		wantGrants = 0 // that grant made it a member that may SET ROLE
	}
	cs, err := provision.Apply(ctxFor(t), p, admin, nil)
	if err != nil {
		t.Fatalf("provision as a CREATEROLE admin: %v", err)
	}
	var grants, revokes int
	for _, c := range cs.Changes {
		switch {
		case strings.HasPrefix(c.SQL, "GRANT ") && strings.HasSuffix(c.SQL, `_owner" TO "t3k_admin"`):
			grants++
		case c.SQL == `REVOKE SELECT ON TABLE "customers"."customer" FROM "t3k_orders_app" CASCADE`:
			revokes++
		}
	}
	if grants != wantGrants || revokes != 1 || len(cs.Changes) != wantGrants+1 {
		t.Errorf("changes as a CREATEROLE admin:\n%s\nwant %d memberships and the revoke", cs.Human(), wantGrants)
	}
	mustNoChanges(t, p, admin)
	adminConn := mustConnect(t, admin)
	if err := execAs(t, adminConn, "", "DROP TABLE customers.customer CASCADE"); err != nil {
		t.Errorf("the guard stops the admin, a member of every owner role: %v", err)
	}
}

// TestBadPasswordVariable: a password variable that is too short or holds
// spaces is an error naming the variable, never showing the value.
func TestBadPasswordVariable(t *testing.T) {
	p := mustShop(t, "t3l_")
	srv := mustServer(t)
	t.Setenv(secrets.EnvVar("payments"), "short")
	_, err := provision.Plan(ctxFor(t), p, srv)
	mustInputError(t, err, "SPLITSCHEMA_PASSWORD_PAYMENTS", "8 to 200 characters")
	if strings.Contains(err.Error(), "short") {
		t.Errorf("the error shows the password: %v", err)
	}
	t.Setenv(secrets.EnvVar("payments"), "has a space in it")
	_, err = provision.Plan(ctxFor(t), p, srv)
	mustInputError(t, err, "without spaces")
	_, err = provision.PlanWith(ctxFor(t), p, srv, provision.Options{NewPasswords: []string{"nosuch"}})
	mustInputError(t, err, `no service "nosuch"`)
	if _, err := os.Stat(filepath.Join(p.Dir, secrets.Dir)); err == nil {
		t.Errorf("a failed plan wrote secrets")
	}
}
