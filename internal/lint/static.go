package lint

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/migrate"
	"github.com/splitschema/splitschema/internal/migrate/sqlscan"
)

// The static checks read the migrations' SQL without a database. They are
// heuristics over a token stream, not a SQL parser: they know the common
// shapes of CREATE INDEX, ALTER TABLE, DROP TABLE and REFERENCES, read
// only the up sections, and treat every table a migration did not create
// itself as one that already holds rows.

// volatileFuncs are functions whose use as a column default makes ADD
// COLUMN rewrite the table.
var volatileFuncs = map[string]bool{
	"random": true, "clock_timestamp": true, "timeofday": true, "gen_random_uuid": true,
	"uuid_generate_v1": true, "uuid_generate_v1mc": true, "uuid_generate_v4": true, "uuidv4": true,
	"uuidv7": true, "nextval": true, "txid_current": true, "pg_current_xact_id": true,
}

// serialTypes get a nextval() default, so adding one rewrites the table.
var serialTypes = map[string]bool{
	"serial": true, "serial2": true, "serial4": true, "serial8": true,
	"smallserial": true, "bigserial": true,
}

// dependantLink is a link another service declares on one of a service's tables.
type dependantLink struct {
	service string // the service that declares the link
	file    string // its service file
	link    manifest.Link
	read    bool // a declared read (a view of service reads it), not a link
}

// scanner holds what the static checks of one project need.
type scanner struct {
	p     *manifest.Project
	r     *Report
	files map[string][]*migrate.File
	// pk maps schema.table to its primary key columns, as created by the
	// migrations, for REFERENCES clauses that list no columns.
	pk map[string][]string
}

// staticChecks runs every check that needs no database and returns the
// services whose files could not be read.
func staticChecks(p *manifest.Project, r *Report) {
	s := &scanner{p: p, r: r, files: map[string][]*migrate.File{}, pk: map[string][]string{}}
	for _, svc := range p.OrderedServices() {
		files, err := migrate.LoadFiles(p, svc.Name)
		if err != nil {
			f := Finding{Severity: Error, Check: CheckParse, Service: svc.Name, Message: err.Error()}
			var pe *migrate.ParseError
			if errors.As(err, &pe) {
				f.File, f.Line, f.Message = pe.Path, pe.Line, pe.Msg
				f.Hint = "goose reads: -- +goose Up, the statements each ending with ; at the end of a line, -- +goose Down, and its statements; -- +goose StatementBegin/End around a statement that holds semicolons"
			}
			r.add(f)
			continue
		}
		s.files[svc.Name] = files
		for _, f := range files {
			for _, st := range f.Up {
				if t, ok := sqlscan.CreateTable(st.SQL); ok && len(t.PrimaryKey) > 0 && (t.Name.Schema == "" || t.Name.Schema == svc.Schema) {
					s.pk[svc.Schema+"."+t.Name.Name] = t.PrimaryKey
				}
			}
		}
	}
	for _, svc := range p.OrderedServices() {
		s.scanService(svc)
	}
}

func (s *scanner) scanService(svc *manifest.Service) {
	deps := map[string][]dependantLink{} // table -> links on it
	for _, other := range s.p.Services {
		for _, l := range other.Links {
			if l.Service == svc.Name && l.Schema == svc.Schema {
				deps[l.Table] = append(deps[l.Table], dependantLink{service: other.Name, file: other.File, link: l})
			}
		}
		for _, r := range other.Reads {
			if r.Service == svc.Name && r.Schema == svc.Schema {
				deps[r.Table] = append(deps[r.Table], dependantLink{service: other.Name, file: other.File, link: r.Link, read: true})
			}
		}
	}
	ss := &serviceScan{scanner: s, svc: svc, deps: deps}
	for _, f := range s.files[svc.Name] {
		ss.file = f
		ss.created = map[string]bool{}
		for _, st := range f.Up {
			ss.statement(st)
		}
		for _, st := range f.Down {
			if off, ok := sqlscan.SetsRole(st.SQL); ok {
				ss.finding(Error, CheckRole, st, off, "the down migration changes its role", roleHint)
			}
		}
	}
}

const roleHint = "migrations run as the service's owner role, which is what keeps a service inside its own schema: remove SET ROLE / SET SESSION AUTHORIZATION / set_config('role', ...)"

// serviceScan walks one service's migrations in order.
type serviceScan struct {
	*scanner
	svc     *manifest.Service
	deps    map[string][]dependantLink
	file    *migrate.File
	created map[string]bool // tables the current file creates
	// notNull holds "table.column" pairs a CHECK (column IS NOT NULL) covers.
	notNull []string
}

func (ss *serviceScan) finding(sev Severity, check string, st migrate.Statement, off int, msg, hint string) {
	if sev == Error {
		ss.r.staticSpans = append(ss.r.staticSpans, span{file: ss.file.Path, first: st.Line, last: st.Line + strings.Count(st.SQL, "\n")})
	}
	ss.r.add(Finding{
		Severity: sev, Check: check, Service: ss.svc.Name, File: ss.file.Path,
		Line: st.Line + sqlscan.LineOf(st.SQL, off), Message: msg, Hint: hint,
	})
}

// own returns the table name when n is in the service's primary schema.
func (ss *serviceScan) own(n sqlscan.Name) (string, bool) {
	if n.Schema != "" && n.Schema != ss.svc.Schema {
		return "", false
	}
	return n.Name, true
}

func (ss *serviceScan) statement(st migrate.Statement) {
	toks := sqlscan.Tokens(st.SQL)
	if len(toks) == 0 {
		return
	}
	if off, ok := sqlscan.SetsRole(st.SQL); ok {
		ss.finding(Error, CheckRole, st, off, "the migration changes its role", roleHint)
	}
	if !ss.file.NoTransaction {
		for i, t := range toks {
			if t.Is("concurrently") && i > 0 && (toks[0].Is("create") || toks[0].Is("drop") || toks[0].Is("reindex") || toks[0].Is("refresh")) {
				ss.finding(Error, CheckTransaction, st, t.Pos,
					"CONCURRENTLY cannot run inside a transaction, and this migration runs in one",
					"add a `-- +goose NO TRANSACTION` line at the top of the file, and keep such a migration to the concurrent statements")
				break
			}
		}
	}
	pk := func(schema, table string) []string { return ss.pk[schema+"."+table] }
	for _, m := range migrate.UndeclaredLinks(ss.p, ss.svc.Name, st.SQL, pk) {
		ss.finding(Error, CheckUndeclaredLink, st, m.Offset,
			fmt.Sprintf("%s references %s without a declared link; the foreign key fails with permission denied", ss.svc.Name, m.Link),
			m.Hint(ss.svc.File))
	}
	for _, ref := range sqlscan.References(toks) {
		if ref.Table.Schema == "" || ss.svc.OwnsSchema(ref.Table.Schema) {
			continue
		}
		for _, a := range fkActions(toks, ref.Pos) {
			other := ref.Table.Schema
			if o := ss.p.ServiceBySchema(other); o != nil {
				other = o.Name
			}
			ss.finding(Error, CheckFKAction, st, a.pos,
				fmt.Sprintf("REFERENCES %s %s: a foreign key to another service may only be NO ACTION or RESTRICT; the guard refuses it", ref.Table, a.action),
				fmt.Sprintf("with %s, a %s in %s changes rows of %s, and the triggers of %s on those rows run as the role of %s: drop the action (NO ACTION is the default) and have %s clean up its own rows",
					a.action, a.verb, other, ss.svc.Name, ss.svc.Name, other, ss.svc.Name))
		}
		if ss.p.ServiceBySchema(ref.Table.Schema) == nil {
			ss.finding(Warning, CheckUndeclaredLink, st, ref.Pos,
				fmt.Sprintf("REFERENCES %s: schema %s belongs to no service of the project", ref.Table, ref.Table.Schema), "")
		}
	}
	switch {
	case toks[0].Is("create"):
		ss.create(st, toks)
	case len(toks) > 1 && toks[0].Is("alter") && toks[1].Is("table"):
		ss.alterTable(st, toks)
	case len(toks) > 1 && toks[0].Is("drop") && toks[1].Is("table"):
		ss.dropTable(st, toks)
	case len(toks) > 1 && toks[0].Is("drop") && toks[1].Is("schema"):
		for _, t := range toks[2:] {
			if t.IsName() && t.Text == ss.svc.Schema {
				for table := range ss.deps {
					ss.breaks(st, t.Pos, table, "", "drops schema "+ss.svc.Schema+" and with it table")
				}
			}
		}
	}
}

// create handles CREATE TABLE and CREATE INDEX.
func (ss *serviceScan) create(st migrate.Statement, toks []sqlscan.Token) {
	if n, ok := sqlscan.CreatedTable(toks); ok {
		if table, ok := ss.own(n); ok {
			ss.created[table] = true
		}
		return
	}
	// A materialized view made in this file is as new as a table: nobody
	// writes to it while its indexes build.
	if len(toks) > 3 && toks[1].Is("materialized") && toks[2].Is("view") {
		i := 3
		if i+2 < len(toks) && toks[i].Is("if") && toks[i+1].Is("not") && toks[i+2].Is("exists") {
			i += 3
		}
		if n, _, ok := sqlscan.ReadName(toks, i); ok {
			if table, ok := ss.own(n); ok {
				ss.created[table] = true
			}
		}
		return
	}
	i := 1
	if i < len(toks) && toks[i].Is("unique") {
		i++
	}
	if i >= len(toks) || !toks[i].Is("index") {
		return
	}
	i++
	concurrently := i < len(toks) && toks[i].Is("concurrently")
	for i < len(toks) && !toks[i].Is("on") {
		i++
	}
	if i+1 < len(toks) && toks[i+1].Is("only") {
		i++
	}
	n, _, ok := sqlscan.ReadName(toks, i+1)
	if !ok || concurrently {
		return
	}
	table, ok := ss.own(n)
	if !ok || ss.created[table] {
		return
	}
	ss.finding(Warning, CheckLockSafety, st, toks[0].Pos,
		fmt.Sprintf("CREATE INDEX on %s.%s, which exists before this migration, blocks every write to it while the index builds", ss.svc.Schema, table),
		"use CREATE INDEX CONCURRENTLY, in a migration of its own that starts with `-- +goose NO TRANSACTION`")
}

// dropTable handles DROP TABLE a, b.
func (ss *serviceScan) dropTable(st migrate.Statement, toks []sqlscan.Token) {
	i := 2
	if i+1 < len(toks) && toks[i].Is("if") && toks[i+1].Is("exists") {
		i += 2
	}
	for i < len(toks) {
		n, next, ok := sqlscan.ReadName(toks, i)
		if !ok {
			return
		}
		if table, ok := ss.own(n); ok {
			ss.breaks(st, toks[i].Pos, table, "", "drops table")
			delete(ss.created, table)
		}
		if next >= len(toks) || !toks[next].IsPunct(",") {
			return
		}
		i = next + 1
	}
}

// alterTable handles the actions of one ALTER TABLE.
func (ss *serviceScan) alterTable(st migrate.Statement, toks []sqlscan.Token) {
	i := 2
	if i+1 < len(toks) && toks[i].Is("if") && toks[i+1].Is("exists") {
		i += 2
	}
	if i < len(toks) && toks[i].Is("only") {
		i++
	}
	n, i, ok := sqlscan.ReadName(toks, i)
	if !ok {
		return
	}
	table, ok := ss.own(n)
	if !ok {
		return
	}
	if i < len(toks) && toks[i].IsPunct("*") {
		i++
	}
	existing := !ss.created[table]
	for _, a := range splitActions(toks[i:]) {
		ss.action(st, table, existing, a)
	}
}

// splitActions splits ALTER TABLE actions at the commas outside parentheses.
func splitActions(toks []sqlscan.Token) [][]sqlscan.Token {
	var out [][]sqlscan.Token
	depth, start := 0, 0
	for i, t := range toks {
		switch {
		case t.IsPunct("("):
			depth++
		case t.IsPunct(")"):
			depth--
		case t.IsPunct(",") && depth == 0:
			out = append(out, toks[start:i])
			start = i + 1
		case t.IsPunct(";") && depth == 0:
			out = append(out, toks[start:i])
			return out
		}
	}
	return append(out, toks[start:])
}

func word(a []sqlscan.Token, i int, w string) bool { return i < len(a) && a[i].Is(w) }

func (ss *serviceScan) action(st migrate.Statement, table string, existing bool, a []sqlscan.Token) {
	if len(a) == 0 {
		return
	}
	qualified := ss.svc.Schema + "." + table
	switch {
	case a[0].Is("rename") && word(a, 1, "to"):
		ss.breaks(st, a[0].Pos, table, "", "renames table")
	case a[0].Is("rename") && !word(a, 1, "constraint"):
		j := 1
		if word(a, j, "column") {
			j++
		}
		if j < len(a) && a[j].IsName() {
			ss.breaks(st, a[0].Pos, table, a[j].Text, "renames column")
		}
	case a[0].Is("set") && word(a, 1, "schema"):
		ss.breaks(st, a[0].Pos, table, "", "moves table")
	case a[0].Is("drop") && !word(a, 1, "constraint"):
		j := 1
		if word(a, j, "column") {
			j++
		}
		if word(a, j, "if") && word(a, j+1, "exists") {
			j += 2
		}
		if j < len(a) && a[j].IsName() {
			ss.breaks(st, a[0].Pos, table, a[j].Text, "drops column")
		}
	case a[0].Is("alter"):
		j := 1
		if word(a, j, "column") {
			j++
		}
		if j >= len(a) || !a[j].IsName() {
			return
		}
		col := a[j].Text
		rest := a[j+1:]
		switch {
		case word(rest, 0, "type") || word(rest, 0, "set") && word(rest, 1, "data") && word(rest, 2, "type"):
			if !ss.breaks(st, a[0].Pos, table, col, "changes the type of column") && existing {
				ss.finding(Warning, CheckLockSafety, st, a[0].Pos,
					fmt.Sprintf("ALTER COLUMN %s TYPE may rewrite %s and its indexes under an ACCESS EXCLUSIVE lock, blocking reads and writes (binary-compatible changes such as varchar(n) to text do not)", col, qualified),
					"add a column of the new type, fill it in batches, and switch readers over; or make sure the change is binary-compatible")
			}
		case word(rest, 0, "set") && word(rest, 1, "not") && word(rest, 2, "null"):
			if existing && !slices.Contains(ss.notNull, table+"."+col) {
				ss.finding(Warning, CheckLockSafety, st, a[0].Pos,
					fmt.Sprintf("SET NOT NULL on %s.%s scans the whole table under an ACCESS EXCLUSIVE lock", qualified, col),
					fmt.Sprintf("first ADD CONSTRAINT ... CHECK (%s IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT in a later migration, then SET NOT NULL: PostgreSQL 12+ then skips the scan", col))
			}
		}
	case a[0].Is("add"):
		j := 1
		if word(a, j, "column") {
			ss.addColumn(st, qualified, existing, a[j+1:], a[0].Pos)
			return
		}
		switch {
		case word(a, j, "constraint") || word(a, j, "primary") || word(a, j, "unique") || word(a, j, "foreign") || word(a, j, "check") || word(a, j, "exclude"):
			ss.addConstraint(st, table, existing, a)
		default:
			ss.addColumn(st, qualified, existing, a[j:], a[0].Pos)
		}
	}
}

// addColumn warns about an ADD COLUMN that rewrites an existing table.
func (ss *serviceScan) addColumn(st migrate.Statement, qualified string, existing bool, a []sqlscan.Token, pos int) {
	if word(a, 0, "if") && word(a, 1, "not") && word(a, 2, "exists") {
		a = a[3:]
	}
	if !existing || len(a) < 2 {
		return
	}
	ss.crossSchemaFK(st, qualified, a, false)
	col := a[0].Text
	why := ""
	switch {
	case a[1].Kind == sqlscan.Word && serialTypes[a[1].Text]:
		why = "of type " + a[1].Text + " fills every row from a sequence, which"
	case sqlscan.HasWords(a, "generated") && sqlscan.HasWords(a, "identity"):
		why = "as an identity column fills every row, which"
	case sqlscan.HasWords(a, "generated") && sqlscan.HasWords(a, "stored"):
		why = "as a stored generated column computes every row, which"
	default:
		if d := sqlscan.IndexWords(a, "default"); d >= 0 {
			for k := d + 1; k+1 < len(a); k++ {
				if a[k].Kind == sqlscan.Word && volatileFuncs[a[k].Text] && a[k+1].IsPunct("(") {
					why = "with the volatile default " + a[k].Text + "() computes a value per row, which"
					break
				}
			}
		}
	}
	if why == "" {
		return
	}
	ss.finding(Warning, CheckLockSafety, st, pos,
		fmt.Sprintf("ADD COLUMN %s %s rewrites %s under an ACCESS EXCLUSIVE lock, blocking reads and writes", col, why, qualified),
		"add the column without a default (or with a constant one), fill it in batches, then set the default")
}

// addConstraint warns about constraints that check or index an existing
// table while holding a lock, and notes CHECK (col IS NOT NULL) for a
// later SET NOT NULL.
func (ss *serviceScan) addConstraint(st migrate.Statement, table string, existing bool, a []sqlscan.Token) {
	if c := sqlscan.IndexWords(a, "check"); c >= 0 && c+5 < len(a) && a[c+1].IsPunct("(") && a[c+2].IsName() &&
		a[c+3].Is("is") && a[c+4].Is("not") && a[c+5].Is("null") {
		ss.notNull = append(ss.notNull, table+"."+a[c+2].Text)
	}
	if !existing {
		return
	}
	qualified := ss.svc.Schema + "." + table
	notValid := sqlscan.HasWords(a, "not", "valid")
	switch {
	case sqlscan.HasWords(a, "foreign", "key") && !notValid && ss.crossSchemaFK(st, qualified, a, true):
	case (sqlscan.HasWords(a, "foreign", "key") || sqlscan.HasWords(a, "check")) && !notValid:
		ss.finding(Warning, CheckLockSafety, st, a[0].Pos,
			fmt.Sprintf("ADD CONSTRAINT checks every row of %s while holding a lock that blocks writes", qualified),
			"add the constraint NOT VALID, then VALIDATE CONSTRAINT in a later migration: validating does not block writes")
	case (sqlscan.HasWords(a, "primary", "key") || sqlscan.HasWords(a, "unique")) && !sqlscan.HasWords(a, "using", "index"):
		ss.finding(Warning, CheckLockSafety, st, a[0].Pos,
			fmt.Sprintf("ADD PRIMARY KEY / UNIQUE builds an index on %s while blocking writes", qualified),
			"CREATE UNIQUE INDEX CONCURRENTLY first (in a -- +goose NO TRANSACTION migration), then ADD CONSTRAINT ... USING INDEX")
	}
}

// crossSchemaFK warns about a foreign key to another schema added, without
// NOT VALID, to the existing table qualified (the ALTER TABLE action a, an
// ADD CONSTRAINT when constraint, else an ADD COLUMN ... REFERENCES). Its
// check reads every row of the table while holding SHARE ROW EXCLUSIVE on
// the referenced table, the other service's, until the migration commits:
// that service's writes wait for this one's migration. It returns whether
// it warned.
func (ss *serviceScan) crossSchemaFK(st migrate.Statement, qualified string, a []sqlscan.Token, constraint bool) bool {
	for _, ref := range sqlscan.References(a) {
		if ref.Table.Schema == "" || ss.svc.OwnsSchema(ref.Table.Schema) {
			continue
		}
		other := "schema " + ref.Table.Schema
		if o := ss.p.ServiceBySchema(ref.Table.Schema); o != nil {
			other = "service " + o.Name
		}
		hint := "add the foreign key with ADD CONSTRAINT ... NOT VALID (it checks no existing row; keep that migration short, as the lock stays until it commits), then VALIDATE CONSTRAINT it in a later migration: validating takes no lock that blocks writes to either table"
		if !constraint {
			hint = "add the column without REFERENCES, then ALTER TABLE ... ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID, and VALIDATE CONSTRAINT it in a later migration: validating takes no lock that blocks writes to either table"
		}
		ss.finding(Warning, CheckLockSafety, st, a[0].Pos,
			fmt.Sprintf("a foreign key from %s, which exists before this migration, to %s checks every row of %s while holding SHARE ROW EXCLUSIVE on %s until the migration commits: every write of %s to that table waits",
				qualified, ref.Table, qualified, ref.Table, other),
			hint)
		return true
	}
	return false
}

// breaks reports a change to a table or column that other services'
// links name; col empty means the table itself. It returns whether it
// reported anything.
func (ss *serviceScan) breaks(st migrate.Statement, pos int, table, col, what string) bool {
	var hit []dependantLink
	for _, d := range ss.deps[table] {
		if col == "" || slices.Contains(d.link.Columns, col) {
			hit = append(hit, d)
		}
	}
	if len(hit) == 0 {
		return false
	}
	object := ss.svc.Schema + "." + table
	if col != "" {
		object += "(" + col + ")"
	}
	for _, d := range hit {
		if d.read {
			ss.finding(Error, CheckBreaks, st, pos,
				fmt.Sprintf("%s %s, which %s reads (read %s in %s): this breaks %s", what, object, d.service, d.link, d.file, d.service),
				fmt.Sprintf("keep what reads name. To retire it, %s first stops reading it (its views, then the read in %s); then %s may change it",
					d.service, d.file, ss.svc.Name))
			continue
		}
		ss.finding(Error, CheckBreaks, st, pos,
			fmt.Sprintf("%s %s, which %s references (link %s in %s): this breaks %s", what, object, d.service, d.link, d.file, d.service),
			fmt.Sprintf("keep what links reference. To retire it, %s first drops its foreign key in a migration of its own and the link from %s; then %s may change it",
				d.service, d.file, ss.svc.Name))
	}
	return true
}

// fkActionAt is a referential action of a REFERENCES clause that another
// service's DELETE or UPDATE would run.
type fkActionAt struct {
	pos    int    // offset of its ON
	action string // e.g. "ON DELETE CASCADE"
	verb   string // DELETE or UPDATE
}

// fkActions finds the ON DELETE / ON UPDATE CASCADE, SET NULL and SET
// DEFAULT of the REFERENCES clause whose keyword is at offset refPos: the
// clause runs until a comma or a closing parenthesis at its own depth, or a
// semicolon.
func fkActions(toks []sqlscan.Token, refPos int) []fkActionAt {
	i := 0
	for i < len(toks) && toks[i].Pos != refPos {
		i++
	}
	var out []fkActionAt
	depth := 0
	for i++; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t.IsPunct("("):
			depth++
		case t.IsPunct(")"):
			if depth == 0 {
				return out
			}
			depth--
		case depth == 0 && (t.IsPunct(",") || t.IsPunct(";")):
			return out
		case depth == 0 && t.Is("on") && (word(toks, i+1, "delete") || word(toks, i+1, "update")):
			verb := strings.ToUpper(toks[i+1].Text)
			switch {
			case word(toks, i+2, "cascade"):
				out = append(out, fkActionAt{t.Pos, "ON " + verb + " CASCADE", verb})
			case word(toks, i+2, "set") && word(toks, i+3, "null"):
				out = append(out, fkActionAt{t.Pos, "ON " + verb + " SET NULL", verb})
			case word(toks, i+2, "set") && word(toks, i+3, "default"):
				out = append(out, fkActionAt{t.Pos, "ON " + verb + " SET DEFAULT", verb})
			}
		}
	}
	return out
}

// describeStatement shortens a statement for a message.
func describeStatement(sql string) string {
	sql = strings.Join(strings.Fields(sql), " ")
	if len(sql) > 120 {
		sql = sql[:117] + "..."
	}
	return sql
}
