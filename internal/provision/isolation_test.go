package provision_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/pgtest"
	"github.com/splitschema/splitschema/internal/provision"
	"github.com/splitschema/splitschema/internal/secrets"
)

// shopTables lists each service's tables and their first column that is
// neither generated nor an identity (for UPDATE ... SET col = DEFAULT).
func shopTables(t *testing.T, conn *pgx.Conn, p *manifest.Project) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, svc := range p.Services {
		rows, err := conn.Query(ctxFor(t), `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = $1 AND c.relkind = 'r' ORDER BY 1`, svc.Schema)
		if err != nil {
			t.Fatal(err)
		}
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		if len(names) == 0 {
			t.Fatalf("service %s has no tables after migration", svc.Name)
		}
		out[svc.Name] = names
	}
	return out
}

// foreignKeys maps "from service -> to service" to the referenced tables
// and columns of the foreign keys between them.
type fk struct{ toTable, toColumn string }

func crossFKs(t *testing.T, conn *pgx.Conn, p *manifest.Project) map[[2]string][]fk {
	t.Helper()
	rows, err := conn.Query(ctxFor(t), `SELECT fn.nspname, tn.nspname, tc.relname, a.attname
		FROM pg_constraint k
		JOIN pg_class fc ON fc.oid = k.conrelid JOIN pg_namespace fn ON fn.oid = fc.relnamespace
		JOIN pg_class tc ON tc.oid = k.confrelid JOIN pg_namespace tn ON tn.oid = tc.relnamespace
		JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = k.confkey[1]
		WHERE k.contype = 'f' AND fn.nspname <> tn.nspname`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	bySchema := map[string]string{}
	for _, s := range p.Services {
		bySchema[s.Schema] = s.Name
	}
	out := map[[2]string][]fk{}
	for rows.Next() {
		var from, to, table, col string
		if err := rows.Scan(&from, &to, &table, &col); err != nil {
			t.Fatal(err)
		}
		k := [2]string{bySchema[from], bySchema[to]}
		out[k] = append(out[k], fk{table, col})
	}
	return out
}

// TestIsolationEveryPair checks, for every ordered pair (a, b) of the shop's
// services, that a's application role (logged in over TCP with its real
// password) cannot read or write b's tables, that a's owner role cannot
// read, alter, drop or create in b's schema, and that when b holds a foreign
// key to a, a's owner cannot drop it through DROP ... CASCADE or
// DROP COLUMN ... CASCADE: the guard stops it.
func TestIsolationEveryPair(t *testing.T) {
	t.Parallel()
	p := mustShop(t, "t3c_")
	srv := mustServer(t)
	mustApply(t, p, srv)
	mustMigrate(t, p, srv)
	admin := mustConnect(t, srv)
	tables := shopTables(t, admin, p)
	fks := crossFKs(t, admin, p)
	if len(fks) == 0 {
		t.Fatal("the shop has no cross-service foreign keys")
	}
	ctx := ctxFor(t)

	apps := map[string]*pgx.Conn{}
	for _, svc := range p.Services {
		pw, err := secrets.Password(p.Dir, svc.Name)
		if err != nil {
			t.Fatal(err)
		}
		cfg := srv.Config(srv.Database)
		cfg.User, cfg.Password = p.AppRole(svc.Name), pw
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatalf("log in as %s: %v", cfg.User, err)
		}
		t.Cleanup(func() { conn.Close(context.Background()) })
		apps[svc.Name] = conn
	}

	for _, a := range p.Services {
		for _, b := range p.Services {
			if a == b {
				continue
			}
			t.Run(a.Name+"->"+b.Name, func(t *testing.T) {
				appA, ownerA := p.AppRole(a.Name), p.OwnerRole(a.Name)
				for _, table := range tables[b.Name] {
					qt := q(b.Schema, table)
					for _, stmt := range []string{
						"SELECT 1 FROM " + qt + " LIMIT 1",
						"INSERT INTO " + qt + " DEFAULT VALUES",
						"UPDATE " + qt + " SET id = DEFAULT WHERE false",
						"DELETE FROM " + qt + " WHERE false",
						"TRUNCATE " + qt,
						"SELECT * FROM " + q(b.Schema, table) + " FOR UPDATE",
					} {
						if err := execAs(t, apps[a.Name], "", stmt); sqlState(err) != "42501" {
							t.Errorf("%s: %s: err = %v, want permission denied", appA, stmt, err)
						}
						if err := execAs(t, admin, ownerA, stmt); sqlState(err) != "42501" {
							t.Errorf("%s: %s: err = %v, want permission denied", ownerA, stmt, err)
						}
					}
					for _, stmt := range []string{
						"ALTER TABLE " + qt + " ADD COLUMN probe integer",
						"ALTER TABLE " + qt + " DROP COLUMN id CASCADE",
						"DROP TABLE " + qt + " CASCADE",
						"CREATE INDEX ON " + qt + " (id)",
						"GRANT SELECT ON " + qt + " TO " + q(appA),
						"COMMENT ON TABLE " + qt + " IS 'probe'",
					} {
						if err := execAs(t, admin, ownerA, stmt); sqlState(err) != "42501" {
							t.Errorf("%s: %s: err = %v, want permission denied", ownerA, stmt, err)
						}
					}
				}
				for _, stmt := range []string{
					"CREATE TABLE " + q(b.Schema, "probe") + " (i integer)",
					"CREATE VIEW " + q(b.Schema, "probe") + " AS SELECT 1 AS i",
					"CREATE FUNCTION " + q(b.Schema, "probe") + "() RETURNS int LANGUAGE sql AS 'SELECT 1'",
					"DROP SCHEMA " + q(b.Schema) + " CASCADE",
					"ALTER SCHEMA " + q(b.Schema) + " RENAME TO probe",
				} {
					if err := execAs(t, admin, ownerA, stmt); sqlState(err) != "42501" {
						t.Errorf("%s: %s: err = %v, want permission denied", ownerA, stmt, err)
					}
				}
				for _, role := range []string{p.OwnerRole(b.Name), p.AppRole(b.Name), ownerA} {
					if err := execAs(t, apps[a.Name], "", "SET ROLE "+q(role)); sqlState(err) != "42501" {
						t.Errorf("%s: SET ROLE %s: err = %v, want permission denied", appA, role, err)
					}
				}
				// b holds a foreign key to a: a's owner may drop its own
				// table or column, Postgres would cascade into b, the guard
				// must not let it.
				for _, k := range fks[[2]string{b.Name, a.Name}] {
					qt := q(a.Schema, k.toTable)
					for _, stmt := range []string{
						"DROP TABLE " + qt + " CASCADE",
						"ALTER TABLE " + qt + " DROP COLUMN " + q(k.toColumn) + " CASCADE",
						"ALTER TABLE " + qt + " DROP CONSTRAINT " + q(k.toTable+"_pkey") + " CASCADE",
						"DROP SCHEMA " + q(a.Schema) + " CASCADE",
						"DROP OWNED BY " + q(ownerA) + " CASCADE",
					} {
						err := execAs(t, admin, ownerA, stmt)
						// DROP OWNED may already fail on revoking the
						// privileges the owner holds through its own links.
						guarded := err != nil && (strings.Contains(err.Error(), provision.GuardMessagePrefix) ||
							strings.HasPrefix(stmt, "DROP OWNED") && strings.Contains(err.Error(), "permission denied"))
						if sqlState(err) != "42501" || !guarded {
							t.Errorf("%s: %s: err = %v, want the guard to stop it", ownerA, stmt, err)
						}
					}
				}
			})
		}
	}
}

// TestLinksAllowForeignKeysOnly checks that a declared link lets the linking
// owner create its foreign key, and nothing more: no read or write of the
// target, no foreign key to another column or to a table it does not link to.
func TestLinksAllowForeignKeysOnly(t *testing.T) {
	t.Parallel()
	p := mustShop(t, "t3d_")
	srv := mustServer(t)
	mustApply(t, p, srv)
	mustMigrate(t, p, srv)
	admin := mustConnect(t, srv)
	tables := shopTables(t, admin, p)
	// Unique columns no link declares.
	otherKey := map[string]string{"customers.customer": "email", "catalog.product": "sku"}
	checked := 0
	for _, a := range p.Services {
		owner := p.OwnerRole(a.Name)
		probe := q(a.Schema, "probe")
		for _, l := range a.Links {
			to := p.Service(l.Service)
			target := q(to.Schema, l.Table)
			ok := fmt.Sprintf("CREATE TABLE %s (ref bigint REFERENCES %s (%s))", probe, target, q(l.Columns...))
			if err := execAs(t, admin, owner, ok); err != nil {
				t.Errorf("%s: declared link %s: %s: %v", owner, l, ok, err)
			}
			checked++
			denied := []string{
				"SELECT " + q(l.Columns[0]) + " FROM " + target,
				"UPDATE " + target + " SET " + q(l.Columns[0]) + " = DEFAULT WHERE false",
				"ALTER TABLE " + target + " ADD COLUMN probe int",
			}
			if col, ok := otherKey[to.Schema+"."+l.Table]; ok {
				denied = append(denied, fmt.Sprintf("CREATE TABLE %s (ref text REFERENCES %s (%s))", probe, target, q(col)))
			}
			for _, stmt := range denied {
				if err := execAs(t, admin, owner, stmt); sqlState(err) != "42501" {
					t.Errorf("%s: %s: err = %v, want permission denied", owner, stmt, err)
				}
			}
		}
		// A foreign key to any table it declares no link to is refused.
		for _, b := range p.Services {
			for _, table := range tables[b.Name] {
				linked := b == a
				for _, l := range a.Links {
					linked = linked || l.Service == b.Name && l.Table == table
				}
				if linked {
					continue
				}
				stmt := fmt.Sprintf("CREATE TABLE %s (ref bigint REFERENCES %s (id))", probe, q(b.Schema, table))
				if err := execAs(t, admin, owner, stmt); sqlState(err) != "42501" {
					t.Errorf("%s: undeclared link: %s: err = %v, want permission denied", owner, stmt, err)
				}
			}
		}
	}
	if checked != 5 {
		t.Fatalf("checked %d links, the shop declares 5", checked)
	}
}

// TestGuardLetsOwnersAndAdminWork checks what the guard must not stop: an
// owner dropping its own foreign keys and tables (whose internal triggers sit
// on the other service's table), and the admin dropping anything.
func TestGuardLetsOwnersAndAdminWork(t *testing.T) {
	t.Parallel()
	p := mustShop(t, "t3e_")
	srv := mustServer(t)
	mustApply(t, p, srv)
	mustMigrate(t, p, srv)
	admin := mustConnect(t, srv)
	orders := p.OwnerRole("orders")
	for _, stmt := range []string{
		"ALTER TABLE orders.order_line DROP CONSTRAINT order_line_product_id_fkey",
		"DROP TABLE orders.order_line",
		"ALTER TABLE orders.customer_order DROP COLUMN customer_id",
		"DROP INDEX orders.customer_order_customer_id_idx",
		"CREATE TABLE orders.tmp (i int); DROP TABLE orders.tmp",
	} {
		if err := execAs(t, admin, orders, stmt); err != nil {
			t.Errorf("%s: %s: %v", orders, stmt, err)
		}
	}
	for _, stmt := range []string{
		"DROP TABLE customers.customer CASCADE",
		"DROP SCHEMA orders CASCADE",
	} {
		if err := execAs(t, admin, "", stmt); err != nil {
			t.Errorf("admin: %s: %v", stmt, err)
		}
	}
}

// TestGuardSurvivesDumpRestore dumps a provisioned database with pg_dump and
// restores it into a new one: the guard (function, table and event trigger)
// comes back and still works.
func TestGuardSurvivesDumpRestore(t *testing.T) {
	t.Parallel()
	p := mustShop(t, "t3f_")
	srv := mustServer(t)
	mustApply(t, p, srv)
	mustMigrate(t, p, srv)
	restored := mustServer(t)
	dumpRestore(t, srv.Database, restored.Database)
	for _, c := range mustPlan(t, p, restored).Changes {
		if c.Action == "guard" || strings.Contains(c.SQL, "splitschema") {
			t.Errorf("after restore the plan repairs the guard: %s", c.SQL)
		}
	}
	conn := mustConnect(t, restored)
	err := execAs(t, conn, p.OwnerRole("customers"), "DROP TABLE customers.customer CASCADE")
	if sqlState(err) != "42501" || !strings.Contains(err.Error(), provision.GuardMessagePrefix) {
		t.Errorf("after restore: DROP TABLE customers.customer CASCADE: err = %v, want the guard to stop it", err)
	}
}

// dumpRestore copies database from into database to with pg_dump and
// pg_restore, as the cluster's superuser.
func dumpRestore(t *testing.T, from, to string) {
	t.Helper()
	s := pgtest.Server(t)
	file := filepath.Join(t.TempDir(), "dump")
	for _, args := range [][]string{
		{s.ClientProgram(t, "pg_dump"), "-Fc", "-f", file, "-d", from},
		{s.ClientProgram(t, "pg_restore"), "--exit-on-error", "-d", to, file},
	} {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = s.ClientEnv(t, os.Environ())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", filepath.Base(args[0]), err, out)
		}
	}
}
