package target

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/splitschema/splitschema/internal/pgtest"
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

// TestOtherDatabaseRefused: a URL naming another database than the
// project's is refused unless allowed; the project's own name, or none, is
// accepted.
func TestOtherDatabaseRefused(t *testing.T) {
	ctx := context.Background()
	o := Options{URL: "postgres://admin:pw@127.0.0.1:5544/postgres?sslmode=disable", DefaultDatabase: "myco"}
	_, err := Resolve(ctx, o)
	var oe *OtherDatabaseError
	if !errors.As(err, &oe) || oe.Named != "postgres" || oe.Project != "myco" {
		t.Fatalf("Resolve(/postgres) for project myco: err = %v, want an OtherDatabaseError", err)
	}
	for _, want := range []string{`"postgres"`, `"myco"`, "/myco", "--use-url-database"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %s", err, want)
		}
	}
	if strings.Contains(err.Error(), "pw@") {
		t.Errorf("error shows the password: %v", err)
	}
	o.AllowOtherDatabase = true
	if s, err := Resolve(ctx, o); err != nil || s.Database != "postgres" {
		t.Errorf("allowed: database = %v, err = %v; want postgres", s, err)
	}
	for _, u := range []string{"postgres://admin:pw@127.0.0.1:5544/myco", "postgres://admin:pw@127.0.0.1:5544", "host=h dbname=myco"} {
		s, err := Resolve(ctx, Options{URL: u, DefaultDatabase: "myco"})
		if err != nil || s.Database != "myco" {
			t.Errorf("Resolve(%s): database = %v, err = %v; want myco", u, s, err)
		}
	}
	if _, err := Resolve(ctx, Options{URL: "host=h dbname=other", DefaultDatabase: "myco"}); !errors.As(err, &oe) {
		t.Errorf("keyword/value dbname=other: err = %v, want an OtherDatabaseError", err)
	}
	t.Setenv("PGHOST", "127.0.0.1")
	t.Setenv("PGDATABASE", "postgres")
	if _, err := Resolve(ctx, Options{DefaultDatabase: "myco"}); !errors.As(err, &oe) || oe.Source != "PGDATABASE" {
		t.Errorf("PGDATABASE=postgres: err = %v, want an OtherDatabaseError from PGDATABASE", err)
	}
}

// Client tools get exactly the URL's TLS settings: nothing said is libpq's
// prefer (not require, which fails on a server without TLS), verify-full
// stays verify-full with its certificates (not require, which checks
// nothing).
func TestToolTLSParity(t *testing.T) {
	t.Setenv("PGSSLMODE", "")
	t.Setenv("PGSSLROOTCERT", "")
	c := pgtest.NewCert(t, t.TempDir())
	for _, tc := range []struct {
		url  string
		want []string
		not  []string
	}{
		{"postgres://u:pw@127.0.0.1:5432/db", []string{"PGSSLMODE=prefer"}, []string{"PGSSLROOTCERT="}},
		{"postgres://u:pw@127.0.0.1:5432/db?sslmode=disable", []string{"PGSSLMODE=disable"}, nil},
		{"postgres://u:pw@db.example:5432/db?sslmode=verify-full&sslrootcert=" + c.CA + "&sslcert=" + c.Cert + "&sslkey=" + c.Key,
			[]string{"PGSSLMODE=verify-full", "PGSSLROOTCERT=" + c.CA, "PGSSLCERT=" + c.Cert, "PGSSLKEY=" + c.Key}, nil},
		{"host=127.0.0.1 user=u sslmode=verify-ca sslrootcert='" + c.CA + "'", []string{"PGSSLMODE=verify-ca", "PGSSLROOTCERT=" + c.CA}, nil},
	} {
		s, err := FromURL(tc.url, "x")
		if err != nil {
			t.Fatal(err)
		}
		env := s.ClientEnv("x")
		for _, w := range tc.want {
			if !slices.Contains(env, w) {
				t.Errorf("%s: client env %v lacks %s", Redact(tc.url), env, w)
			}
		}
		for _, n := range tc.not {
			for _, kv := range env {
				if strings.HasPrefix(kv, n) {
					t.Errorf("%s: client env has %s", Redact(tc.url), kv)
				}
			}
		}
		// A service's URL carries the same settings.
		u := s.RoleURL("svc_app", "pw")
		for _, w := range tc.want {
			k, v, _ := strings.Cut(w, "=")
			key := map[string]string{"PGSSLMODE": "sslmode", "PGSSLROOTCERT": "sslrootcert", "PGSSLCERT": "sslcert", "PGSSLKEY": "sslkey"}[k]
			if !strings.Contains(u, key+"="+url.QueryEscape(v)) {
				t.Errorf("role URL %s lacks %s=%s", Redact(u), key, v)
			}
		}
	}
	// Nothing in the URL: the environment's settings, as pgx reads them.
	t.Setenv("PGSSLMODE", "verify-full")
	t.Setenv("PGSSLROOTCERT", c.CA)
	s, err := FromURL("postgres://u@127.0.0.1:5432/db", "x")
	if err != nil {
		t.Fatal(err)
	}
	if env := s.ClientEnv("x"); !slices.Contains(env, "PGSSLMODE=verify-full") || !slices.Contains(env, "PGSSLROOTCERT="+c.CA) {
		t.Errorf("client env %v, want the environment's verify-full", env)
	}
}
