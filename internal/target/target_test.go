package target

import (
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://admin:s3cr%40t@127.0.0.1:5432/db":   "postgres://admin:xxxxx@127.0.0.1:5432/db",
		"failed: postgresql://u:p@h/db?sslmode=disable": "failed: postgresql://u:xxxxx@h/db?sslmode=disable",
		"host=h password=hunter2 user=u":                "host=h password=xxxxx user=u",
		"host=h password='a b\\' c' user=u":             "host=h password=xxxxx user=u",
		"postgres://u@h/db":                             "postgres://u@h/db",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestURLDatabase(t *testing.T) {
	s, err := FromURL("postgres://admin:pw@127.0.0.1:5544/shop?sslmode=disable", "fallback")
	if err != nil {
		t.Fatal(err)
	}
	if s.Database != "shop" {
		t.Errorf("database = %q, want shop", s.Database)
	}
	s, err = FromURL("postgres://admin:pw@127.0.0.1:5544?sslmode=disable", "fallback")
	if err != nil {
		t.Fatal(err)
	}
	if s.Database != "fallback" {
		t.Errorf("database = %q, want the project's default", s.Database)
	}
	if u := s.URL("other"); !strings.Contains(u, "/other?") || !strings.Contains(u, ":pw@") {
		t.Errorf("URL = %s", Redact(u))
	}
	env := strings.Join(s.ClientEnv("x"), " ")
	if !strings.Contains(env, "PGPASSWORD=pw") || !strings.Contains(env, "PGDATABASE=x") {
		t.Errorf("client env = %s", env)
	}
	if _, err := FromURL("postgres://u:secretpw@h:notaport/db", "x"); err == nil || strings.Contains(err.Error(), "secretpw") {
		t.Errorf("bad URL error = %v; want an error without the password", err)
	}
}
