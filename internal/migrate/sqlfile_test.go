package migrate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseSQL(t *testing.T) {
	src := `-- +goose NO TRANSACTION
-- a comment before Up

-- +goose Up
-- leading comment, dropped
CREATE TABLE t (
    id int -- trailing; not an end
);
INSERT INTO t VALUES (1); -- done

-- +goose StatementBegin
CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    RETURN 1;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION f();
DROP TABLE t;
`
	f, err := ParseSQL("migrations/x/00001_a.sql", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if !f.NoTransaction {
		t.Error("NO TRANSACTION not seen")
	}
	wantUp := []Statement{
		{SQL: "CREATE TABLE t (\n    id int -- trailing; not an end\n);", Line: 6},
		{SQL: "INSERT INTO t VALUES (1); -- done", Line: 9},
		{SQL: "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$\nBEGIN\n    RETURN 1;\nEND\n$$;", Line: 12},
	}
	if len(f.Up) != len(wantUp) {
		t.Fatalf("up = %+v", f.Up)
	}
	for i, w := range wantUp {
		if f.Up[i] != w {
			t.Errorf("up[%d] = %+v, want %+v", i, f.Up[i], w)
		}
	}
	if len(f.Down) != 2 || f.Down[1].SQL != "DROP TABLE t;" || f.Down[1].Line != 21 {
		t.Errorf("down = %+v", f.Down)
	}
	if st, ok := f.Find("DROP TABLE t;", false); !ok || st.Line != 21 {
		t.Errorf("Find = %+v %v", st, ok)
	}
}

func TestParseSQLErrors(t *testing.T) {
	cases := map[string]struct {
		src  string
		line int
		msg  string
	}{
		"no up":            {"SELECT 1;\n", 1, "before `-- +goose Up`"},
		"empty":            {"-- nothing\n", 0, "no `-- +goose Up`"},
		"two ups":          {"-- +goose Up\n-- +goose Up\n", 2, "second"},
		"no semicolon":     {"-- +goose Up\nSELECT 1\n-- +goose Down\n", 2, "semicolon"},
		"unclosed block":   {"-- +goose Up\n-- +goose StatementBegin\nSELECT 1;\n", 3, "never closed"},
		"end without":      {"-- +goose Up\n-- +goose StatementEnd\n", 2, "without a StatementBegin"},
		"unknown":          {"-- +goose Up\n-- +goose Sideways\n", 2, "unknown goose annotation"},
		"indented":         {"  -- +goose Up\n", 1, "beginning of the line"},
		"down before up":   {"-- +goose Down\n", 1, "must follow"},
		"trailing no semi": {"-- +goose Up\nSELECT 1;\n-- +goose Down\nSELECT 2\n", 4, "semicolon"},
	}
	for name, tc := range cases {
		_, err := ParseSQL("m.sql", []byte(tc.src))
		pe, ok := err.(*ParseError)
		if !ok {
			t.Errorf("%s: err = %v, want *ParseError", name, err)
			continue
		}
		if pe.Line != tc.line || !strings.Contains(pe.Msg, tc.msg) {
			t.Errorf("%s: %v, want line %d and %q", name, pe, tc.line, tc.msg)
		}
	}
}

// TestParseShop parses every migration of the example shop.
func TestParseShop(t *testing.T) {
	p := mustLoad(t, copyShop(t))
	n := 0
	for _, svc := range p.Services {
		files, err := LoadFiles(p, svc.Name)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			n++
			if len(f.Up) == 0 || len(f.Down) == 0 {
				t.Errorf("%s: %d up and %d down statements", f.Path, len(f.Up), len(f.Down))
			}
		}
	}
	if n != 9 {
		t.Errorf("%d migrations, want 9", n)
	}
	orders, _ := LoadFiles(p, "orders")
	if !orders[1].NoTransaction || orders[0].NoTransaction {
		t.Error("orders 00002 runs without a transaction, 00001 in one")
	}
}

func TestLoadFilesErrors(t *testing.T) {
	dir := copyShop(t)
	mustWrite(t, dir, "migrations/catalog/00001_dup.sql", "-- +goose Up\nSELECT 1;\n")
	if _, err := LoadFiles(mustLoad(t, dir), "catalog"); err == nil || !strings.Contains(err.Error(), "version 1 is also the version of") {
		t.Errorf("duplicate version: err = %v", err)
	}
	os.Remove(filepath.Join(dir, "migrations/catalog/00001_dup.sql"))
	mustWrite(t, dir, "migrations/catalog/00002_go.go", "package x\n")
	if _, err := LoadFiles(mustLoad(t, dir), "catalog"); err == nil || !strings.Contains(err.Error(), "Go migrations are not supported") {
		t.Errorf("go migration: err = %v", err)
	}
	os.Remove(filepath.Join(dir, "migrations/catalog/00002_go.go"))
	mustWrite(t, dir, "migrations/catalog/README.md", "notes\n")
	mustWrite(t, dir, "migrations/catalog/draft.sql", "not versioned, ignored like goose does\n")
	files, err := LoadFiles(mustLoad(t, dir), "catalog")
	if err != nil || len(files) != 1 {
		t.Errorf("files = %v, err = %v", files, err)
	}
	if files, err := LoadFiles(mustLoad(t, dir), "nosuch"); err != nil || files != nil {
		t.Errorf("a service without migrations: %v %v", files, err)
	}
}

// FuzzParseSQL feeds arbitrary files to the parser: it must not panic, and
// every statement it returns must sit on a line of the file.
func FuzzParseSQL(f *testing.F) {
	for _, s := range []string{
		"-- +goose Up\nSELECT 1;\n-- +goose Down\nSELECT 2;\n",
		"-- +goose Up\n-- +goose StatementBegin\nDO $$ BEGIN END $$;\n-- +goose StatementEnd\n",
		"-- +goose NO TRANSACTION\n-- +goose Up\nCREATE INDEX CONCURRENTLY i ON t (a);\n",
		"-- +goose Up\n-- +goose StatementEnd\n", "SELECT;", "-- +goose Up -- +goose Down\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ParseSQL("m.sql", data)
		if err != nil {
			return
		}
		lines := strings.Count(string(data), "\n") + 1
		for _, st := range append(file.Up, file.Down...) {
			if st.Line < 1 || st.Line > lines || st.SQL == "" {
				t.Fatalf("statement %+v outside a %d-line file", st, lines)
			}
		}
	})
}
