package pgsql_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/splitschema/splitschema/internal/pgsql"
	"github.com/splitschema/splitschema/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestLiteral(t *testing.T) {
	for in, want := range map[string]string{
		"plain":        "'plain'",
		"it's":         "'it''s'",
		`back\slash`:   `E'back\\slash'`,
		`both\' quote`: `E'both\\'' quote'`,
		"":             "''",
	} {
		if got := pgsql.Literal(in); got != want {
			t.Errorf("pgsql.Literal(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestLiteralRoundTrip: whatever standard_conforming_strings says, the
// server reads back exactly the string that was quoted.
func TestLiteralRoundTrip(t *testing.T) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, scs := range []string{"on", "off"} {
		if _, err := conn.Exec(ctx, "SET standard_conforming_strings = "+scs); err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"plain", "it's", `a\b`, `\'; DROP TABLE x; --`, `\\`, "é\n\t"} {
			var got string
			if err := conn.QueryRow(ctx, "SELECT "+pgsql.Literal(s)).Scan(&got); err != nil || got != s {
				t.Errorf("standard_conforming_strings=%s: SELECT %s = %q, %v; want %q", scs, pgsql.Literal(s), got, err, s)
			}
		}
	}
	v, err := pgsql.ServerVersion(ctx, conn)
	if err != nil || v.Major() < 13 || v.Full == "" {
		t.Errorf("ServerVersion = %+v, %v", v, err)
	}
	if _, err := conn.Exec(ctx, pgsql.DropDatabase("no_such_db_here", v.Major())); err != nil {
		t.Errorf("%s: %v", pgsql.DropDatabase("no_such_db_here", v.Major()), err)
	}
	_, err = conn.Exec(ctx, "SELECT * FROM no_such_table")
	if !pgsql.IsCode(err, pgsql.InsufficientPrivilege, pgsql.UndefinedTable) || pgsql.IsCode(err, pgsql.InsufficientPrivilege) || pgsql.Code(fmt.Errorf("wrapped: %w", err)) != pgsql.UndefinedTable {
		t.Errorf("IsCode/Code on %v", err)
	}
	if pgsql.IsCode(errors.New("plain"), "") || pgsql.Code(&pgconn.PgError{Code: "X"}) != "X" {
		t.Error("Code on a non-PostgreSQL error")
	}
}

func TestDropDatabase(t *testing.T) {
	if got := pgsql.DropDatabase(`we"ird`, 12); got != `DROP DATABASE IF EXISTS "we""ird"` {
		t.Errorf("12: %s", got)
	}
	if got := pgsql.DropDatabase("db", 13); got != `DROP DATABASE IF EXISTS "db" WITH (FORCE)` {
		t.Errorf("13: %s", got)
	}
}
