package provision_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/provision"
	"github.com/splitschema/splitschema/internal/secrets"
	"github.com/splitschema/splitschema/internal/target"
)

// mustLogin logs in as svc's application role with the URL of its secrets
// file, and checks the file holds want when want is set.
func mustLogin(t *testing.T, p *manifest.Project, svc, want string) {
	t.Helper()
	u, err := secrets.URL(p.Dir, svc)
	if err != nil {
		t.Fatal(err)
	}
	if want != "" && !strings.Contains(u, ":"+want+"@") {
		t.Errorf("the secrets file of %s does not hold the expected password", svc)
	}
	conn, err := pgx.Connect(ctxFor(t), u)
	if err != nil {
		t.Fatalf("log in as %s with its secrets file: %s", p.AppRole(svc), target.Redact(err.Error()))
	}
	conn.Close(context.Background())
}

// TestPasswords covers where application passwords come from and that they
// appear in no plan, log or error: the variable when set, else a generated
// one; a changed variable is applied; --new-password rotates; a role whose
// password nobody here knows is left alone, with a warning.
func TestPasswords(t *testing.T) {
	p := mustShop(t, "t3m_")
	srv := mustServer(t)
	const first, second = "Orders-First-Passw0rd", "Orders-Second-Passw0rd"
	t.Setenv(secrets.EnvVar("orders"), first)

	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cs, err := provision.Apply(ctxFor(t), p, srv, log)
	if err != nil {
		t.Fatal(err)
	}
	mustLogin(t, p, "orders", first)
	generated := map[string]string{}
	for _, svc := range p.Services {
		pw, err := secrets.Password(p.Dir, svc.Name)
		if err != nil {
			t.Fatal(err)
		}
		generated[svc.Name] = pw
		mustLogin(t, p, svc.Name, "")
	}
	out, _ := json.Marshal(cs)
	for svc, pw := range generated {
		for what, text := range map[string]string{"log": logs.String(), "result": string(out) + cs.Human()} {
			if strings.Contains(text, pw) {
				t.Errorf("the %s shows the password of %s", what, svc)
			}
		}
	}

	// A new value of the variable is applied, and the file follows.
	t.Setenv(secrets.EnvVar("orders"), second)
	plan := mustPlan(t, p, srv)
	if len(plan.Changes) != 1 || plan.Changes[0].SQL != `ALTER ROLE "t3m_orders_app" PASSWORD '***'` ||
		!strings.Contains(plan.Changes[0].Note, "differs from SPLITSCHEMA_PASSWORD_ORDERS") {
		t.Fatalf("plan after changing the variable:\n%s", plan.Human())
	}
	mustApply(t, p, srv)
	mustLogin(t, p, "orders", second)
	mustNoChanges(t, p, srv)

	// The same password set by hand, hashed by the server (SCRAM, then
	// md5): the plan sees it is the declared one.
	conn := mustConnect(t, srv)
	for _, enc := range []string{"scram-sha-256", "md5"} {
		mustExec(t, conn, "SET password_encryption = '"+enc+"'; ALTER ROLE t3m_orders_app PASSWORD '"+second+"'")
		mustNoChanges(t, p, srv)
	}
	mustExec(t, conn, "ALTER ROLE t3m_orders_app PASSWORD 'Something-Else-1'")
	if cs := mustPlan(t, p, srv); cs.Pending != 1 {
		t.Errorf("a password changed by hand: %d changes, want 1", cs.Pending)
	}
	mustApply(t, p, srv)

	// --new-password rotates a generated password.
	cs, err = provision.ApplyWith(ctxFor(t), p, srv, nil, provision.Options{NewPasswords: []string{"customers"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs.Changes) != 1 {
		t.Errorf("--new-password made %d changes, want 1:\n%s", len(cs.Changes), cs.Human())
	}
	if pw, _ := secrets.Password(p.Dir, "customers"); pw == generated["customers"] {
		t.Errorf("--new-password kept the old password")
	}
	mustLogin(t, p, "customers", "")

	// Without the variable nor the file, the password is left alone.
	if err := os.Remove(secrets.Path(p.Dir, "catalog")); err != nil {
		t.Fatal(err)
	}
	plan = mustPlan(t, p, srv)
	if len(plan.Changes) != 0 || len(plan.Warnings) != 1 || !strings.Contains(plan.Warnings[0], "--new-password catalog") {
		t.Errorf("plan without the catalog password:\n%s", plan.Human())
	}
}
