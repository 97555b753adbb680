package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/localpg"
)

// TestPlanProvisionAuditURL drives plan, provision, audit and url on the
// example shop's services, on an embedded cluster of its own, exit codes
// included: plan --detailed-exitcode says 2 then 0, a hole opened by hand
// makes audit exit 1 and plan 2, provision closes it.
func TestPlanProvisionAuditURL(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shop")
	t.Cleanup(func() {
		if cl, err := localpg.New(dir, nil); err == nil {
			_ = cl.Destroy(context.Background())
		}
	})
	for _, f := range []string{"splitschema.yaml", "schemas"} {
		copyTree(t, filepath.Join(repoRoot(t), f), filepath.Join(dir, f))
	}
	expect := func(wantCode int, args ...string) (string, string) {
		t.Helper()
		code, out, errOut := run(t, append([]string{"--dir", dir}, args...)...)
		if code != wantCode {
			t.Fatalf("%v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, code, wantCode, out, errOut)
		}
		return out, errOut
	}

	out, _ := expect(2, "plan", "--detailed-exitcode")
	for _, want := range []string{"CREATE DATABASE \"shop\"", "\norders:\n", `CREATE ROLE "orders_app" LOGIN`, "PASSWORD '***'", "CREATE EVENT TRIGGER splitschema_guard"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan does not say %q:\n%s", want, out)
		}
	}
	out, _ = expect(0, "plan", "--json")
	var plan struct {
		Changes []struct{ Service, Action, SQL string }
		Pending int
	}
	if err := json.Unmarshal([]byte(out), &plan); err != nil || plan.Pending == 0 || plan.Pending != len(plan.Changes) || plan.Changes[0].SQL == "" {
		t.Fatalf("plan --json: %v\n%s", err, out)
	}

	out, _ = expect(0, "provision", "--json")
	var applied struct {
		Applied bool
		Pending int
		Changes []struct{ SQL string }
	}
	if err := json.Unmarshal([]byte(out), &applied); err != nil || !applied.Applied || applied.Pending != 0 || len(applied.Changes) != plan.Pending {
		t.Fatalf("provision --json: %v\n%s", err, out)
	}
	out, _ = expect(0, "plan", "--detailed-exitcode")
	if !strings.HasPrefix(out, "No changes") {
		t.Errorf("plan after provision:\n%s", out)
	}
	out, _ = expect(0, "provision")
	if !strings.HasPrefix(out, "No changes") {
		t.Errorf("second provision:\n%s", out)
	}
	out, _ = expect(0, "audit", "--json")
	var report struct {
		OK       bool
		Findings []struct{ Severity, Check, Service, Detail string }
	}
	if err := json.Unmarshal([]byte(out), &report); err != nil || !report.OK {
		t.Fatalf("audit --json: %v\n%s", err, out)
	}

	appURL, _ := expect(0, "url", "--service", "orders")
	appURL = strings.TrimSpace(appURL)
	conn, err := pgx.Connect(context.Background(), appURL)
	if err != nil {
		t.Fatalf("connect with `url --service orders`: %v", err)
	}
	var user string
	if err := conn.QueryRow(context.Background(), "SELECT current_user").Scan(&user); err != nil || user != "orders_app" {
		t.Errorf("url logs in as %q (%v), want orders_app", user, err)
	}
	conn.Close(context.Background())
	if _, errOut := expect(2, "url", "--service", "nope"); !strings.Contains(errOut, "no such service") {
		t.Errorf("url --service nope: %s", errOut)
	}
	expect(2, "url")

	// A hole opened by hand.
	adminURL, _ := expect(0, "local", "url")
	admin, err := pgx.Connect(context.Background(), strings.Replace(strings.TrimSpace(adminURL), "/postgres?", "/shop?", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(context.Background(), "GRANT CREATE ON SCHEMA public TO PUBLIC; GRANT customers_owner TO orders_app"); err != nil {
		t.Fatal(err)
	}
	out, _ = expect(1, "audit")
	for _, want := range []string{"ISOLATION IS BROKEN", "orders_app can become customers_owner", "PUBLIC holds CREATE on schema public"} {
		if !strings.Contains(out, want) {
			t.Errorf("audit does not say %q:\n%s", want, out)
		}
	}
	out, _ = expect(2, "plan", "--detailed-exitcode")
	for _, want := range []string{`REVOKE CREATE ON SCHEMA "public" FROM PUBLIC CASCADE`, `REVOKE "customers_owner" FROM "orders_app"`} {
		if !strings.Contains(out, want) {
			t.Errorf("plan does not say %q:\n%s", want, out)
		}
	}
	expect(0, "provision")
	expect(0, "audit")

	// A mistake in the manifest: exit 1, nothing changed.
	if err := os.WriteFile(filepath.Join(dir, "schemas", "orders.yaml"), []byte("name: orders\nlinks:\n  - customers.customer(idx)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(context.Background(), "SET ROLE customers_owner; CREATE TABLE customers.customer (id bigint PRIMARY KEY); RESET ROLE"); err != nil {
		t.Fatal(err)
	}
	_, errOut := expect(1, "provision")
	if !strings.Contains(errOut, "has no column idx") || !strings.Contains(errOut, "nothing was changed") {
		t.Errorf("provision with a bad link: %s", errOut)
	}
	expect(0, "provision", "--defer-links")
}
