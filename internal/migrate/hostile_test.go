package migrate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestHostileMigrations runs each attack in testdata/hostile as a new
// migration of catalog under a real `migrate up`. Each tries to leave the
// owner role (or become superuser), then copies another service's table
// into catalog's schema. Postgres must stop every one: the run fails with
// Postgres's own message, nothing was copied, no role of the project holds
// SUPERUSER, the migrator is left without a password, and the admin's
// session is not what the migration ran in.
func TestHostileMigrations(t *testing.T) {
	attacks, err := filepath.Glob("testdata/hostile/*.sql")
	if err != nil || len(attacks) == 0 {
		t.Fatalf("no attacks in testdata/hostile: %v", err)
	}
	for _, path := range attacks {
		name := strings.TrimSuffix(filepath.Base(path), ".sql")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sql, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			s := newShop(t)
			if res := s.up(t); !res.OK {
				t.Fatal(res.Human())
			}
			conn := mustConnect(t, s.srv)
			ctx := context.Background()
			before := othersSnapshot(t, conn, s.p.Settings.Naming.Prefix)
			mustWrite(t, s.dir, "migrations/catalog/00002_"+name+".sql", string(sql))
			s.reload(t)
			res, _ := Up(context.Background(), s.p, s.srv, s.opts("catalog"))
			if after := othersSnapshot(t, conn, s.p.Settings.Naming.Prefix); after != before {
				t.Errorf("the attack changed another service, the toolkit or a role:\nbefore:\n%s\nafter:\n%s", before, after)
			}
			var stolen, supers int
			var migratorPassword bool
			if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_class WHERE relname = 'stolen'").Scan(&stolen); err != nil {
				t.Fatal(err)
			}
			if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_roles WHERE rolsuper AND starts_with(rolname, $1)", s.p.Settings.Naming.Prefix).Scan(&supers); err != nil {
				t.Fatal(err)
			}
			if err := conn.QueryRow(ctx, "SELECT rolpassword IS NOT NULL FROM pg_authid WHERE rolname = $1", s.p.MigratorRole("catalog")).Scan(&migratorPassword); err != nil {
				t.Fatal(err)
			}
			if stolen != 0 {
				t.Errorf("the attack copied customers' table into catalog's schema")
			}
			if supers != 0 {
				t.Errorf("%d role(s) of the project hold SUPERUSER after the attack", supers)
			}
			if migratorPassword {
				t.Errorf("%s still has a password after the run", s.p.MigratorRole("catalog"))
			}
			e := res.Service("catalog").Error
			if e == nil {
				t.Fatalf("the attack migrated without an error:\n%s", res.Human())
			}
			t.Logf("refused: %s", e.Error())
			if v := s.versions(t)["catalog"]; v != 1 {
				t.Errorf("catalog at version %d after a failed migration, want 1", v)
			}
		})
	}
}

// TestSessionStatePerFile: a SET in one migration file does not reach the
// next one, which starts in a session of its own.
func TestSessionStatePerFile(t *testing.T) {
	s := newShop(t)
	mustWrite(t, s.dir, "migrations/catalog/00002_set.sql", `-- +goose Up
SET client_encoding = 'LATIN1';
SET search_path = public;
CREATE TABLE catalog.seen (enc text, path text);

-- +goose Down
DROP TABLE catalog.seen;
`)
	mustWrite(t, s.dir, "migrations/catalog/00003_see.sql", `-- +goose Up
INSERT INTO seen SELECT current_setting('client_encoding'), current_setting('search_path');

-- +goose Down
DELETE FROM seen;
`)
	s.reload(t)
	if res := s.up(t); !res.OK {
		t.Fatal(res.Human())
	}
	var enc, path string
	if err := mustConnect(t, s.srv).QueryRow(context.Background(), "SELECT enc, path FROM catalog.seen").Scan(&enc, &path); err != nil {
		t.Fatal(err)
	}
	if enc != "UTF8" || path != "catalog" {
		t.Errorf("the next file saw client_encoding %s and search_path %s, want UTF8 and catalog: session state leaked", enc, path)
	}
}

// othersSnapshot describes everything outside catalog's schema an attack
// from catalog's migrations could change: the other schemas (the toolkit's
// included), their relations and routines with owners and ACLs, the
// guard's rows, default privileges, extensions, and the attributes and
// memberships of the project's roles (other tests' roles, created
// meanwhile on the same server, are left out: the prefix is the test's).
func othersSnapshot(tb testing.TB, conn *pgx.Conn, prefix string) string {
	tb.Helper()
	var snap string
	err := conn.QueryRow(context.Background(), `
		SELECT string_agg(x, E'\n' ORDER BY x) FROM (
		  SELECT format('schema %s owner=%s acl=%s', nspname, nspowner::regrole, nspacl)
		  FROM pg_namespace WHERE nspname NOT IN ('catalog', 'information_schema') AND nspname NOT LIKE 'pg\_%'
		  UNION ALL
		  SELECT format('rel %s.%s owner=%s acl=%s', n.nspname, c.relname, c.relowner::regrole, c.relacl)
		  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		  WHERE n.nspname NOT IN ('catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
		  UNION ALL
		  SELECT format('routine %s owner=%s acl=%s definer=%s', p.oid::regprocedure, p.proowner::regrole, p.proacl, p.prosecdef)
		  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
		  WHERE n.nspname NOT IN ('catalog', 'information_schema', 'pg_catalog')
		  UNION ALL
		  SELECT format('guarded %s', g) FROM splitschema.service g
		  UNION ALL
		  SELECT format('default acl %s in %s: %s', defaclrole::regrole, defaclnamespace::regnamespace, defaclacl) FROM pg_default_acl
		  UNION ALL
		  SELECT format('extension %s in %s', extname, extnamespace::regnamespace) FROM pg_extension
		  UNION ALL
		  SELECT format('role %s super=%s createrole=%s createdb=%s inherit=%s bypassrls=%s replication=%s',
		                rolname, rolsuper, rolcreaterole, rolcreatedb, rolinherit, rolbypassrls, rolreplication)
		  FROM pg_roles WHERE starts_with(rolname, $1) OR rolname = current_user
		  UNION ALL
		  SELECT format('member %s of %s', m.member::regrole, m.roleid::regrole) FROM pg_auth_members m
		  WHERE starts_with(m.member::regrole::text, $1) OR starts_with(m.roleid::regrole::text, $1)
		) AS s(x)`, prefix).Scan(&snap)
	if err != nil {
		tb.Fatalf("snapshot: %v", err)
	}
	return snap
}
