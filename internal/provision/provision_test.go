package provision_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/secrets"
)

// TestProvisionShop provisions the example shop on an empty database,
// migrates it, and checks that provisioning again changes nothing.
func TestProvisionShop(t *testing.T) {
	t.Parallel()
	p := mustShop(t, "t3a_")
	srv := mustServer(t)

	plan := mustPlan(t, p, srv)
	if plan.Pending == 0 || plan.Pending != len(plan.Changes) {
		t.Fatalf("plan on an empty database: pending = %d, changes = %d", plan.Pending, len(plan.Changes))
	}
	cs := mustApply(t, p, srv)
	if !cs.Applied || cs.Pending != 0 || len(cs.Changes) != len(plan.Changes) {
		t.Fatalf("apply: applied=%v pending=%d changes=%d, plan had %d", cs.Applied, cs.Pending, len(cs.Changes), len(plan.Changes))
	}
	mustNoChanges(t, p, srv)

	mustMigrate(t, p, srv)
	// The migrations created tables: default privileges must have covered
	// them, and GrantLinks the links' REFERENCES.
	mustNoChanges(t, p, srv)
	if again := mustApply(t, p, srv); len(again.Changes) != 0 {
		t.Fatalf("second provision made %d changes:\n%s", len(again.Changes), again.Human())
	}

	conn := mustConnect(t, srv)
	ctx := ctxFor(t)
	for _, svc := range p.Services {
		app, owner := p.AppRole(svc.Name), p.OwnerRole(svc.Name)
		var login, ownerLogin, super bool
		if err := conn.QueryRow(ctx, `SELECT a.rolcanlogin, o.rolcanlogin, a.rolsuper OR o.rolsuper OR a.rolcreatedb OR o.rolcreatedb
			OR a.rolcreaterole OR o.rolcreaterole OR a.rolreplication OR o.rolreplication OR a.rolbypassrls OR o.rolbypassrls
			FROM pg_roles a, pg_roles o WHERE a.rolname = $1 AND o.rolname = $2`, app, owner).Scan(&login, &ownerLogin, &super); err != nil {
			t.Fatal(err)
		}
		if !login || ownerLogin || super {
			t.Errorf("%s: app login=%v owner login=%v forbidden attribute=%v", svc.Name, login, ownerLogin, super)
		}
		var schemaOwner string
		if err := conn.QueryRow(ctx, `SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = $1`, svc.Schema).Scan(&schemaOwner); err != nil {
			t.Fatal(err)
		}
		if schemaOwner != owner {
			t.Errorf("schema %s owner = %s, want %s", svc.Schema, schemaOwner, owner)
		}
		// The secrets file: mode 0600 in a 0700 folder, and its URL logs in,
		// landing in the service's schema.
		path := secrets.Path(p.Dir, svc.Name)
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v, want 0600", path, err, fi.Mode().Perm())
		}
		if fi, err := os.Stat(filepath.Dir(path)); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("secrets folder mode %v, want 0700", fi.Mode().Perm())
		}
		u, err := secrets.URL(p.Dir, svc.Name)
		if err != nil {
			t.Fatal(err)
		}
		appConn, err := pgx.Connect(ctx, u)
		if err != nil {
			t.Fatalf("log in as %s with its secrets file: %v", app, err)
		}
		var user, searchPath string
		if err := appConn.QueryRow(ctx, "SELECT current_user, current_setting('search_path')").Scan(&user, &searchPath); err != nil {
			t.Fatal(err)
		}
		appConn.Close(ctx)
		if user != app || strings.Trim(searchPath, `"`) != svc.Schema {
			t.Errorf("logged in as %s with search_path %s, want %s and %s", user, searchPath, app, svc.Schema)
		}
	}
	// PUBLIC holds nothing on the database, nor CREATE on schema public.
	var publicDB, publicCreate bool
	if err := conn.QueryRow(ctx, `SELECT has_database_privilege('public', current_database(), 'CONNECT, TEMPORARY, CREATE'),
		has_schema_privilege('public', 'public', 'CREATE')`).Scan(&publicDB, &publicCreate); err != nil {
		t.Fatal(err)
	}
	if publicDB || publicCreate {
		t.Errorf("PUBLIC: database privilege = %v, CREATE on public = %v; want neither", publicDB, publicCreate)
	}
}

// TestPlanOutput checks the plan's JSON and text: grouped by service, no
// password anywhere, passwords shown as '***'.
func TestPlanOutput(t *testing.T) {
	p := mustShop(t, "t3b_")
	srv := mustServer(t)
	const secret = "Sup3rSecretPassw0rd"
	t.Setenv(secrets.EnvVar("orders"), secret)
	plan := mustPlan(t, p, srv)
	data, err := json.Marshal(plan)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Changes []struct{ Service, Action, SQL string } `json:"changes"`
		Pending int                                     `json:"pending"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Pending != len(doc.Changes) || doc.Pending == 0 {
		t.Errorf("json pending = %d, changes = %d", doc.Pending, len(doc.Changes))
	}
	human := plan.Human()
	for _, out := range []string{string(data), human} {
		if strings.Contains(out, secret) {
			t.Fatalf("the plan shows the password")
		}
	}
	if !strings.Contains(human, `CREATE ROLE "t3b_orders_app" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD '***'`) {
		t.Errorf("plan lacks the app role's creation with a hidden password:\n%s", human)
	}
	for _, svc := range p.Order {
		if !strings.Contains(human, "\n"+svc+":\n") {
			t.Errorf("plan has no group for service %s", svc)
		}
	}
}
