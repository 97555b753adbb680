package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/splitschema/splitschema/internal/localpg"
)

// TestInitServiceAddApply drives a new project through the commands on its
// own embedded cluster: init, service add, apply twice, migrate, lint.
func TestInitServiceAddApply(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shop")
	t.Cleanup(func() {
		if cl, err := localpg.New(dir, nil); err == nil {
			_ = cl.Destroy(context.Background())
		}
	})
	expect := func(wantCode int, args ...string) (string, string) {
		t.Helper()
		code, out, errOut := run(t, args...)
		if code != wantCode {
			t.Fatalf("%v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, code, wantCode, out, errOut)
		}
		return out, errOut
	}

	out, _ := expect(0, "init", dir)
	if !strings.Contains(out, "created "+filepath.ToSlash(dir)+"/.github/workflows/splitschema.yml") {
		t.Errorf("init output:\n%s", out)
	}
	if _, errOut := expect(1, "init", dir); !strings.Contains(errOut, "already exists; nothing was written") {
		t.Errorf("second init: %s", errOut)
	}
	// Flags may follow the name.
	expect(0, "service", "add", "customers", "--dir", dir, "--description", "Customer accounts.")
	expect(0, "--dir", dir, "service", "add", "orders", "--link", "customers.customers(id)")
	if _, errOut := expect(1, "--dir", dir, "service", "add", "billing", "--link", "nobody.x(id)"); !strings.Contains(errOut, `no service "nobody"`) {
		t.Errorf("link to an unknown service: %s", errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "schemas", "billing.yaml")); err == nil {
		t.Error("a refused service add wrote its file")
	}
	expect(2, "--dir", dir, "service", "add")

	out, _ = expect(2, "--dir", dir, "plan", "--detailed-exitcode")
	if !strings.Contains(out, "migrate orders 0 -> 1: migrations/orders/00001_init.sql") {
		t.Errorf("plan does not list the pending migrations:\n%s", out)
	}
	out, _ = expect(0, "--dir", dir, "apply")
	if !strings.Contains(out, "orders: version 0 -> 1") {
		t.Errorf("apply:\n%s", out)
	}
	out, _ = expect(0, "--dir", dir, "apply")
	if !strings.Contains(out, "nothing changed") {
		t.Errorf("second apply:\n%s", out)
	}
	out, _ = expect(0, "--dir", dir, "plan", "--detailed-exitcode")
	if !strings.Contains(out, "No pending migrations") {
		t.Errorf("plan after apply:\n%s", out)
	}

	out, _ = expect(0, "--dir", dir, "migrate", "status", "--json")
	var st struct {
		Services []struct {
			Service string
			Current int64 `json:"current_version"`
			Pending []any
		}
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || len(st.Services) != 2 || st.Services[1].Current != 1 {
		t.Errorf("status --json: %v\n%s", err, out)
	}

	expect(2, "--dir", dir, "migrate", "down")
	expect(2, "--dir", dir, "migrate", "redo")
	expect(2, "--dir", dir, "migrate", "up", "--to", "1")
	out, _ = expect(0, "--dir", dir, "migrate", "down", "--service", "orders")
	if !strings.Contains(out, "orders: version 1 -> 0") {
		t.Errorf("down:\n%s", out)
	}
	expect(0, "--dir", dir, "migrate", "up", "--service", "orders", "--to", "1")
	expect(0, "--dir", dir, "migrate", "redo", "--service", "orders")

	bad := filepath.Join(dir, "migrations", "orders", "00002_sneaky.sql")
	if err := os.WriteFile(bad, []byte("-- +goose Up\nCREATE TABLE customers.sneaky (id int);\n-- +goose Down\nDROP TABLE customers.sneaky;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ = expect(1, "--dir", dir, "migrate", "up")
	if !strings.Contains(out, "migrations/orders/00002_sneaky.sql:2") || !strings.Contains(out, "permission denied for schema customers") {
		t.Errorf("failed migrate up:\n%s", out)
	}
	out, _ = expect(1, "--dir", dir, "--json", "migrate", "up")
	var res struct {
		OK       bool
		Services []struct {
			Service string
			Error   *struct {
				File     string
				Line     int
				SQLState string `json:"sqlstate"`
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.OK || res.Services[1].Error == nil || res.Services[1].Error.SQLState != "42501" {
		t.Errorf("migrate up --json: %v\n%s", err, out)
	}

	out, _ = expect(1, "--dir", dir, "lint", "--github", "--no-sqlc")
	if !strings.Contains(out, "::error file="+filepath.ToSlash(dir)+"/migrations/orders/00002_sneaky.sql,line=2,") {
		t.Errorf("lint --github:\n%s", out)
	}
	expect(2, "--dir", dir, "--json", "lint", "--github")
	if err := os.Remove(bad); err != nil {
		t.Fatal(err)
	}
	out, _ = expect(0, "--dir", dir, "--json", "lint", "--no-sqlc")
	var lr struct {
		OK     bool
		Errors int
	}
	if err := json.Unmarshal([]byte(out), &lr); err != nil || !lr.OK {
		t.Errorf("lint --json: %v\n%s", err, out)
	}
}

func TestLintGitHubManifestError(t *testing.T) {
	dir := t.TempDir()
	for rel, s := range map[string]string{
		"splitschema.yaml":    "database: shop\n",
		"schemas/orders.yaml": "name: orders\nlinks:\n  - billing.invoice(id)\n",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, rel), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, out, _ := run(t, "--dir", dir, "lint", "--github")
	want := "::error file=" + filepath.ToSlash(dir) + "/schemas/orders.yaml,line=3,title=splitschema manifest::link billing.invoice(id): no service"
	if code != 1 || !strings.Contains(out, want) {
		t.Errorf("exit %d, stdout:\n%s\nwant %s", code, out, want)
	}
}
