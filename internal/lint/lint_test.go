package lint

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/pgtest"
	"github.com/splitschema/splitschema/internal/target"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const repoRoot = "../.."

// server is the test cluster, on its maintenance database: lint creates
// and drops a scratch database of its own.
func server(tb testing.TB) *target.Server {
	tb.Helper()
	srv, err := target.FromURL(pgtest.Server(tb).URL, "")
	if err != nil {
		tb.Fatal(err)
	}
	return srv
}

// copyTree copies src over dst.
func copyInto(tb testing.TB, src, dst string) {
	tb.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// fixture is the example shop with a testdata case laid over it.
func fixture(tb testing.TB, name string) *manifest.Project {
	tb.Helper()
	dir := tb.TempDir()
	for _, sub := range []string{"schemas", "migrations"} {
		copyInto(tb, filepath.Join(repoRoot, sub), filepath.Join(dir, sub))
	}
	data, err := os.ReadFile(filepath.Join(repoRoot, manifest.SettingsFile))
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, manifest.SettingsFile), data, 0o644); err != nil {
		tb.Fatal(err)
	}
	copyInto(tb, filepath.Join("testdata", name), dir)
	p, err := manifest.Load(dir)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// want is a finding a case must produce.
type want struct {
	sev   Severity
	check string
	file  string
	line  int
	texts []string // in the message or the hint
}

func (w want) matches(f Finding) bool {
	if f.Severity != w.sev || f.Check != w.check || f.File != w.file || (w.line > 0 && f.Line != w.line) {
		return false
	}
	for _, t := range w.texts {
		if !strings.Contains(f.Message+"\n"+f.Hint, t) {
			return false
		}
	}
	return true
}

func TestLintFixtures(t *testing.T) {
	srv := server(t)
	cases := []struct {
		name   string
		ok     bool
		wants  []want
		errors int // exact number of errors; -1 to skip
	}{
		{"undeclared_link", false, []want{{Error, CheckUndeclaredLink, "migrations/orders/00003_line_sku.sql", 3,
			[]string{"orders references catalog.product(sku) without a declared link", `add "catalog.product(sku)" to links in schemas/orders.yaml`}}}, 1},
		// A scratch failure in another statement of a file with a static
		// finding is another mistake: it is reported, not hidden.
		{"hidden_failure", false, []want{
			{Error, CheckApply, "migrations/orders/00003_sku.sql", 2, []string{"permission denied to create extension"}},
			{Error, CheckUndeclaredLink, "migrations/orders/00003_sku.sql", 3, []string{`add "catalog.product(sku)" to links`}},
		}, 2},
		// A link that would close a cycle is not what the hint suggests.
		{"undeclared_link_cycle", false, []want{{Error, CheckUndeclaredLink, "migrations/customers/00003_last_order.sql", 2,
			[]string{"would close the cycle customers -> orders -> customers", "soft_links", "schemas/customers.yaml"}}}, -1},
		{"undeclared_link_pk", false, []want{{Error, CheckUndeclaredLink, "migrations/payments/00003_payer.sql", 3,
			[]string{`add "customers.customer(id)" to links in schemas/payments.yaml`}}}, 1},
		{"drops_linked_column", false, []want{
			{Error, CheckBreaks, "migrations/customers/00003_drop_id.sql", 5, []string{"drops column customers.customer(id), which orders references", "this breaks orders"}},
			{Error, CheckBreaks, "migrations/customers/00003_drop_id.sql", 5, []string{"which shipping references", "schemas/shipping.yaml"}},
			// From empty, customers migrates before orders has a foreign
			// key, so the guard has nothing to stop: the grants of the
			// links find the column gone.
			{Error, CheckApply, "", 0, []string{"table customers.customer has no column id"}},
		}, 3},
		{"changes_linked_type", false, []want{{Error, CheckBreaks, "migrations/catalog/00002_int_ids.sql", 2,
			[]string{"changes the type of column catalog.product(id), which orders references", "this breaks orders"}}}, -1},
		{"lock_safety", true, []want{
			{Warning, CheckLockSafety, "migrations/orders/00003_status_lookup.sql", 2, []string{"CREATE INDEX on orders.customer_order", "CONCURRENTLY"}},
			{Warning, CheckLockSafety, "migrations/shipping/00003_tracking.sql", 3, []string{"ALTER COLUMN carrier TYPE may rewrite shipping.shipment"}},
			{Warning, CheckLockSafety, "migrations/shipping/00003_tracking.sql", 4, []string{"ADD COLUMN ref with the volatile default gen_random_uuid()"}},
			{Warning, CheckLockSafety, "migrations/shipping/00003_tracking.sql", 6, []string{"SET NOT NULL on shipping.shipment.tracking_code scans"}},
			{Warning, CheckLockSafety, "migrations/shipping/00003_tracking.sql", 7, []string{"ADD CONSTRAINT checks every row", "NOT VALID"}},
		}, 0},
		{"round_trip", false, []want{{Error, CheckRoundTrip, "migrations/catalog/00002_tags.sql", 2,
			[]string{"applying again after rolling back to 0 failed", `relation "tag" already exists`}}}, 1},
		{"cross_schema", false, []want{{Error, CheckApply, "migrations/catalog/00002_sneaky.sql", 3,
			[]string{"permission denied for schema customers", "schema customers belongs to service customers", "CREATE TABLE customers.sneaky"}}}, 1},
		{"broken_sql", false, []want{{Error, CheckApply, "migrations/payments/00003_typo.sql", 3,
			[]string{"syntax error", "42601", "ADD COLUM other"}}}, 1},
		{"set_role", false, []want{{Error, CheckRole, "migrations/customers/00003_escape.sql", 2, []string{"changes its role"}}}, 1},
		{"concurrently_in_tx", false, []want{{Error, CheckTransaction, "migrations/orders/00003_index.sql", 2,
			[]string{"CONCURRENTLY cannot run inside a transaction", "-- +goose NO TRANSACTION"}}}, 1},
		{"fk_action", false, []want{
			{Error, CheckFKAction, "migrations/orders/00003_cascade.sql", 3, []string{"REFERENCES customers.customer ON DELETE CASCADE", "may only be NO ACTION or RESTRICT", "DELETE in customers changes rows of orders"}},
			{Error, CheckFKAction, "migrations/orders/00003_cascade.sql", 5, []string{"ON UPDATE SET NULL"}},
		}, -1},
		// A cross-service foreign key on an existing table, without NOT
		// VALID: a warning each, none for NOT VALID or a new table.
		{"fk_not_valid", true, []want{
			{Warning, CheckLockSafety, "migrations/orders/00003_customer_fk.sql", 3, []string{"to customers.customer checks every row of orders.customer_order while holding SHARE ROW EXCLUSIVE on customers.customer", "every write of service customers", "NOT VALID", "VALIDATE CONSTRAINT"}},
			{Warning, CheckLockSafety, "migrations/orders/00003_customer_fk.sql", 4, []string{"from orders.order_line", "add the column without REFERENCES"}},
		}, 0},
		{"no_up", false, []want{{Error, CheckParse, "migrations/shipping/00003_oops.sql", 1, []string{"-- +goose Up"}}}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := fixture(t, tc.name)
			r, err := Run(context.Background(), p, srv, Options{SkipSqlc: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("report:\n%s", r.Human())
			if r.OK != tc.ok {
				t.Errorf("ok = %v, want %v", r.OK, tc.ok)
			}
			if tc.errors >= 0 && r.Errors != tc.errors {
				t.Errorf("%d errors, want %d", r.Errors, tc.errors)
			}
			for _, w := range tc.wants {
				found := false
				for _, f := range r.Findings {
					found = found || w.matches(f)
				}
				if !found {
					t.Errorf("no finding %+v", w)
				}
			}
			if (tc.name == "lock_safety" || tc.name == "fk_not_valid") && r.Warnings != len(tc.wants) {
				t.Errorf("%d warnings, want %d (no warning for the new table, the constant default or NOT VALID)", r.Warnings, len(tc.wants))
			}
		})
	}
}

// TestLintScratchEscape: lint's scratch run of a migration that hides a
// role change from the text scan cannot act beyond the service's owner on
// the CI's server: the run fails and no role was created.
func TestLintScratchEscape(t *testing.T) {
	srv := server(t)
	p := fixture(t, "scratch_escape")
	r, err := Run(context.Background(), p, srv, Options{SkipSqlc: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", r.Human())
	if r.OK {
		t.Error("lint passed a migration that tries to become superuser")
	}
	found := false
	for _, f := range r.Findings {
		found = found || (f.Severity == Error && f.File == "migrations/customers/00003_escape.sql")
	}
	if !found {
		t.Error("no error on migrations/customers/00003_escape.sql")
	}
	conn, err := pgx.Connect(context.Background(), pgtest.Server(t).URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_roles WHERE rolname = 'lint_escape_marker'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		_, _ = conn.Exec(context.Background(), "DROP ROLE lint_escape_marker")
		t.Error("lint's scratch run created a superuser role on the server")
	}
}

// TestLintExample lints the repository's own shop, gen/ included: it must
// pass without a warning, and leave no scratch database or role behind.
func TestLintExample(t *testing.T) {
	p, err := manifest.Load(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	srv := server(t)
	r, err := Run(context.Background(), p, srv, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK || len(r.Findings) != 0 {
		t.Errorf("lint of the example:\n%s", r.Human())
	}
	if !strings.Contains(strings.Join(r.Checked, ";"), "round trip") || !strings.Contains(strings.Join(r.Checked, ";"), "sqlc") {
		t.Errorf("checked only %v", r.Checked)
	}
	conn, err := srv.Connect(context.Background(), "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var dbs, roles int
	if err := conn.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM pg_database WHERE datname LIKE 'splitschema_lint_%'), (SELECT count(*) FROM pg_roles WHERE rolname ~ '^lint[0-9a-f]{6}_')`).Scan(&dbs, &roles); err != nil {
		t.Fatal(err)
	}
	if dbs != 0 || roles != 0 {
		t.Errorf("%d scratch databases and %d scratch roles left behind", dbs, roles)
	}
}

func TestSqlcStale(t *testing.T) {
	p := fixture(t, "lock_safety")
	if err := os.WriteFile(filepath.Join(p.Dir, manifest.SqlcFile), []byte("version: \"2\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "fake-sqlc")
	diff := "--- a/gen/orders/models.go\n+++ b/gen/orders/models.go\n@@ -1 +1 @@\n-x\n+y\n"
	if err := os.WriteFile(script, []byte(fmt.Sprintf("#!/bin/sh\nprintf '%%s' '%s'\nexit 1\n", diff)), 0o755); err != nil {
		t.Fatal(err)
	}
	r, err := Run(context.Background(), p, nil, Options{Static: true, SqlcCommand: []string{script}})
	if err != nil {
		t.Fatal(err)
	}
	w := want{Error, CheckSqlc, "gen/orders/models.go", 0, []string{"stale", "generate"}}
	found := false
	for _, f := range r.Findings {
		found = found || w.matches(f)
	}
	if !found || r.OK {
		t.Errorf("report:\n%s", r.Human())
	}

	// No sqlc at all is a warning, not a failure.
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho 'error parsing sqlc.yaml: bad' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r, err = Run(context.Background(), p, nil, Options{Static: true, SqlcCommand: []string{script}})
	if err != nil {
		t.Fatal(err)
	}
	if r.OK || !strings.Contains(r.Human(), "sqlc diff failed") {
		t.Errorf("report:\n%s", r.Human())
	}
}

func TestGitHubOutput(t *testing.T) {
	r := &Report{dir: "shop", Findings: []Finding{
		{Severity: Error, Check: CheckUndeclaredLink, File: "migrations/orders/00003_x.sql", Line: 2, Message: "100% wrong,\nreally", Hint: "add it"},
		{Severity: Warning, Check: CheckLockSafety, File: "migrations/a.sql", Line: 7, Message: "slow"},
		{Severity: Error, Check: CheckAudit, Service: "orders", Message: "bad"},
	}}
	r.finish()
	got := r.GitHub()
	for _, w := range []string{
		"::error file=shop/migrations/orders/00003_x.sql,line=2,title=splitschema undeclared-link::100%25 wrong,%0Areally%0Ahint: add it\n",
		"::warning file=shop/migrations/a.sql,line=7,title=splitschema lock-safety::slow\n",
		"::error title=splitschema audit::service orders: bad\n",
		"lint failed: 2 errors, 1 warning\n",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("github output lacks %q:\n%s", w, got)
		}
	}
}

// TestDropReadColumn: a migration that drops a column another service reads
// (a declared read, for its views) breaks that service, like a linked one;
// a column nobody reads may go.
func TestDropReadColumn(t *testing.T) {
	p := fixture(t, "drops_read_column")
	r, err := Run(context.Background(), p, nil, Options{Static: true})
	if err != nil {
		t.Fatal(err)
	}
	w := want{Error, CheckBreaks, "migrations/customers/00003_drop_email.sql", 2, []string{"drops column customers.customer(email), which payments reads", "schemas/payments.yaml"}}
	if !slices.ContainsFunc(r.Findings, w.matches) {
		t.Errorf("no finding %+v in:\n%s", w, r.Human())
	}
	if err := os.WriteFile(filepath.Join(p.Dir, "migrations", "customers", "00003_drop_email.sql"),
		[]byte("-- +goose Up\nALTER TABLE customers.customer DROP COLUMN updated_at;\n\n-- +goose Down\nALTER TABLE customers.customer ADD COLUMN updated_at timestamptz;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r, err = Run(context.Background(), p, nil, Options{Static: true}); err != nil || slices.ContainsFunc(r.Findings, func(f Finding) bool { return f.Check == CheckBreaks }) {
		t.Errorf("dropping a column nobody reads: %v\n%s", err, r.Human())
	}
}
