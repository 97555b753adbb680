package provision_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/splitschema/splitschema/internal/provision"
)

// TestRoleOfAnotherProjectRefused: two projects with the same role names on
// one cluster. The first marks its roles; the second is refused, names the
// role and the project that owns it, and changes nothing. An unmarked role
// is adopted only where its service was provisioned already.
func TestRoleOfAnotherProjectRefused(t *testing.T) {
	ctx := ctxFor(t)
	p1, srv1 := mustShop(t, "t3r_"), mustServer(t)
	mustApply(t, p1, srv1)
	conn1 := mustConnect(t, srv1)
	comment := func(role string) string {
		t.Helper()
		var c *string
		if err := conn1.QueryRow(ctx, "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1", role).Scan(&c); err != nil {
			t.Fatal(err)
		}
		if c == nil {
			return ""
		}
		return *c
	}
	for _, role := range []string{"t3r_orders_owner", "t3r_orders_app", "t3r_catalog_app"} {
		if got, want := comment(role), provision.RoleMark(srv1.Database); got != want {
			t.Errorf("comment on %s = %q, want %q", role, got, want)
		}
	}
	mustNoChanges(t, p1, srv1)

	// A second project, same prefix, another database on the same cluster.
	p2, srv2 := mustShop(t, "t3r_"), mustServer(t)
	for _, try := range []func() error{
		func() error { _, err := provision.Plan(ctx, p2, srv2); return err },
		func() error { _, err := provision.Apply(ctx, p2, srv2, nil); return err },
	} {
		err := try()
		var ie *provision.InputError
		if !errors.As(err, &ie) {
			t.Fatalf("second project: err = %v, want an InputError", err)
		}
		for _, want := range []string{"role t3r_orders_app belongs to the splitschema project of database \"" + srv1.Database + "\"", "naming.prefix", "nothing was changed"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error does not say %q:\n%v", want, err)
			}
		}
	}
	conn2 := mustConnect(t, srv2)
	var schemas int
	if err := conn2.QueryRow(ctx, "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'orders%' OR nspname = 'splitschema'").Scan(&schemas); err != nil || schemas != 0 {
		t.Errorf("the refused project created %d schemas (%v), want none", schemas, err)
	}
	if got := comment("t3r_orders_app"); got != provision.RoleMark(srv1.Database) {
		t.Errorf("after the refusal the role's mark is %q", got)
	}

	// Unmarked roles (provisioned before marks existed): the second project
	// still may not take them, the first one adopts and marks them.
	mustExec(t, conn1, "COMMENT ON ROLE t3r_orders_app IS NULL")
	if _, err := provision.Plan(ctx, p2, srv2); err == nil || !strings.Contains(err.Error(), "no splitschema project claims it") ||
		!strings.Contains(err.Error(), `COMMENT ON ROLE "t3r_orders_app" IS 'splitschema project `+srv2.Database+`'`) {
		t.Errorf("unmarked role, second project: err = %v, want a refusal with the statement that claims it", err)
	}
	cs := mustPlan(t, p1, srv1)
	if cs.Pending != 1 || cs.Changes[0].Action != "mark role" {
		t.Fatalf("unmarked role, its own project: plan =\n%s\nwant one mark role", cs.Human())
	}
	mustApply(t, p1, srv1)
	if got := comment("t3r_orders_app"); got != provision.RoleMark(srv1.Database) {
		t.Errorf("adopted role's mark = %q", got)
	}
}
