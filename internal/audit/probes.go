package audit

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/gen/pgcatalog"
	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/pgsql"
	"github.com/splitschema/splitschema/internal/secrets"
	"github.com/splitschema/splitschema/internal/target"
)

func qi(parts ...string) string { return pgx.Identifier(parts).Sanitize() }

// readProbeTables lists each service's tables, their probe column and the
// column types of the link targets.
func (a *auditor) readProbeTables(ctx context.Context, conn *pgx.Conn, schemas []string) error {
	q := pgcatalog.New(conn)
	rows, err := q.AuditProbeTables(ctx, schemas)
	if err != nil {
		return fmt.Errorf("audit: list tables: %w", err)
	}
	a.tables = map[string][]probeTable{}
	for _, r := range rows {
		svc := a.bySchema[r.SchemaName]
		a.tables[svc.Name] = append(a.tables[svc.Name], probeTable{schema: r.SchemaName, name: r.Name, column: r.ProbeColumn})
	}
	var tables []string
	for _, svc := range a.p.Services {
		for _, l := range svc.Links {
			tables = append(tables, l.Table)
		}
		for _, r := range svc.Reads {
			tables = append(tables, r.Table)
		}
	}
	types, err := q.AuditLinkColumnTypes(ctx, pgcatalog.AuditLinkColumnTypesParams{Schemas: schemas, Tables: tables})
	if err != nil {
		return fmt.Errorf("audit: link column types: %w", err)
	}
	a.columnTypes, a.columnOrder = map[string]string{}, map[string][]string{}
	for _, t := range types {
		a.columnTypes[t.SchemaName+"."+t.TableName+"."+t.ColumnName] = t.Type
		a.columnOrder[t.SchemaName+"."+t.TableName] = append(a.columnOrder[t.SchemaName+"."+t.TableName], t.ColumnName)
	}
	return nil
}

// probeApp logs in as svc's application role and tries what it must not
// do: read or write another service's tables, create objects anywhere,
// SET ROLE to another role. It also checks it can read its own tables.
func (a *auditor) probeApp(ctx context.Context, admin *pgx.Conn, svc *manifest.Service) error {
	app := a.p.AppRole(svc.Name)
	if r := a.snap.Roles[app]; r == nil || !r.Login {
		return nil // reported by checkRoles
	}
	conn, role := a.loginApp(ctx, svc), ""
	if conn == nil {
		conn, role = admin, app
	} else {
		defer conn.Close(context.WithoutCancel(ctx))
	}
	p, done, err := a.begin(ctx, conn, role, app, svc.Name)
	if err != nil {
		return err
	}
	defer done()
	for _, b := range a.p.OrderedServices() {
		if b == svc {
			continue
		}
		for _, t := range a.tables[b.Name] {
			if err := p.tableProbes(t, b, a.readOf(svc, t, true)); err != nil {
				return err
			}
		}
		if err := p.deny("create", "create a table in schema "+b.Schema+" of service "+b.Name,
			"CREATE TABLE "+qi(b.Schema, probeName)+" (i integer)"); err != nil {
			return err
		}
	}
	for _, x := range []struct{ what, stmt string }{
		{"create a table in its own schema (it is to run DML only)", "CREATE TABLE " + qi(svc.Schema, probeName) + " (i integer)"},
		{"create a table in schema public", "CREATE TABLE " + qi("public", probeName) + " (i integer)"},
		{"create a schema", "CREATE SCHEMA " + qi(probeName)},
	} {
		if err := p.deny("create", x.what, x.stmt); err != nil {
			return err
		}
	}
	// Through the admin's SET ROLE, SET ROLE is checked against the admin:
	// the memberships are then only checked in the catalog.
	for _, other := range a.p.Services {
		for _, r := range []string{a.p.OwnerRole(other.Name), a.p.AppRole(other.Name)} {
			if r == app || a.snap.Roles[r] == nil || role != "" {
				continue
			}
			if err := p.deny("set_role", "become "+r, "SET ROLE "+qi(r)); err != nil {
				return err
			}
		}
	}
	for _, t := range a.tables[svc.Name] {
		err, ierr := p.try("SELECT 1 FROM " + qi(t.schema, t.name) + " LIMIT 1")
		if ierr != nil {
			return ierr
		}
		if err != nil {
			a.add(Warning, "read", svc.Name, "%s cannot read its own table %s: %v; run `splitschema provision`", app, t, err)
		}
	}
	return nil
}

// tableProbes tries to read and write table t of service b; none of the
// writes matches a row.
func (p *prober) tableProbes(t probeTable, b *manifest.Service, read *readProbe) error {
	table := qi(t.schema, t.name)
	if err := p.readProbes(t, b, read); err != nil {
		return err
	}
	probes := []struct{ check, what, stmt string }{
		{"write", "delete from " + t.String(), "DELETE FROM " + table + " WHERE false"},
		{"write", "truncate " + t.String(), "TRUNCATE " + table},
	}
	if t.column != "" {
		col := qi(t.column)
		probes = append(probes,
			struct{ check, what, stmt string }{"write", "insert into " + t.String(), "INSERT INTO " + table + " (" + col + ") SELECT NULL WHERE false"},
			struct{ check, what, stmt string }{"write", "update " + t.String(), "UPDATE " + table + " SET " + col + " = DEFAULT WHERE false"},
		)
	}
	for _, x := range probes {
		if err := p.deny(x.check, x.what+", a table of service "+b.Name, x.stmt); err != nil {
			return err
		}
	}
	return nil
}

// loginApp logs in over the admin's address as svc's application role with
// its real password. Without a password, or when the login fails, it
// reports it and returns nil: the probes then run as the admin with SET ROLE.
func (a *auditor) loginApp(ctx context.Context, svc *manifest.Service) *pgx.Conn {
	app := a.p.AppRole(svc.Name)
	pw, src, err := secrets.Lookup(a.p.Dir, svc.Name)
	if err != nil {
		a.add(Warning, "login", svc.Name, "cannot log in as %s: %v; its attempts ran as the admin with SET ROLE instead, and SET ROLE to other roles was checked in the catalog only", app, err)
		return nil
	}
	cfg := a.srv.Config(a.srv.Database)
	cfg.User, cfg.Password = app, pw
	cfg.RuntimeParams["application_name"] = "splitschema audit"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		a.add(Error, "login", svc.Name, "cannot log in as %s with the password from %s: %s; its attempts ran through SET ROLE instead",
			app, src.Describe(svc.Name), target.Redact(err.Error()))
		return nil
	}
	return conn
}

// probeOwner tries, as svc's owner role, DDL on every other service's
// schema and tables, reads and writes there, creating in schema public, and
// the DROP ... CASCADE of its own tables and columns that another service's
// foreign key depends on, which the guard must stop. It also checks that
// each declared link lets it create its foreign key.
func (a *auditor) probeOwner(ctx context.Context, admin *pgx.Conn, svc *manifest.Service) error {
	owner := a.p.OwnerRole(svc.Name)
	if a.snap.Roles[owner] == nil {
		return nil // reported by checkRoles
	}
	p, done, err := a.begin(ctx, admin, owner, owner, svc.Name)
	if err != nil {
		return err
	}
	defer done()
	for _, b := range a.p.OrderedServices() {
		if b == svc {
			continue
		}
		if err := p.deny("ddl", "create a table in schema "+b.Schema+" of service "+b.Name,
			"CREATE TABLE "+qi(b.Schema, probeName)+" (i integer)"); err != nil {
			return err
		}
		for _, t := range a.tables[b.Name] {
			table := qi(t.schema, t.name)
			if err := p.readProbes(t, b, a.readOf(svc, t, false)); err != nil {
				return err
			}
			for _, x := range []struct{ check, what, stmt string }{
				{"write", "delete from " + t.String(), "DELETE FROM " + table + " WHERE false"},
				{"ddl", "alter " + t.String(), "ALTER TABLE " + table + " ADD COLUMN " + qi(probeName) + " integer"},
				{"ddl", "drop " + t.String(), "DROP TABLE " + table},
			} {
				if err := p.deny(x.check, x.what+", a table of service "+b.Name, x.stmt); err != nil {
					return err
				}
			}
		}
	}
	if err := p.deny("create", "create a table in schema public", "CREATE TABLE "+qi("public", probeName)+" (i integer)"); err != nil {
		return err
	}
	if err := a.probeCascades(p, svc); err != nil {
		return err
	}
	return a.probeLinks(p, svc)
}

// probeCascades tries, for every foreign key another schema holds on svc's
// tables, the drops of svc's own objects that would cascade to it.
func (a *auditor) probeCascades(p *prober, svc *manifest.Service) error {
	seen := map[string]bool{}
	for _, k := range a.foreignKeys {
		if k.ToSchema != svc.Schema || k.FromSchema == svc.Schema {
			continue
		}
		table := qi(k.ToSchema, k.ToTable)
		victim := fmt.Sprintf("drop foreign key %s of %s.%s", k.Name, k.FromSchema, k.FromTable)
		stmts := []string{"DROP TABLE " + table + " CASCADE"}
		for _, c := range k.ToColumns {
			stmts = append(stmts, "ALTER TABLE "+table+" DROP COLUMN "+qi(c)+" CASCADE")
		}
		for _, stmt := range stmts {
			if seen[stmt+victim] {
				continue
			}
			seen[stmt+victim] = true
			err, ierr := p.try(stmt)
			switch {
			case ierr != nil:
				return ierr
			case sqlState(err) == pgsql.InsufficientPrivilege:
			case err == nil:
				a.add(Error, "cascade_drop", svc.Name, "%s can %s through `%s`: the guard did not stop it", p.who, victim, stmt)
			default:
				a.add(Warning, "cascade_drop", svc.Name, "could not tell whether %s can %s: `%s` failed with %v", p.who, victim, stmt, err)
			}
		}
	}
	return nil
}

// probeLinks checks that each declared link whose target exists lets svc's
// owner create its foreign key.
func (a *auditor) probeLinks(p *prober, svc *manifest.Service) error {
	for _, l := range svc.Links {
		to := a.p.Service(l.Service)
		if !slices.ContainsFunc(a.tables[to.Name], func(t probeTable) bool { return t.schema == l.Schema && t.name == l.Table }) {
			continue // reported as a link without foreign key, if at all
		}
		var cols, refs []string
		for i, c := range l.Columns {
			typ, ok := a.columnTypes[l.Qualified()+"."+c]
			if !ok {
				a.add(Error, "link", svc.Name, "link %s: table %s has no column %s", l, l.Qualified(), c)
				return nil
			}
			// typ comes from format_type(), which quotes what needs it.
			cols = append(cols, fmt.Sprintf("c%d %s", i, typ))
			refs = append(refs, fmt.Sprintf("c%d", i))
		}
		quoted := make([]string, len(l.Columns))
		for i, c := range l.Columns {
			quoted[i] = qi(c)
		}
		stmt := fmt.Sprintf("CREATE TABLE %s (%s, FOREIGN KEY (%s) REFERENCES %s (%s))", qi(svc.Schema, probeName),
			strings.Join(cols, ", "), strings.Join(refs, ", "), qi(l.Schema, l.Table), strings.Join(quoted, ", "))
		if err := p.allow("link", "create the foreign key its link "+l.String()+" declares", stmt); err != nil {
			return err
		}
	}
	return nil
}

// readProbe is what a declared read lets a role select from one table: the
// declared columns, and the first column it does not declare ("" when it
// declares them all).
type readProbe struct {
	read       manifest.Read
	undeclared string
}

// readOf returns the read of t that svc declares and that applies to its
// application role (app) or its owner, or nil.
func (a *auditor) readOf(svc *manifest.Service, t probeTable, app bool) *readProbe {
	for _, r := range svc.Reads {
		if r.Schema != t.schema || r.Table != t.name || app && !r.App {
			continue
		}
		rp := &readProbe{read: r}
		for _, c := range a.columnOrder[t.schema+"."+t.name] {
			if !slices.Contains(r.Columns, c) {
				rp.undeclared = c
				break
			}
		}
		return rp
	}
	return nil
}

// readProbes tries to read t: without a read, any SELECT must fail; with
// one, the declared columns must be readable and the others not.
func (p *prober) readProbes(t probeTable, b *manifest.Service, read *readProbe) error {
	table := qi(t.schema, t.name)
	if read == nil {
		return p.deny("read", "read "+t.String()+", a table of service "+b.Name, "SELECT 1 FROM "+table+" LIMIT 1")
	}
	cols := make([]string, len(read.read.Columns))
	for i, c := range read.read.Columns {
		cols[i] = qi(c)
	}
	if err := p.allow("read", "read "+read.read.String()+", which it declares", "SELECT "+strings.Join(cols, ", ")+" FROM "+table+" LIMIT 1"); err != nil {
		return err
	}
	if read.undeclared == "" {
		return nil
	}
	return p.deny("read", "read column "+read.undeclared+" of "+t.String()+", which its read "+read.read.String()+" leaves out",
		"SELECT "+qi(read.undeclared)+" FROM "+table+" LIMIT 1")
}
