package provision

import (
	"slices"
	"strings"
	"testing"

	"github.com/splitschema/splitschema/internal/catalog"
)

func TestDiffGrants(t *testing.T) {
	have := holdings([]catalog.Grant{
		{Grantee: "owner", Privilege: "SELECT"},
		{Grantee: "app", Privilege: "SELECT", Grantable: true},
		{Grantee: "app", Privilege: "TRUNCATE"},
		{Grantee: "", Privilege: "SELECT"},
		{Grantee: "other", Privilege: "INSERT"},
		{Grantee: "dba", Privilege: "SELECT"},
		{Grantee: "app", Privilege: "SOMETHING_NEW"},
	})
	wants := map[string]want{"app": {need: appTable}, "link": {need: pReferences}}
	managed := func(g string) bool { return g != "owner" && g != "dba" }
	var got []string
	for _, op := range diffGrants(have, wants, managed) {
		got = append(got, op.statement("TABLE t"))
	}
	expected := []string{
		"REVOKE SELECT ON TABLE t FROM PUBLIC CASCADE",
		`REVOKE TRUNCATE ON TABLE t FROM "app" CASCADE`,
		`REVOKE GRANT OPTION FOR SELECT ON TABLE t FROM "app" CASCADE`,
		`GRANT INSERT, UPDATE, DELETE ON TABLE t TO "app"`,
		`REVOKE INSERT ON TABLE t FROM "other" CASCADE`,
		`GRANT REFERENCES ON TABLE t TO "link"`,
	}
	if !slices.Equal(got, expected) {
		t.Errorf("ops:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(expected, "\n"))
	}
	// Allowed privileges stay, but are not granted.
	ops := diffGrants(holdings([]catalog.Grant{{Grantee: "", Privilege: "USAGE"}, {Grantee: "", Privilege: "CREATE"}}),
		map[string]want{"": {allow: pUsage}}, func(string) bool { return true })
	if len(ops) != 1 || ops[0].statement("SCHEMA s") != "REVOKE CREATE ON SCHEMA s FROM PUBLIC CASCADE" {
		t.Errorf("allowed USAGE: %+v", ops)
	}
	if s := (aclOp{kind: opGrant, privs: pReferences, grantee: "o"}).columnStatement("TABLE t", []string{`"a"`, `"b"`}); s != `GRANT REFERENCES ("a", "b") ON TABLE t TO "o"` {
		t.Errorf("column statement = %s", s)
	}
}

func TestToolkitSteps(t *testing.T) {
	for name, s := range map[string]string{"schema": toolkit.schema, "table": toolkit.table, "function": toolkit.function, "trigger": toolkit.trigger} {
		if strings.HasPrefix(s, "--") || strings.HasSuffix(s, ";") || s == "" {
			t.Errorf("step %s = %q", name, s)
		}
	}
	if !strings.HasPrefix(toolkit.function, "CREATE OR REPLACE FUNCTION splitschema.guard()") ||
		!strings.Contains(toolkit.body, "pg_event_trigger_dropped_objects()") || strings.Contains(toolkit.body, "$guard$") {
		t.Errorf("function step or body wrong:\n%s", toolkit.function)
	}
	if toolkit.trigger != "CREATE EVENT TRIGGER splitschema_guard ON sql_drop EXECUTE FUNCTION splitschema.guard()" {
		t.Errorf("trigger step = %q", toolkit.trigger)
	}
	if !strings.Contains(toolkit.body, GuardMessagePrefix) {
		t.Errorf("the guard's message does not start with %q", GuardMessagePrefix)
	}
}
