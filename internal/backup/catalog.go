package backup

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/splitschema/splitschema/internal/archive"
	"github.com/splitschema/splitschema/internal/inspect"
	"github.com/splitschema/splitschema/internal/pgsql"
)

// This file holds the catalog reads and writes of backup and restore that
// inspect does not share with verify.

// serverVersion returns the server's version as it prints it and its
// server_version_num.
func serverVersion(ctx context.Context, q inspect.Querier) (archive.Version, error) {
	var v archive.Version
	sv, err := pgsql.ServerVersion(ctx, q)
	if err != nil {
		return v, err
	}
	v.Full, v.Num = sv.Full, sv.Num
	v.Major = v.Num / 10000
	if v.Num < 100000 { // 9.6 is 90600
		v.Major = v.Num / 100
	}
	return v, nil
}

// isSuperuser tells whether the connected role is a superuser.
func isSuperuser(ctx context.Context, q inspect.Querier) (bool, error) {
	var super bool
	err := q.QueryRow(ctx, `SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user`).Scan(&super)
	if err != nil {
		return false, fmt.Errorf("read admin role: %w", err)
	}
	return super, nil
}

// dumpedTable is a table pg_dump dumps. A partitioned table holds no rows
// of its own: its partitions are counted instead.
type dumpedTable struct {
	inspect.TableName
	partitioned bool
}

// dumpedTables lists every table and partitioned table pg_dump will dump:
// those outside the system schemas.
func dumpedTables(ctx context.Context, q inspect.Querier) ([]dumpedTable, error) {
	rows, err := q.Query(ctx, `
		SELECT n.nspname, c.relname, c.relkind = 'p'
		FROM pg_catalog.pg_class c
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p')
		  AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
		  AND c.relpersistence <> 't'
		ORDER BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (dumpedTable, error) {
		var t dumpedTable
		err := r.Scan(&t.Schema, &t.Table, &t.partitioned)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	return out, nil
}

// lockTables takes ACCESS SHARE locks on tables in the current transaction:
// writers go on, DDL on those tables waits until the backup ends.
func lockTables(ctx context.Context, q inspect.Querier, tables []dumpedTable, timeout time.Duration) error {
	if len(tables) == 0 {
		return nil
	}
	if _, err := q.Exec(ctx, fmt.Sprintf("SET LOCAL lock_timeout = %d", timeout.Milliseconds())); err != nil {
		return fmt.Errorf("set lock_timeout: %w", err)
	}
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = t.Sanitize()
	}
	if _, err := q.Exec(ctx, "LOCK TABLE "+strings.Join(names, ", ")+" IN ACCESS SHARE MODE"); err != nil {
		return fmt.Errorf("lock tables: %w", err)
	}
	if _, err := q.Exec(ctx, "SET LOCAL lock_timeout = 0"); err != nil {
		return fmt.Errorf("reset lock_timeout: %w", err)
	}
	return nil
}

// databaseInfo reads what CREATE DATABASE needs to make a twin of the
// current database. It reads pg_database as JSON because its locale
// columns differ between major versions.
func databaseInfo(ctx context.Context, q inspect.Querier) (archive.DatabaseInfo, error) {
	var d archive.DatabaseInfo
	var row map[string]any
	err := q.QueryRow(ctx, `SELECT d.datname, pg_catalog.pg_encoding_to_char(d.encoding), to_jsonb(d)
		FROM pg_catalog.pg_database d WHERE d.datname = current_database()`).Scan(&d.Name, &d.Encoding, &row)
	if err != nil {
		return d, fmt.Errorf("read database properties: %w", err)
	}
	str := func(k string) string { s, _ := row[k].(string); return s }
	d.Collate, d.Ctype = str("datcollate"), str("datctype")
	switch str("datlocprovider") {
	case "c":
		d.LocaleProvider = "libc"
	case "i":
		d.LocaleProvider = "icu"
	case "b":
		d.LocaleProvider = "builtin"
	}
	if d.LocaleProvider != "" && d.LocaleProvider != "libc" {
		d.Locale = str("datlocale")
		if d.Locale == "" {
			d.Locale = str("daticulocale")
		}
	}
	return d, nil
}

// readGlobals reads the roles called names (those that exist), their
// memberships and settings, and the current database's grants and
// settings. With passwords it also reads the roles' password verifiers,
// which needs a superuser.
func readGlobals(ctx context.Context, q inspect.Querier, names []string, passwords bool) (*archive.Globals, error) {
	g := &archive.Globals{Roles: []archive.Role{}, Memberships: []archive.Membership{}, Settings: []archive.Setting{}, DatabaseACL: []archive.Grant{}}
	rows, err := q.Query(ctx, `
		SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin,
		       rolreplication, rolbypassrls, rolconnlimit, rolvaliduntil
		FROM pg_catalog.pg_roles WHERE rolname = ANY($1) ORDER BY rolname`, names)
	if err != nil {
		return nil, fmt.Errorf("read roles: %w", err)
	}
	g.Roles, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (archive.Role, error) {
		var x archive.Role
		var until pgtype.Timestamptz
		err := r.Scan(&x.Name, &x.Superuser, &x.Inherit, &x.CreateRole, &x.CreateDB, &x.Login,
			&x.Replication, &x.BypassRLS, &x.ConnLimit, &until)
		switch {
		case !until.Valid || until.InfinityModifier == pgtype.Infinity:
		case until.InfinityModifier == pgtype.NegativeInfinity:
			t := time.Unix(0, 0).UTC()
			x.ValidUntil = &t
		default:
			t := until.Time.UTC()
			x.ValidUntil = &t
		}
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("read roles: %w", err)
	}
	if passwords {
		for i := range g.Roles {
			var pw *string
			err := q.QueryRow(ctx, `SELECT rolpassword FROM pg_catalog.pg_authid WHERE rolname = $1`, g.Roles[i].Name).Scan(&pw)
			if err != nil {
				return nil, fmt.Errorf("read password verifier of role %s (--with-role-passwords needs a superuser): %w", g.Roles[i].Name, err)
			}
			if pw != nil {
				g.Roles[i].Password = *pw
			}
		}
	}

	rows, err = q.Query(ctx, `
		SELECT r.rolname, m.rolname, to_jsonb(am)
		FROM pg_catalog.pg_auth_members am
		JOIN pg_catalog.pg_roles r ON r.oid = am.roleid
		JOIN pg_catalog.pg_roles m ON m.oid = am.member
		WHERE r.rolname = ANY($1) OR m.rolname = ANY($1)
		ORDER BY 1, 2`, names)
	if err != nil {
		return nil, fmt.Errorf("read role memberships: %w", err)
	}
	g.Memberships, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (archive.Membership, error) {
		var m archive.Membership
		var row map[string]any
		err := r.Scan(&m.Role, &m.Member, &row)
		m.AdminOption, _ = row["admin_option"].(bool)
		if v, ok := row["inherit_option"].(bool); ok {
			m.InheritOption = &v
		}
		if v, ok := row["set_option"].(bool); ok {
			m.SetOption = &v
		}
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("read role memberships: %w", err)
	}

	rows, err = q.Query(ctx, `
		SELECT coalesce(r.rolname, ''), s.setdatabase <> 0, s.setconfig
		FROM pg_catalog.pg_db_role_setting s
		LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.setrole
		WHERE (s.setdatabase = 0 AND r.rolname = ANY($1))
		   OR (s.setdatabase = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
		       AND (s.setrole = 0 OR r.rolname = ANY($1)))
		ORDER BY 1, 2`, names)
	if err != nil {
		return nil, fmt.Errorf("read role settings: %w", err)
	}
	type settingRow struct {
		role   string
		inDB   bool
		config []string
	}
	settings, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (settingRow, error) {
		var s settingRow
		err := r.Scan(&s.role, &s.inDB, &s.config)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("read role settings: %w", err)
	}
	for _, s := range settings {
		for _, kv := range s.config {
			name, value, _ := strings.Cut(kv, "=")
			g.Settings = append(g.Settings, archive.Setting{Role: s.role, InDatabase: s.inDB, Name: name, Value: value})
		}
	}

	var aclNull bool
	if err := q.QueryRow(ctx, `SELECT datacl IS NULL FROM pg_catalog.pg_database WHERE datname = current_database()`).Scan(&aclNull); err != nil {
		return nil, fmt.Errorf("read database privileges: %w", err)
	}
	g.DefaultACL = aclNull
	if !aclNull {
		rows, err = q.Query(ctx, `
			SELECT coalesce(r.rolname, ''), a.privilege_type, a.is_grantable
			FROM pg_catalog.pg_database d
			CROSS JOIN LATERAL aclexplode(d.datacl) a
			LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
			WHERE d.datname = current_database() AND (a.grantee = 0 OR r.rolname = ANY($1))
			ORDER BY 1, 2`, names)
		if err != nil {
			return nil, fmt.Errorf("read database privileges: %w", err)
		}
		g.DatabaseACL, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (archive.Grant, error) {
			var x archive.Grant
			err := r.Scan(&x.Grantee, &x.Privilege, &x.Grantable)
			return x, err
		})
		if err != nil {
			return nil, fmt.Errorf("read database privileges: %w", err)
		}
	}
	return g, nil
}

// existingRoles returns which of names exist on the server.
func existingRoles(ctx context.Context, q inspect.Querier, names []string) (map[string]bool, error) {
	rows, err := q.Query(ctx, `SELECT rolname FROM pg_catalog.pg_roles WHERE rolname = ANY($1)`, names)
	if err != nil {
		return nil, fmt.Errorf("read roles: %w", err)
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read roles: %w", err)
	}
	out := map[string]bool{}
	for _, n := range found {
		out[n] = true
	}
	return out, nil
}

// databaseExists tells whether a database called name exists.
func databaseExists(ctx context.Context, q inspect.Querier, name string) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1)`, name).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("look for database %s: %w", name, err)
	}
	return ok, nil
}

// terminateSessions ends every other session on database name.
func terminateSessions(ctx context.Context, q inspect.Querier, name string) error {
	_, err := q.Exec(ctx, `SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity
		WHERE datname = $1 AND pid <> pg_catalog.pg_backend_pid()`, name)
	if err != nil {
		return fmt.Errorf("end sessions on database %s: %w", name, err)
	}
	return nil
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
