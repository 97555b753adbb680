package provision_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/pgtest"
	"github.com/splitschema/splitschema/internal/provision"
	"github.com/splitschema/splitschema/internal/provision/provisiontest"
	"github.com/splitschema/splitschema/internal/target"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func mustShop(tb testing.TB, prefix string) *manifest.Project { return provisiontest.Shop(tb, prefix) }
func mustLoad(tb testing.TB, dir string) *manifest.Project    { return provisiontest.Load(tb, dir) }
func mustWrite(tb testing.TB, path, content string)           { provisiontest.Write(tb, path, content) }
func mustServer(tb testing.TB) *target.Server                 { return provisiontest.Server(tb) }
func ctxFor(tb testing.TB) context.Context                    { return provisiontest.Context(tb) }
func mustConnect(tb testing.TB, srv *target.Server) *pgx.Conn { return provisiontest.Connect(tb, srv) }
func mustMigrate(tb testing.TB, p *manifest.Project, srv *target.Server) {
	provisiontest.Migrate(tb, p, srv)
}

func mustApply(tb testing.TB, p *manifest.Project, srv *target.Server) *provision.Changeset {
	tb.Helper()
	cs, err := provision.Apply(ctxFor(tb), p, srv, nil)
	if err != nil {
		tb.Fatalf("apply: %v", err)
	}
	return cs
}

func mustPlan(tb testing.TB, p *manifest.Project, srv *target.Server) *provision.Changeset {
	tb.Helper()
	cs, err := provision.Plan(ctxFor(tb), p, srv)
	if err != nil {
		tb.Fatalf("plan: %v", err)
	}
	return cs
}

// mustNoChanges fails when a plan is not empty, listing what it holds.
func mustNoChanges(tb testing.TB, p *manifest.Project, srv *target.Server) {
	tb.Helper()
	if cs := mustPlan(tb, p, srv); cs.Pending != 0 {
		tb.Fatalf("plan after provision: %d changes pending, want none:\n%s", cs.Pending, cs.Human())
	}
}

// sqlState returns err's SQLSTATE, "" when it is no PostgreSQL error.
func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// inRolledBack runs fn in a transaction that is rolled back, as role (SET
// ROLE) when role is not "".
func inRolledBack(tb testing.TB, conn *pgx.Conn, role string, fn func(tx pgx.Tx) error) error {
	tb.Helper()
	ctx := ctxFor(tb)
	tx, err := conn.Begin(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if role != "" {
		if _, err := tx.Exec(ctx, "SET LOCAL ROLE "+pgx.Identifier{role}.Sanitize()); err != nil {
			tb.Fatal(err)
		}
	}
	return fn(tx)
}

// execAs runs one statement as role in a rolled-back transaction.
func execAs(tb testing.TB, conn *pgx.Conn, role, sql string) error {
	tb.Helper()
	return inRolledBack(tb, conn, role, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctxFor(tb), sql)
		return err
	})
}

func mustExec(tb testing.TB, conn *pgx.Conn, sql string, args ...any) {
	tb.Helper()
	if _, err := conn.Exec(ctxFor(tb), sql, args...); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}

func q(parts ...string) string { return pgx.Identifier(parts).Sanitize() }

// serverVersion returns server_version_num, e.g. 160004.
func serverVersion(tb testing.TB, conn *pgx.Conn) int {
	tb.Helper()
	var v int
	if err := conn.QueryRow(ctxFor(tb), "SELECT current_setting('server_version_num')::int").Scan(&v); err != nil {
		tb.Fatal(err)
	}
	return v
}
