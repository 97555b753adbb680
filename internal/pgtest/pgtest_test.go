package pgtest_test

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/localpg"
	"github.com/splitschema/splitschema/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func connect(t *testing.T, connString string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), connString)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func dbName(t *testing.T, connString string) string {
	t.Helper()
	u, err := url.Parse(connString)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(u.Path, "/")
}

func databaseExists(t *testing.T, name string) bool {
	t.Helper()
	var n int
	err := connect(t, pgtest.Server(t).URL).QueryRow(context.Background(),
		"SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func TestNewDatabase(t *testing.T) {
	ctx := context.Background()
	u := pgtest.NewDatabase(t)
	conn := connect(t, u)
	var db string
	var super bool
	if err := conn.QueryRow(ctx, "SELECT current_database(), rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&db, &super); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(db, "t_testnewdatabase_") || db != dbName(t, u) {
		t.Errorf("current_database() = %q, want t_testnewdatabase_<n> as in the URL", db)
	}
	if !super {
		t.Error("URL user is not a superuser")
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE t (id int PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	var fsync string
	if err := conn.QueryRow(ctx, "SHOW fsync").Scan(&fsync); err != nil {
		t.Fatal(err)
	}
	if fsync != "off" {
		t.Errorf("fsync = %s, want off on the test cluster", fsync)
	}
}

// The database goes at cleanup even with a session still connected to it.
func TestDatabaseDroppedAtCleanup(t *testing.T) {
	var name string
	t.Run("uses a database", func(t *testing.T) {
		u := pgtest.NewDatabase(t)
		name = dbName(t, u)
		conn, err := pgx.Connect(context.Background(), u) // deliberately left open
		if err != nil {
			t.Fatal(err)
		}
		_ = conn
		if !databaseExists(t, name) {
			t.Fatalf("database %s missing during the test", name)
		}
	})
	if databaseExists(t, name) {
		t.Errorf("database %s still exists after its test ended", name)
	}
}

func TestParallelDatabases(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]bool{}
	for _, name := range []string{"a", "b", "c", "d"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			u := pgtest.NewDatabase(t)
			if _, err := connect(t, u).Exec(context.Background(), "CREATE ROLE "+pgx.Identifier{"pgtest_role_" + name}.Sanitize()+"; DROP ROLE "+pgx.Identifier{"pgtest_role_" + name}.Sanitize()); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			db := dbName(t, u)
			if seen[db] {
				t.Errorf("database %s handed out twice", db)
			}
			seen[db] = true
		})
	}
}

func TestClientPrograms(t *testing.T) {
	s := pgtest.Server(t)
	u := pgtest.NewDatabase(t)
	if _, err := connect(t, u).Exec(context.Background(), "CREATE TABLE dumped (id int)"); err != nil {
		t.Fatal(err)
	}
	env := append(s.ClientEnv(t, os.Environ()), "PGDATABASE="+dbName(t, u))
	if _, major, err := localpg.ProgramVersion(context.Background(), s.Binaries.Path("pg_dump")); err != nil {
		t.Fatal(err)
	} else if major < s.Binaries.Version {
		// What ClientProgram skips for: pg_dump refuses a newer server.
		cmd := exec.Command(s.Binaries.Path("pg_dump"), "--schema-only")
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "server version mismatch") {
			t.Errorf("pg_dump %d against PostgreSQL %d: err = %v, want a version mismatch:\n%s", major, s.Binaries.Version, err, out)
		}
	}
	cmd := exec.Command(s.ClientProgram(t, "pg_dump"), "--schema-only")
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pg_dump: %v: %s", err, out)
	}
	if !strings.Contains(string(out), "CREATE TABLE public.dumped") {
		t.Errorf("pg_dump output lacks the table:\n%s", out)
	}
}
