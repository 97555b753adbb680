package inspect

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// BrokenSQL counts exactly the rows a foreign key would refuse, for
// several columns, NULLs, and both match types.
func TestBrokenRows(t *testing.T) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `
		CREATE SCHEMA a; CREATE SCHEMA "B b";
		CREATE TABLE a.p (x int, "Y" text, PRIMARY KEY (x, "Y"));
		INSERT INTO a.p VALUES (1, 'one'), (2, 'two');
		CREATE TABLE "B b".simple (id int, x int, "Y" text, FOREIGN KEY (x, "Y") REFERENCES a.p (x, "Y"));
		CREATE TABLE "B b".full (id int, x int, "Y" text, FOREIGN KEY (x, "Y") REFERENCES a.p (x, "Y") MATCH FULL);
		CREATE TABLE a.inside (id int, x int, "Y" text, FOREIGN KEY (x, "Y") REFERENCES a.p (x, "Y"));
		SET session_replication_role = replica;
		-- ok, ok, partly NULL, all NULL, missing, missing
		INSERT INTO "B b".simple VALUES (1, 1, 'one'), (2, 2, 'two'), (3, 3, NULL), (4, NULL, NULL), (5, 1, 'two'), (6, 9, 'nine');
		INSERT INTO "B b".full SELECT * FROM "B b".simple;
		INSERT INTO a.inside SELECT * FROM "B b".simple;
		RESET session_replication_role;`)
	if err != nil {
		t.Fatal(err)
	}
	fks, err := ForeignKeys(ctx, conn, []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	if len(fks) != 3 {
		t.Fatalf("foreign keys = %+v, want 3 (2 between schemas, 1 inside schema a)", fks)
	}
	want := map[string]int64{"simple": 2, "full": 3, "inside": 2} // MATCH FULL also refuses the partly NULL row
	for _, fk := range fks {
		if len(fk.From.Columns) != 2 || fk.From.Columns[1] != "Y" || fk.To.Schema != "a" || !fk.Validated {
			t.Errorf("foreign key read as %+v", fk)
		}
		sql, err := BrokenSQL(fk)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		if err := conn.QueryRow(ctx, sql).Scan(&n); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		if n != want[fk.From.Table] {
			t.Errorf("%s (match %s): %d broken rows, want %d\n%s", fk.From.Table, fk.Match, n, want[fk.From.Table], sql)
		}
	}
}
