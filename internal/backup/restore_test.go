package backup

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/archive"
	"github.com/splitschema/splitschema/internal/backup/backuptest"
	"github.com/splitschema/splitschema/internal/localpg"
	"github.com/splitschema/splitschema/internal/provision"
	"github.com/splitschema/splitschema/internal/secrets"
	"github.com/splitschema/splitschema/internal/target"
)

// secondCluster starts a throwaway cluster of its own, with none of the
// test cluster's roles, and returns its admin URL (database postgres).
func secondCluster(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "splitschema-second-")
	if err != nil {
		t.Fatal(err)
	}
	// As root the server runs as another user, who must get through.
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	project := filepath.Join(dir, "project")
	if err := os.Mkdir(project, 0o700); err != nil {
		t.Fatal(err)
	}
	c, err := localpg.New(project, nil, localpg.WithRuntimeDir(filepath.Join(dir, "server")), localpg.Ephemeral())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.Destroy(ctx); err != nil {
			t.Errorf("destroy second cluster: %v", err)
		}
		os.RemoveAll(dir)
	})
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	u, err := c.AdminURL()
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// appPassword returns the project's own password of each app role.
func appPassword(p string) func(string) (string, error) {
	return func(svc string) (string, error) { return secrets.Password(p, svc) }
}

// Restoring into a brand-new cluster that has none of the roles works:
// the roles are created with their attributes, ownership and grants are
// those of the source, and the services can log in.
func TestRestoreNewCluster(t *testing.T) {
	t.Parallel()
	second := secondCluster(t)
	for _, withPasswords := range []bool{true, false} {
		shop := backuptest.New(t)
		res := mustBackup(t, shop, Options{WithRolePasswords: withPasswords})
		g, err := archive.ReadGlobals(res.Path)
		if err != nil {
			t.Fatal(err)
		}
		if got := hasPasswords(g); got != withPasswords {
			t.Errorf("with passwords %v: roles.json has verifiers: %v", withPasswords, got)
		}
		script, _ := os.ReadFile(filepath.Join(res.Path, archive.RolesScript))
		if got := strings.Contains(string(script), "SCRAM-SHA-256$"); got != withPasswords {
			t.Errorf("with passwords %v: roles.sql has verifiers: %v", withPasswords, got)
		}
		manifestJSON, _ := os.ReadFile(filepath.Join(res.Path, archive.ManifestFile))
		if strings.Contains(string(manifestJSON), "SCRAM") || strings.Contains(string(manifestJSON), "password\":\"") {
			t.Error("the manifest holds a password verifier")
		}

		o := RestoreOptions{TargetURL: replaceDB(second, "shopcopy_"+strings.TrimSuffix(shop.Project.Settings.Naming.Prefix, "_")), Jobs: 2, Audit: backuptest.Audit(shop.Project)}
		if !withPasswords {
			o.AppPassword = appPassword(shop.Project.Dir)
		}
		rr, err := Restore(testCtx(t), shop.Project, shop.Server, res.ID, o)
		if err != nil {
			t.Fatalf("restore into a new cluster: %v", err)
		}
		if want := 3 * len(shop.Project.Services); len(rr.RolesCreated) != want || len(rr.RolesExisting) != 0 {
			t.Errorf("roles created %v, existing %v; want the %d service roles (owner, app, migrator) created", rr.RolesCreated, rr.RolesExisting, want)
		}
		if unmarked := unmarkedRoles(t, o.TargetURL, rr.RolesCreated, rr.Database); len(unmarked) > 0 {
			t.Errorf("restored roles not marked as the project's of database %s: %v", rr.Database, unmarked)
		}
		tsrv, _ := target.FromURL(o.TargetURL, "")
		src := snapshotACL(t, shop.Server)
		dst := snapshotACL(t, tsrv)
		if n := strings.Count(src, "\n"); n < 50 {
			t.Errorf("only %d ownership and privilege lines compared:\n%s", n, src)
		}
		if src != dst {
			t.Errorf("ownership and grants differ after restore:\nsource: %s\ntarget: %s", src, dst)
		}
		// Every service logs in with the project's password and sees its
		// own tables through its search_path.
		for _, svc := range shop.Project.Services {
			pw, err := secrets.Password(shop.Project.Dir, svc.Name)
			if err != nil {
				t.Fatal(err)
			}
			u := tsrv.RoleURL(shop.Project.AppRole(svc.Name), pw)
			conn, err := pgx.Connect(context.Background(), u)
			if err != nil {
				t.Errorf("service %s cannot log in to the restored database: %s", svc.Name, target.Redact(err.Error()))
				continue
			}
			var sp string
			conn.QueryRow(context.Background(), "SHOW search_path").Scan(&sp)
			if sp != svc.Schema {
				t.Errorf("service %s: search_path = %q, want %q", svc.Name, sp, svc.Schema)
			}
			conn.Close(context.Background())
		}
	}
}

// snapshotACL renders the ownership and privileges of everything in the
// service schemas and of the database, for comparing two databases.
func snapshotACL(t *testing.T, srv *target.Server) string {
	t.Helper()
	conn, err := srv.Connect(context.Background(), srv.Database)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var out []string
	rows, err := conn.Query(context.Background(), `
		SELECT 'schema ' || n.nspname || ' owner ' || pg_get_userbyid(n.nspowner) || ' acl ' || coalesce(n.nspacl::text, '-')
		FROM pg_namespace n WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
		UNION ALL
		SELECT 'rel ' || n.nspname || '.' || c.relname || ' owner ' || pg_get_userbyid(c.relowner) || ' acl ' || coalesce(c.relacl::text, '-')
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
		UNION ALL
		SELECT 'col ' || c.relname || '.' || a.attname || ' acl ' || a.attacl::text
		FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE a.attacl IS NOT NULL AND n.nspname !~ '^pg_'
		UNION ALL
		SELECT 'default acl ' || pg_get_userbyid(d.defaclrole) || ' ' || coalesce(n.nspname, '-') || ' ' || d.defaclobjtype::text || ' ' || d.defaclacl::text
		FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
		UNION ALL
		SELECT 'database acl ' || coalesce(regexp_replace(datacl::text, '=([a-zA-Z]*)/[a-z_]+', '=\1', 'g'), '-') FROM pg_database WHERE datname = current_database()
		UNION ALL
		SELECT 'setting ' || r.rolname || ' ' || array_to_string(s.setconfig, ',')
		FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole
		WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
		UNION ALL
		SELECT 'role ' || rolname || ' ' || rolsuper || rolinherit || rolcreaterole || rolcreatedb || rolcanlogin || rolreplication || rolbypassrls
		FROM pg_roles WHERE rolname IN (SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class)
		UNION ALL
		SELECT 'event trigger ' || evtname || ' ' || evtevent || ' ' || evtenabled::text FROM pg_event_trigger
		ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, lines...)
	return strings.Join(out, "\n")
}

// A restore whose verify fails keeps no database that looks whole: it is
// renamed <name>_failed_<id>.
func TestRestoreFailedIsSetAside(t *testing.T) {
	t.Parallel()
	shop := backuptest.New(t)
	res := mustBackup(t, shop, Options{})
	// The manifest says one row more than the dump holds (sealed again,
	// unsigned: its checksum cannot tell).
	m := res.Manifest
	m.Services[0].Tables[0].Rows++
	if err := archive.Write(res.Path, m, nil); err != nil {
		t.Fatal(err)
	}
	db := shop.Server.Database + "_fail"
	rr, err := Restore(testCtx(t), shop.Project, shop.Server, res.ID, restoreOpts(db))
	var re *RestoreError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want a *RestoreError", err)
	}
	t.Log(err)
	want := failedName(db, res.ID)
	if rr.FailedDatabase != want || rr.OK {
		t.Errorf("failed database = %q, ok %v; want %q, false", rr.FailedDatabase, rr.OK, want)
	}
	for _, s := range []string{"renamed " + want, m.Services[0].Tables[0].Name, "differs from the backup"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	for _, name := range []string{db, workName(db, res.ID)} {
		if exists(t, shop, name) {
			t.Errorf("database %s exists after a failed restore", name)
		}
	}
	if !exists(t, shop, want) {
		t.Errorf("database %s was not kept", want)
	}
	backuptest.ExecURL(t, replaceDB(shop.URL, "postgres"), "DROP DATABASE "+pgx.Identifier{want}.Sanitize()+" WITH (FORCE)")
}

// The restore test restores into a scratch database and drops it.
func TestRestoreTest(t *testing.T) {
	t.Parallel()
	shop := backuptest.New(t)
	res := mustBackup(t, shop, Options{})
	check, err := TestRestore(testCtx(t), shop.Project, shop.Server, res.ID, RestoreOptions{Jobs: 2, Audit: passAudit})
	if err != nil {
		t.Fatal(err)
	}
	if !check.OK || check.Restore == nil {
		t.Fatalf("restore test check = %+v, want ok with a restore", check)
	}
	rr := check.Restore
	if !rr.OK || !rr.Dropped || rr.Verify == nil || !rr.Verify.OK {
		t.Errorf("restore test = %+v, want ok and dropped", rr)
	}
	if exists(t, shop, rr.Database) {
		t.Errorf("scratch database %s was not dropped", rr.Database)
	}
}

func TestFailedName(t *testing.T) {
	for _, tc := range []struct{ db, id, want string }{
		{"copy", "20261125T201500Z-3fa9", "copy_failed_20261125t201500z_3fa9"},
		{strings.Repeat("a", 60), "20261125T201500Z-3fa9", strings.Repeat("a", 34) + "_failed_20261125t201500z_3fa9"},
	} {
		if got := failedName(tc.db, tc.id); got != tc.want || len(got) > 63 {
			t.Errorf("failedName(%q) = %q, want %q", tc.db, got, tc.want)
		}
		if got := workName(tc.db, tc.id); len(got) > 63 || !strings.Contains(got, "_restoring_20261125t201500z_3fa9") {
			t.Errorf("workName(%q) = %q", tc.db, got)
		}
	}
}

// A restore interrupted while pg_restore runs (Ctrl-C) stops it and sets
// the database aside under a name that says it failed.
func TestRestoreInterrupted(t *testing.T) {
	t.Parallel()
	shop := backuptest.New(t)
	res := mustBackup(t, shop, Options{})
	db := shop.Server.Database + "_intr"
	ctx, cancel := context.WithCancel(testCtx(t))
	o := restoreOpts(db)
	o.restoreStarted = func(int) { cancel() }
	rr, err := Restore(ctx, shop.Project, shop.Server, res.ID, o)
	var re *RestoreError
	if !errors.As(err, &re) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want a *RestoreError for the cancellation", err)
	}
	t.Log(err)
	if msg := err.Error(); !strings.HasPrefix(msg, "restore of backup "+res.ID+" into database "+db+" interrupted during pg_restore") ||
		strings.Contains(msg, "\n") || !strings.Contains(msg, "renamed "+failedName(db, res.ID)) {
		t.Errorf("message = %q, want one line: interrupted during pg_restore; what became of the database", msg)
	}
	if exists(t, shop, db) || exists(t, shop, workName(db, res.ID)) {
		t.Errorf("after an interrupted restore, %s or its working name exists", db)
	}
	if rr.FailedDatabase != failedName(db, res.ID) || !exists(t, shop, rr.FailedDatabase) {
		t.Errorf("failed database = %q, want %q kept", rr.FailedDatabase, failedName(db, res.ID))
	}
}

// A pg_restore that fails says why: its standard error's tail is in the
// message, not only its exit status.
func TestRestoreToolFailureSaysWhy(t *testing.T) {
	t.Parallel()
	shop := backuptest.New(t)
	res := mustBackup(t, shop, Options{})
	db := shop.Server.Database + "_why"
	o := restoreOpts(db)
	o.restoreStarted = func(int) {
		// End pg_restore's sessions as they come.
		go func() {
			conn, err := pgx.Connect(context.Background(), replaceDB(shop.URL, "postgres"))
			if err != nil {
				return
			}
			defer conn.Close(context.Background())
			for range 500 {
				conn.Exec(context.Background(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, workName(db, res.ID))
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	_, err := Restore(testCtx(t), shop.Project, shop.Server, res.ID, o)
	if err == nil {
		t.Fatal("restore passed with its sessions terminated")
	}
	t.Log(err)
	// The tail of pg_restore's standard error: its own "pg_restore: …"
	// lines, or libpq's FATAL when the session it was on was the one ended.
	msg := err.Error()
	if !strings.Contains(msg, "pg_restore exited with status 1: ") ||
		!(strings.Contains(msg, "pg_restore: ") || strings.Contains(msg, "terminating connection due to administrator command")) {
		t.Errorf("error = %v, want pg_restore's standard error", err)
	}
	backuptest.ExecURL(t, replaceDB(shop.URL, "postgres"), "DROP DATABASE IF EXISTS "+pgx.Identifier{failedName(db, res.ID)}.Sanitize()+" WITH (FORCE)")
}

// unmarkedRoles lists the roles of names whose comment is not the project
// mark of database db.
func unmarkedRoles(t *testing.T, url string, names []string, db string) []string {
	t.Helper()
	conn, err := pgx.Connect(testCtx(t), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(testCtx(t))
	rows, err := conn.Query(testCtx(t), `SELECT rolname FROM pg_roles
		WHERE rolname = ANY($1) AND coalesce(shobj_description(oid, 'pg_authid'), '') <> $2 ORDER BY 1`, names, provision.RoleMark(db))
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}
