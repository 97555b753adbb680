package backup

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/splitschema/splitschema/internal/archive"
)

func TestSplitGUCList(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"customers", []string{"customers"}},
		{`"$user", public`, []string{"$user", "public"}},
		{`a,"b, ""c""",d`, []string{"a", `b, "c"`, "d"}},
		{"", nil},
	} {
		got, err := splitGUCList(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("splitGUCList(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := splitGUCList(`"open`); err == nil {
		t.Error(`splitGUCList("open) accepted`)
	}
}

func TestQuoteLiteral(t *testing.T) {
	for in, want := range map[string]string{
		"plain":    "'plain'",
		"it's":     "'it''s'",
		`back\sla`: `E'back\\sla'`,
	} {
		if got, err := quoteLiteral(in); err != nil || got != want {
			t.Errorf("quoteLiteral(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	if _, err := quoteLiteral("nul\x00"); err == nil {
		t.Error("a NUL byte was quoted")
	}
}

func TestSQL(t *testing.T) {
	until := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	create, err := createRoleSQL(archive.Role{Name: "orders_app", Inherit: true, Login: true, ConnLimit: 20, ValidUntil: &until}, "SCRAM-SHA-256$4096:c2FsdA==$a:b")
	if err != nil {
		t.Fatal(err)
	}
	want := `CREATE ROLE "orders_app" WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 20 VALID UNTIL '2030-01-02T03:04:05Z' PASSWORD 'SCRAM-SHA-256$4096:c2FsdA==$a:b'`
	if create != want {
		t.Errorf("create role:\n got %s\nwant %s", create, want)
	}
	if r := redactPassword(create); strings.Contains(r, "SCRAM") {
		t.Errorf("redactPassword left the verifier: %s", r)
	}
	tr := true
	for _, tc := range []struct {
		m     archive.Membership
		major int
		want  string
	}{
		{archive.Membership{Role: "a", Member: "b"}, 15, `GRANT "a" TO "b"`},
		{archive.Membership{Role: "a", Member: "b", AdminOption: true}, 15, `GRANT "a" TO "b" WITH ADMIN OPTION`},
		{archive.Membership{Role: "a", Member: "b", AdminOption: true, InheritOption: &tr, SetOption: &tr}, 16, `GRANT "a" TO "b" WITH ADMIN TRUE, INHERIT true, SET true`},
	} {
		if got := grantMembershipSQL(tc.m, tc.major); got != tc.want {
			t.Errorf("grant = %s, want %s", got, tc.want)
		}
	}
	for _, tc := range []struct {
		s    archive.Setting
		want string
	}{
		{archive.Setting{Role: "orders_app", InDatabase: true, Name: "search_path", Value: `orders, "$user"`}, `ALTER ROLE "orders_app" IN DATABASE "copy" SET search_path = 'orders', '$user'`},
		{archive.Setting{Role: "orders_app", Name: "statement_timeout", Value: "5s"}, `ALTER ROLE "orders_app" SET statement_timeout = '5s'`},
		{archive.Setting{InDatabase: true, Name: "work_mem", Value: "64MB"}, `ALTER DATABASE "copy" SET work_mem = '64MB'`},
	} {
		got, err := settingSQL(tc.s, "copy")
		if err != nil || got != tc.want {
			t.Errorf("setting = %s, %v; want %s", got, err, tc.want)
		}
	}
	if _, err := settingSQL(archive.Setting{Name: "x; DROP TABLE y", Value: "1"}, "copy"); err == nil {
		t.Error("a setting name with SQL in it was accepted")
	}
	if _, err := databaseGrantSQL(archive.Grant{Privilege: "CONNECT; DROP"}, "copy"); err == nil {
		t.Error("a privilege with SQL in it was accepted")
	}
	stmts, err := databaseSQL(&archive.Globals{DatabaseACL: []archive.Grant{{Grantee: "orders_app", Privilege: "CONNECT"}, {Privilege: "TEMPORARY"}}}, "copy")
	if err != nil {
		t.Fatal(err)
	}
	wantStmts := []string{`REVOKE ALL ON DATABASE "copy" FROM PUBLIC`, `GRANT CONNECT ON DATABASE "copy" TO "orders_app"`, `GRANT TEMPORARY ON DATABASE "copy" TO PUBLIC`}
	if !slices.Equal(stmts, wantStmts) {
		t.Errorf("database statements = %q, want %q", stmts, wantStmts)
	}
}

func FuzzSplitGUCList(f *testing.F) {
	for _, s := range []string{"a", `"$user", public`, `"a""b",c`, ` , `} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		elems, err := splitGUCList(s)
		if err != nil {
			return
		}
		for _, e := range elems {
			if _, err := quoteLiteral(e); err != nil && !strings.ContainsRune(e, 0) {
				t.Fatalf("element %q of %q cannot be quoted: %v", e, s, err)
			}
		}
	})
}
