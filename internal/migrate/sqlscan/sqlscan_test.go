package sqlscan

import (
	"slices"
	"strings"
	"testing"
)

func TestTokens(t *testing.T) {
	sql := `ALTER TABLE "Odd"."T" /* REFERENCES x.y */ ADD COLUMN c text DEFAULT 'it''s -- no comment' -- REFERENCES a.b
, ADD d int DEFAULT E'\'x' CHECK (d > $1) ; SELECT $tag$ REFERENCES q.r $tag$, 1.5`
	var got []string
	for _, tok := range Tokens(sql) {
		got = append(got, tok.Text)
	}
	want := []string{"alter", "table", "Odd", ".", "T", "add", "column", "c", "text", "default", "it's -- no comment",
		",", "add", "d", "int", "default", "'x", "check", "(", "d", ">", "$1", ")", ";", "select", " REFERENCES q.r ", ",", "1.5"}
	if !slices.Equal(got, want) {
		t.Errorf("tokens:\n got %q\nwant %q", got, want)
	}
	if refs := References(Tokens(sql)); len(refs) != 0 {
		t.Errorf("found references in comments or strings: %+v", refs)
	}
}

func TestReferences(t *testing.T) {
	sql := "CREATE TABLE o (a bigint REFERENCES customers.customer (id), b int REFERENCES catalog.product, c int references local_t(x, y))"
	refs := References(Tokens(sql))
	if len(refs) != 3 {
		t.Fatalf("refs = %+v", refs)
	}
	if refs[0].Table != (Name{"customers", "customer"}) || !slices.Equal(refs[0].Columns, []string{"id"}) {
		t.Errorf("refs[0] = %+v", refs[0])
	}
	if refs[1].Table.String() != "catalog.product" || refs[1].Columns != nil {
		t.Errorf("refs[1] = %+v", refs[1])
	}
	if refs[2].Table.Schema != "" || !slices.Equal(refs[2].Columns, []string{"x", "y"}) {
		t.Errorf("refs[2] = %+v", refs[2])
	}
	if !strings.HasPrefix(sql[refs[0].Pos:], "REFERENCES customers") {
		t.Errorf("pos %d points at %q", refs[0].Pos, sql[refs[0].Pos:])
	}
}

func TestSetsRole(t *testing.T) {
	for sql, want := range map[string]bool{
		"SET ROLE postgres;":                               true,
		"set local role none":                              true,
		"SET SESSION ROLE x":                               true,
		"SET SESSION AUTHORIZATION postgres":               true,
		"RESET SESSION AUTHORIZATION":                      true,
		"SELECT set_config('role', 'postgres', false)":     true,
		"SELECT pg_catalog.set_config('ROLE', 'x', true)":  true,
		"DO $$ BEGIN EXECUTE 'x'; SET ROLE none; END $$;":  true,
		"DO $$ BEGIN EXECUTE 'SET ROLE none'; END $$":      true,
		"SET role = 'postgres'":                            true,
		"RESET ROLE":                                       false,
		"SET search_path = x":                              false,
		"SELECT 'SET ROLE postgres'":                       false,
		"-- SET ROLE postgres\nSELECT 1":                   false,
		"CREATE TABLE role (x int)":                        false,
		"SELECT set_config('search_path', 'x', false)":     false,
		"ALTER TABLE t ADD COLUMN role text, ADD c int":    false,
		"UPDATE t SET role = 'admin' WHERE id = 1":         false,
		"COMMENT ON TABLE t IS 'we never SET ROLE here'":   false,
		"CREATE FUNCTION f() AS $$ SELECT 1 $$ LANGUAGE x": false,
	} {
		if _, got := SetsRole(sql); got != want {
			t.Errorf("SetsRole(%q) = %v, want %v", sql, got, want)
		}
	}
}

func TestCreateTable(t *testing.T) {
	tbl, ok := CreateTable(`CREATE TABLE IF NOT EXISTS shop.item (
    id      bigint GENERATED ALWAYS AS IDENTITY,
    price   numeric(10, 2) NOT NULL DEFAULT 0,
    code    serial,
    "Label" varchar(20) COLLATE "C",
    CONSTRAINT item_pk PRIMARY KEY (id, code),
    CHECK (price >= 0)
)`)
	if !ok || tbl.Name != (Name{"shop", "item"}) {
		t.Fatalf("table = %+v, %v", tbl, ok)
	}
	want := []Column{{"id", "bigint"}, {"price", "numeric(10, 2)"}, {"code", "integer"}, {"Label", "varchar(20)"}}
	if !slices.Equal(tbl.Columns, want) {
		t.Errorf("columns = %+v, want %+v", tbl.Columns, want)
	}
	if !slices.Equal(tbl.PrimaryKey, []string{"id", "code"}) {
		t.Errorf("primary key = %v", tbl.PrimaryKey)
	}
	inline, _ := CreateTable("create table t (k text primary key, v int)")
	if !slices.Equal(inline.PrimaryKey, []string{"k"}) {
		t.Errorf("inline primary key = %v", inline.PrimaryKey)
	}
	if _, ok := CreateTable("CREATE INDEX i ON t (a)"); ok {
		t.Error("CREATE INDEX read as a table")
	}
	if n, ok := CreatedTable(Tokens("CREATE UNLOGGED TABLE s.t AS SELECT 1")); !ok || n.String() != "s.t" {
		t.Errorf("CreatedTable = %v %v", n, ok)
	}
}

// FuzzTokens checks the lexer never panics and keeps tokens in order
// within the input.
func FuzzTokens(f *testing.F) {
	for _, s := range []string{"SELECT 'a''b', \"c\"\"d\", $$x$$, $a$ $b$ $a$, E'\\'' -- c\n/* /* */ */ x", "$", "'", "\"", "/*", "$1x", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		prev := -1
		for _, tok := range Tokens(sql) {
			if tok.Pos <= prev || tok.Pos >= len(sql) {
				t.Fatalf("token %+v out of order (previous at %d) in %q", tok, prev, sql)
			}
			prev = tok.Pos
		}
		SetsRole(sql)
		CreateTable(sql)
		References(Tokens(sql))
	})
}
