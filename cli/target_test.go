package cli

import (
	"encoding/json"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/splitschema/splitschema/internal/pgtest"
)

// TestURLOtherDatabaseRefused: a --database-url that names another database
// than the project's (the usual /postgres of a CI service or of `local
// url` before) is refused by every command that connects, before it
// connects; --use-url-database allows it.
func TestURLOtherDatabaseRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shop")
	for _, f := range []string{"splitschema.yaml", "schemas"} {
		copyTree(t, filepath.Join(repoRoot(t), f), filepath.Join(dir, f))
	}
	// Nothing listens on port 1: a command that tried to connect would
	// fail with another message.
	t.Setenv("SPLITSCHEMA_PASSWORD_ORDERS", "a-password-of-the-test") // else url reads the secrets file, not the server
	bad := "postgres://admin:secretpw@127.0.0.1:1/postgres?sslmode=disable"
	for _, cmd := range [][]string{
		{"plan"}, {"provision"}, {"apply"}, {"audit"}, {"migrate", "up"}, {"migrate", "status"},
		{"lint"}, {"url", "--service", "orders"}, {"backup"}, {"restore", "20260101T000000Z"},
		{"verify", "--against", "20260101T000000Z"}, {"backup", "verify", "--restore-test", "20260101T000000Z"},
	} {
		args := append([]string{"--dir", dir, "--database-url", bad}, cmd...)
		code, out, errOut := run(t, args...)
		if code != 1 {
			t.Errorf("%v: exit %d, want 1\nstdout: %s\nstderr: %s", cmd, code, out, errOut)
			continue
		}
		for _, want := range []string{`--database-url names database "postgres"`, `is "shop"`, "/shop", "--use-url-database"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("%v: stderr does not say %s:\n%s", cmd, want, errOut)
			}
		}
		if strings.Contains(errOut, "secretpw") {
			t.Errorf("%v: stderr shows the password:\n%s", cmd, errOut)
		}
	}

	// The check can pass: the project's own database, or --use-url-database.
	testDB := pgtest.NewDatabase(t)
	u, err := url.Parse(testDB)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	if code, _, errOut := run(t, "--dir", dir, "--database-url", testDB, "plan"); code != 1 || !strings.Contains(errOut, name) {
		t.Fatalf("plan on %s: exit %d, stderr %s; want the refusal", name, code, errOut)
	}
	code, out, errOut := run(t, "--dir", dir, "--database-url", testDB, "--use-url-database", "plan", "--json")
	if code != 0 {
		t.Fatalf("plan --use-url-database: exit %d\n%s", code, errOut)
	}
	var plan struct{ Database string }
	if err := json.Unmarshal([]byte(out), &plan); err != nil || plan.Database != name {
		t.Errorf("plan --use-url-database: database = %q (%v), want %s\n%s", plan.Database, err, name, out)
	}
}
