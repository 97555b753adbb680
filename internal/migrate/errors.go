package migrate

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/migrate/sqlscan"
	"github.com/splitschema/splitschema/internal/pgsql"
	"github.com/splitschema/splitschema/internal/provision"
)

// Error is one migration that failed: which service, file, line and
// statement, and PostgreSQL's error with a hint that says what to do. A
// failed migration that runs in a transaction is rolled back, so the
// service's version is unchanged.
type Error struct {
	Service string `json:"service"`
	// File is the migration's path relative to the project; empty when the
	// failure is not one migration's (the service's lock, say).
	File      string `json:"file,omitempty"`
	Line      int    `json:"line,omitempty"`
	Version   int64  `json:"version,omitempty"`
	Direction string `json:"direction"`
	Statement string `json:"statement,omitempty"`
	// Code is the SQLSTATE, when PostgreSQL raised the error.
	Code    string `json:"sqlstate,omitempty"`
	Message string `json:"message"`
	Detail  string `json:"detail,omitempty"`
	Hint    string `json:"hint,omitempty"`
	// NoTransaction is set when the migration ran outside a transaction:
	// the statements before the failing one stay applied.
	NoTransaction bool  `json:"no_transaction,omitempty"`
	Err           error `json:"-"`
	// rowData is PostgreSQL's detail before the row values in it were
	// redacted out of Detail (see RevealRowData); "" when none were.
	rowData string
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "service %s: ", e.Service)
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		fmt.Fprintf(&b, " (%s): ", e.Direction)
	}
	b.WriteString(e.Message)
	if e.Code != "" {
		fmt.Fprintf(&b, " (SQLSTATE %s)", e.Code)
	}
	if e.Detail != "" {
		fmt.Fprintf(&b, "\n  detail: %s", e.Detail)
	}
	if e.Statement != "" {
		fmt.Fprintf(&b, "\n  statement: %s", shorten(e.Statement))
	}
	if e.Hint != "" {
		fmt.Fprintf(&b, "\n  hint: %s", e.Hint)
	}
	if e.File != "" {
		if e.NoTransaction {
			b.WriteString("\n  this migration runs without a transaction (-- +goose NO TRANSACTION): the statements before the failing one stay applied and the version is not recorded, so a re-run runs them again; keep them safe to repeat (IF NOT EXISTS; a failed CREATE INDEX CONCURRENTLY leaves an INVALID index to drop)")
		} else {
			fmt.Fprintf(&b, "\n  rolled back: %s stays at its previous version", e.Service)
		}
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// shorten keeps a statement readable in a one-screen message.
func shorten(sql string) string {
	lines := strings.Split(strings.TrimSpace(sql), "\n")
	if len(lines) > 6 {
		lines = append(lines[:6], "...")
	}
	return strings.Join(lines, "\n    ")
}

// RunError lists the migrations that failed in one run.
type RunError struct {
	Failures []*Error
}

func (e *RunError) Error() string {
	if len(e.Failures) == 1 {
		return e.Failures[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d services failed to migrate:", len(e.Failures))
	for _, f := range e.Failures {
		b.WriteString("\n")
		b.WriteString(f.Error())
	}
	return b.String()
}

// Unwrap gives errors.As access to every failure.
func (e *RunError) Unwrap() []error {
	out := make([]error, len(e.Failures))
	for i, f := range e.Failures {
		out[i] = f
	}
	return out
}

// rowValues matches the row values PostgreSQL puts in the detail of a
// constraint violation: "Failing row contains (...)." and "Key (cols)=(...)
// already exists." (and is not present, is still referenced, conflicts).
var rowValues = regexp.MustCompile(`(Failing row contains \().*(\)\.?)$|(\)=\().*(\) (?:already exists|is not present|is still referenced|conflicts with))`)

// redactRowData replaces the row values in a detail with "redacted": a CI
// log is no place for customers' data.
func redactRowData(detail string) string {
	return rowValues.ReplaceAllString(detail, "${1}${3}redacted${2}${4}")
}

// RevealRowData puts the row values back into the details of the failures
// of res: for `--show-row-data`.
func (res *Result) RevealRowData() {
	if res == nil {
		return
	}
	for _, s := range res.Services {
		if s.Error != nil && s.Error.rowData != "" {
			s.Error.Detail = s.Error.rowData
		}
	}
}

// pkResolver returns the primary key columns of schema.table, or nil.
type pkResolver func(schema, table string) []string

// describe fills Code, Message, Detail and Hint from err.
func (e *Error) describe(p *manifest.Project, lockTimeout string, pk pkResolver) {
	var pgErr *pgconn.PgError
	if !errors.As(e.Err, &pgErr) {
		e.Message = e.Err.Error()
		return
	}
	e.Code = pgErr.Code
	e.Message = pgErr.Severity + ": " + pgErr.Message
	e.Detail = redactRowData(pgErr.Detail)
	if e.Detail != pgErr.Detail {
		e.rowData = pgErr.Detail
	}
	e.Hint = pgErr.Hint
	if h := hintFor(p, e.Service, e.Statement, pgErr, lockTimeout, pk); h != "" {
		e.Hint = h
	}
	if e.Line > 0 && pgErr.Position > 0 && e.Statement != "" {
		// Position counts characters from 1; point at the line it falls on.
		if off := charOffset(e.Statement, int(pgErr.Position)-1); off >= 0 {
			e.Line += sqlscan.LineOf(e.Statement, off)
		}
	}
}

// charOffset turns a character index into a byte offset of s, or -1.
func charOffset(s string, chars int) int {
	n := 0
	for i := range s {
		if n == chars {
			return i
		}
		n++
	}
	return -1
}

// hintFor says what to do about the common failures of a service's migration.
func hintFor(p *manifest.Project, service, stmt string, pgErr *pgconn.PgError, lockTimeout string, pk pkResolver) string {
	svc := p.Service(service)
	if svc == nil {
		return ""
	}
	switch pgErr.Code {
	case pgsql.InsufficientPrivilege: // insufficient_privilege
		if ge, ok := provision.AsGuardError(pgErr); ok {
			if ge.Kind != provision.GuardDrop {
				return "" // the guard's own hint says what to do
			}
			other, file := "the other service", "its file in schemas/"
			if o := p.ServiceBySchema(ge.Schema); o != nil {
				other, file = o.Name, o.File
			}
			return fmt.Sprintf("this would drop an object of %s (such as its foreign key on a column of %s): it breaks %s. Keep what its links reference; to change that, %s first drops its foreign key in a migration of its own and the link from %s",
				other, service, other, other, file)
		}
		if links := UndeclaredLinks(p, service, stmt, pk); len(links) > 0 {
			hints := make([]string, len(links))
			for i, l := range links {
				hints[i] = l.Hint(svc.File)
			}
			return fmt.Sprintf("%s references another service's table without a declared link: %s, then run `splitschema apply`",
				service, strings.Join(hints, "; "))
		}
		for _, other := range p.Services {
			if other.Name != service && mentionsSchema(pgErr.Message, other.Schema) {
				return fmt.Sprintf("migrations of %s run as %s and may only change schema %s; schema %s belongs to service %s: put this change in %s/, or reference its tables through a link declared in %s",
					service, p.OwnerRole(service), svc.Schema, other.Schema, other.Name, ServiceDir(other.Name), svc.File)
			}
		}
		return fmt.Sprintf("migrations of %s run as %s, which may only change schema %s and reference the columns its links declare", service, p.OwnerRole(service), svc.Schema)
	case pgsql.LockNotAvailable: // lock_not_available
		return fmt.Sprintf("the migration could not get a lock another session holds (a long-running query, transaction or backup) within lock_timeout (%s): it tried in attempts of at most %s, pausing between them so the queries queued behind it could run (a NO TRANSACTION migration waits in one attempt), then gave up; retry when that session is done, or raise lock_timeout in %s", lockTimeout, migrationLockAttempt, manifest.SettingsFile)
	case pgsql.QueryCanceled: // query_canceled
		if strings.Contains(pgErr.Message, "statement timeout") {
			return fmt.Sprintf("the statement ran longer than statement_timeout (%s) and was cancelled; make it cheaper (batch a backfill over several migrations, CREATE INDEX CONCURRENTLY in a NO TRANSACTION migration) or raise statement_timeout in %s", p.Settings.StatementTimeout, manifest.SettingsFile)
		}
	case pgsql.DependentObjectsStillExist: // dependent_objects_still_exist
		if deps := p.Dependants(service); len(deps) > 0 {
			return fmt.Sprintf("other objects depend on it, such as the foreign keys of %s, which link to %s: keep the referenced columns, or first drop those foreign keys in a new migration of %s (never roll back every service for this)", strings.Join(deps, ", "), service, strings.Join(deps, " or "))
		}
	case pgsql.ActiveSQLTransaction: // active_sql_transaction
		return "this statement cannot run inside a transaction block: add a `-- +goose NO TRANSACTION` line at the top of the migration"
	case pgsql.InvalidSchemaName: // invalid_schema_name
		for _, dep := range svc.DependsOn() {
			if d := p.Service(dep); d != nil && mentionsSchema(pgErr.Message, d.Schema) {
				return fmt.Sprintf("schema %s of service %s does not exist yet: run `splitschema apply` to provision it", d.Schema, dep)
			}
		}
	case pgsql.UndefinedTable: // undefined_table
		for _, dep := range svc.DependsOn() {
			if d := p.Service(dep); d != nil && strings.Contains(pgErr.Message, d.Schema+".") {
				return fmt.Sprintf("the table belongs to %s: migrate %s first (`splitschema migrate up` runs services in dependency order)", dep, dep)
			}
		}
	}
	return ""
}

func mentionsSchema(msg, schema string) bool {
	return strings.Contains(msg, "schema "+schema) || strings.Contains(msg, `schema "`+schema+`"`) ||
		strings.Contains(msg, " "+schema+".")
}

// MissingLink is a REFERENCES clause no declared link covers.
type MissingLink struct {
	// Link is the link to declare.
	Link manifest.Link
	// Offset is the byte offset of the REFERENCES keyword in the statement.
	Offset int
	// Cycle is the cycle of services the link would close (the declaring
	// service first), nil when it closes none: then it can only be a soft
	// link, and the foreign key must go.
	Cycle []string
}

// Hint says how to declare the link in file, the service's file: as a link,
// or, when a link would close a cycle, as a soft link without the foreign key.
func (m MissingLink) Hint(file string) string {
	if m.Cycle == nil {
		return fmt.Sprintf("add %q to links in %s", m.Link.String(), file)
	}
	return fmt.Sprintf("a link to %s would close the cycle %s -> %s, which enforced links may not form: drop the REFERENCES clause and declare the reference as a soft link in %s (soft_links: [\"table(column) -> %s\"]), which verify checks like a link",
		m.Link, strings.Join(m.Cycle, " -> "), m.Cycle[0], file, m.Link)
}

// UndeclaredLinks returns the links statement stmt of service's migrations
// would need but that the service does not declare: every REFERENCES to
// another service's schema whose table and columns no link of service
// covers. pk, when not nil, names the primary key columns of a REFERENCES
// that lists none; it may be nil.
func UndeclaredLinks(p *manifest.Project, service, stmt string, pk func(schema, table string) []string) []MissingLink {
	svc := p.Service(service)
	if svc == nil {
		return nil
	}
	var out []MissingLink
	for _, ref := range sqlscan.References(sqlscan.Tokens(stmt)) {
		target := p.ServiceBySchema(ref.Table.Schema)
		if target == nil || target.Name == service {
			continue
		}
		cols := ref.Columns
		if len(cols) == 0 && pk != nil {
			cols = pk(target.Schema, ref.Table.Name)
		}
		if linkCovers(svc, target.Name, ref.Table.Schema, ref.Table.Name, cols) {
			continue
		}
		l := manifest.Link{Service: target.Name, Schema: ref.Table.Schema, Table: ref.Table.Name, Columns: cols}
		if ref.Table.Schema != target.Schema {
			l.Ref = ref.Table.Schema
		}
		if len(cols) == 0 {
			l.Columns = []string{"<its primary key columns>"}
		}
		if !slices.ContainsFunc(out, func(o MissingLink) bool { return o.Link.String() == l.String() }) {
			out = append(out, MissingLink{Link: l, Offset: ref.Pos, Cycle: p.WouldCycle(service, target.Name)})
		}
	}
	return out
}

// linkCovers reports whether a link of svc to service's schema.table holds
// every column in cols (with no columns known, any link to the table counts).
func linkCovers(svc *manifest.Service, service, schema, table string, cols []string) bool {
	return slices.ContainsFunc(svc.Links, func(l manifest.Link) bool {
		return l.Service == service && l.Schema == schema && l.Table == table &&
			!slices.ContainsFunc(cols, func(c string) bool { return !slices.Contains(l.Columns, c) })
	})
}
