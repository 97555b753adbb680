// Package verify proves that a database holds exactly what a backup
// recorded: every service table's row count (and, when the backup has
// them, content fingerprint) and every service's migration version equal
// the manifest's, every foreign key of the manifest and of the database —
// between services and inside one — exists and is validated, every
// declared link the backup saw enforced still is, no row references a row
// that is missing (checked with a query, not only the catalog, also for a
// foreign key that was dropped), and the isolation audit passes.
// Everything is read in one snapshot.
package verify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/archive"
	"github.com/splitschema/splitschema/internal/inspect"
	"github.com/splitschema/splitschema/internal/target"
)

// AuditFunc runs the isolation audit on srv's Database. The command wires
// in internal/audit; verify itself knows nothing of how the audit works.
type AuditFunc func(ctx context.Context, srv *target.Server) (AuditResult, error)

// AuditResult is the outcome of the isolation audit.
type AuditResult struct {
	OK bool
	// Findings describe each error the audit found; warnings are left out.
	Findings []string
}

// Options tune Run.
type Options struct {
	// Audit runs the isolation audit. Run fails without one unless NoAudit
	// is set.
	Audit AuditFunc
	// NoAudit skips the audit; the result then says it did not run.
	NoAudit bool
	// Jobs is the number of connections that count rows; default: the CPU
	// count.
	Jobs   int
	Logger *slog.Logger
}

// Link is one foreign key (between services or inside one) and the rows
// that break it.
type Link struct {
	From       string `json:"from"`
	To         string `json:"to"`
	Constraint string `json:"constraint"`
	// Broken counts the referencing rows whose referenced row is missing;
	// -1 when the foreign key is missing and the count could not run.
	Broken int64 `json:"broken"`
	// Missing tells that the backup has the foreign key and the database
	// has not; Broken then counts by the backup's definition.
	Missing bool `json:"missing,omitempty"`
	// InsideSchema tells a foreign key inside one service (between two
	// tables of one schema, or of two schemas of the service) from a link
	// between services.
	InsideSchema bool `json:"inside_schema"`
}

// newLink is fk's entry; serviceOf maps each service schema to its
// service.
func newLink(fk archive.ForeignKey, serviceOf map[string]string) *Link {
	inside := fk.From.Schema == fk.To.Schema
	if s := serviceOf[fk.From.Schema]; s != "" && s == serviceOf[fk.To.Schema] {
		inside = true
	}
	return &Link{From: fk.From.String(), To: fk.To.String(), Constraint: fk.Name, Broken: -1, InsideSchema: inside}
}

// kind is "link" between services, "foreign key" inside one.
func (l Link) kind() string {
	if l.InsideSchema {
		return "foreign key"
	}
	return "link"
}

// Result is what Run found.
type Result struct {
	OK       bool   `json:"ok"`
	Backup   string `json:"backup"`
	Database string `json:"database"`
	// Tables and Rows count what was compared in the database.
	Tables int   `json:"tables"`
	Rows   int64 `json:"rows"`
	// Fingerprinted counts the tables whose content was compared, not
	// only their rows' count (backups taken with --fingerprint).
	Fingerprinted int    `json:"fingerprinted"`
	Links         []Link `json:"links"`
	// Mismatches name each difference from the backup, each broken link
	// and each audit finding.
	Mismatches []string `json:"mismatches"`
	// Notes say what is true of the backup too, so no mismatch, but worth
	// knowing (a declared link that no foreign key enforces).
	Notes []string `json:"notes"`
	// Audit is "passed", "failed" or "not run".
	Audit string `json:"audit"`
}

// Human renders the result for people.
func (r *Result) Human() string {
	var b strings.Builder
	verdict := "verified"
	if !r.OK {
		verdict = "MISMATCH"
	}
	fmt.Fprintf(&b, "%s: database %s against backup %s\n", verdict, r.Database, r.Backup)
	fmt.Fprintf(&b, "  %d tables, %d rows", r.Tables, r.Rows)
	if r.Fingerprinted > 0 {
		fmt.Fprintf(&b, "; content fingerprint compared for %d tables", r.Fingerprinted)
	} else {
		b.WriteString("; row counts compared, not content (backup --fingerprint compares content)")
	}
	b.WriteString("\n")
	for _, l := range r.Links {
		broken := fmt.Sprintf("%d broken", l.Broken)
		if l.Broken < 0 {
			broken = "not checked"
		}
		if l.Missing {
			broken += ", FOREIGN KEY MISSING"
		}
		fmt.Fprintf(&b, "  %s %s -> %s: %s\n", l.kind(), l.From, l.To, broken)
	}
	fmt.Fprintf(&b, "  isolation audit: %s\n", r.Audit)
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "  note: %s\n", n)
	}
	for _, m := range r.Mismatches {
		fmt.Fprintf(&b, "  - %s\n", m)
	}
	return b.String()
}

// Run compares srv's Database with backup m. The declared soft links are
// checked like foreign keys: their broken rows are counted, and any is a
// mismatch.
func Run(ctx context.Context, srv *target.Server, m *archive.Manifest, o Options) (*Result, error) {
	if o.Audit == nil && !o.NoAudit {
		return nil, errors.New("verify: no isolation audit given")
	}
	if o.Jobs <= 0 {
		o.Jobs = runtime.NumCPU()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	res := &Result{Backup: m.ID, Database: srv.Database, Links: []Link{}, Mismatches: []string{}, Notes: []string{}, Audit: "not run"}
	// The audit is mostly round trips as each role, the data checks mostly
	// the server's reading: they run side by side. Its attempts are rolled
	// back and the data checks read one snapshot, so neither sees the
	// other.
	var (
		audited  sync.WaitGroup
		audit    AuditResult
		auditErr error
	)
	ctx, cancel := context.WithCancel(ctx)
	defer audited.Wait()
	defer cancel() // runs first: an early return stops the audit
	if o.Audit != nil {
		audited.Go(func() { audit, auditErr = o.Audit(ctx, srv) })
	}
	conn, err := srv.Connect(ctx, srv.Database)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) // read only: nothing to keep
	snapshot, err := inspect.ExportSnapshot(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	c := &check{res: res}
	tasks, err := c.compareCatalog(ctx, conn, m)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	if err := inspect.RunInSnapshot(ctx, srv.Config(srv.Database), snapshot, o.Jobs, tasks); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	conn.Exec(ctx, "ROLLBACK")
	c.finish()

	if o.Audit != nil {
		audited.Wait()
		if auditErr != nil {
			return nil, fmt.Errorf("verify: isolation audit: %w", auditErr)
		}
		res.Audit = "passed"
		if !audit.OK {
			res.Audit = "failed"
			if len(audit.Findings) == 0 {
				c.mismatch("isolation audit failed")
			}
			for _, f := range audit.Findings {
				c.mismatch("isolation audit: %s", f)
			}
		}
	}
	res.OK = len(res.Mismatches) == 0
	return res, nil
}

// check gathers the findings of one verify.
type check struct {
	mu  sync.Mutex
	res *Result
	// counts compares each table's rows once the tasks are done.
	counts []tableCount
	links  []*Link
}

type tableCount struct {
	name inspect.TableName
	want int64
	got  int64
	// wantFP is the backup's fingerprint of the table ("" when it has
	// none); gotFP the database's.
	wantFP, gotFP string
}

func (c *check) mismatch(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.res.Mismatches = append(c.res.Mismatches, fmt.Sprintf(format, args...))
}

// compareCatalog compares schemas, tables, versions and foreign keys, and
// returns the row counts and broken-link queries to run.
func (c *check) compareCatalog(ctx context.Context, conn *pgx.Conn, m *archive.Manifest) ([]inspect.Task, error) {
	var schemas []string
	for _, s := range m.Services {
		schemas = append(schemas, s.Schema)
	}
	exists, err := inspect.ExistingSchemas(ctx, conn, schemas)
	if err != nil {
		return nil, err
	}
	// The foreign keys are read from every schema of every service.
	var all []string
	serviceOf := map[string]string{}
	for _, s := range m.Services {
		all = append(all, s.AllSchemas()...)
		for _, schema := range s.AllSchemas() {
			serviceOf[schema] = s.Name
		}
	}
	tables, err := inspect.AllTables(ctx, conn)
	if err != nil {
		return nil, err
	}
	have := map[inspect.TableName]bool{}
	for _, t := range tables {
		have[t] = true
	}
	// The backup's tables and their rows; a service whose schema is missing
	// is reported once, not table by table.
	var backedUp []tableCount
	for _, s := range m.Services {
		switch {
		case s.SchemaExists && !exists[s.Schema]:
			c.mismatch("service %s: schema %s is missing", s.Name, s.Schema)
			continue
		case !s.SchemaExists && exists[s.Schema]:
			c.mismatch("service %s: schema %s exists, the backup had none", s.Name, s.Schema)
		}
		if exists[s.Schema] {
			v, err := inspect.Version(ctx, conn, s.Schema)
			if err != nil {
				return nil, err
			}
			if d := versionDiff(v, s.Version); d != "" {
				c.mismatch("service %s: %s", s.Name, d)
			}
		}
		for _, t := range s.Tables {
			backedUp = append(backedUp, tableCount{name: inspect.TableName{Schema: s.Schema, Table: t.Name}, want: t.Rows, wantFP: t.Fingerprint})
		}
	}
	for _, t := range m.OtherTables {
		backedUp = append(backedUp, tableCount{name: inspect.TableName{Schema: t.Schema, Table: t.Name}, want: t.Rows, wantFP: t.Fingerprint})
	}
	want := map[inspect.TableName]bool{}
	for _, tc := range backedUp {
		want[tc.name] = true
		if !have[tc.name] {
			c.mismatch("table %s is missing (the backup has %d rows in it)", tc.name, tc.want)
			continue
		}
		c.counts = append(c.counts, tc)
	}
	for _, t := range tables {
		if !want[t] {
			c.mismatch("table %s is not in the backup", t)
		}
	}

	fks, err := inspect.ForeignKeys(ctx, conn, all)
	if err != nil {
		return nil, err
	}
	byName := map[string]archive.ForeignKey{}
	for _, fk := range fks {
		byName[fk.QualifiedName()] = fk
	}
	var tasks []inspect.Task
	for i := range c.counts {
		tc := &c.counts[i]
		tasks = append(tasks, func(ctx context.Context, conn *pgx.Conn) error {
			if tc.wantFP != "" {
				var err error
				tc.got, tc.gotFP, err = inspect.Fingerprint(ctx, conn, tc.name)
				return err
			}
			if err := conn.QueryRow(ctx, inspect.CountSQL(tc.name)).Scan(&tc.got); err != nil {
				return fmt.Errorf("count rows of %s: %w", tc.name, err)
			}
			return nil
		})
	}
	// Every foreign key of the backup and of the database, inside a
	// service as well as between services: each must be there, validated,
	// and no row may reference a missing row. A foreign key that is gone
	// is still counted by its recorded definition, so that the rows its
	// loss let in are named too.
	broken := func(fk archive.ForeignKey, l *Link) error {
		sql, err := inspect.BrokenSQL(fk)
		if err != nil {
			return err
		}
		tasks = append(tasks, func(ctx context.Context, conn *pgx.Conn) error {
			var n int64
			if err := conn.QueryRow(ctx, sql).Scan(&n); err != nil {
				return fmt.Errorf("count rows breaking %s: %w", fk.QualifiedName(), err)
			}
			c.mu.Lock()
			l.Broken = n
			c.mu.Unlock()
			return nil
		})
		return nil
	}
	seen := map[string]bool{}
	for _, w := range m.ForeignKeys {
		seen[w.QualifiedName()] = true
		l := newLink(w, serviceOf)
		c.links = append(c.links, l)
		got, ok := byName[w.QualifiedName()]
		switch {
		case !ok:
			l.Missing = true
			c.mismatch("foreign key %s %s -> %s is missing (the backup has it)", w.Name, w.From, w.To)
			from := inspect.TableName{Schema: w.From.Schema, Table: w.From.Table}
			to := inspect.TableName{Schema: w.To.Schema, Table: w.To.Table}
			if have[from] && have[to] {
				if err := broken(w, l); err != nil {
					return nil, err
				}
			}
			continue
		case got.From.String() != w.From.String() || got.To.String() != w.To.String() || got.Match != w.Match:
			c.mismatch("foreign key %s is %s -> %s (match %s), the backup has %s -> %s (match %s)",
				w.Name, got.From, got.To, got.Match, w.From, w.To, w.Match)
		case !got.Validated:
			c.mismatch("foreign key %s %s -> %s is not validated (NOT VALID)", w.Name, w.From, w.To)
		}
		if err := broken(got, l); err != nil {
			return nil, err
		}
	}
	for _, fk := range fks {
		if seen[fk.QualifiedName()] {
			continue
		}
		// Manifests of format 1 recorded only the foreign keys between
		// schemas: one inside a schema is not news, but is checked.
		if m.Format >= 2 || fk.From.Schema != fk.To.Schema {
			c.mismatch("foreign key %s %s -> %s is not in the backup", fk.Name, fk.From, fk.To)
		}
		if !fk.Validated {
			c.mismatch("foreign key %s %s -> %s is not validated (NOT VALID)", fk.Name, fk.From, fk.To)
		}
		l := newLink(fk, serviceOf)
		c.links = append(c.links, l)
		if err := broken(fk, l); err != nil {
			return nil, err
		}
	}
	// Every declared link the backup saw enforced must still be.
	for _, dl := range m.Links {
		if len(dl.ForeignKeys) == 0 {
			c.note("declared link %s -> %s.%s(%s) had no foreign key in the backup either: it is not enforced", dl.From, dl.Service, dl.Table, strings.Join(dl.Columns, ", "))
			continue
		}
		left := 0
		for _, name := range dl.ForeignKeys {
			if _, ok := byName[name]; ok {
				left++
			}
		}
		if left == 0 {
			c.mismatch("declared link %s -> %s.%s(%s) is not enforced: its foreign key %s is gone", dl.From, dl.Service, dl.Table, strings.Join(dl.Columns, ", "), strings.Join(dl.ForeignKeys, ", "))
		}
	}
	soft, err := c.softLinks(m, have)
	if err != nil {
		return nil, err
	}
	return append(tasks, soft...), nil
}

// softLinks returns the queries that count the broken rows of each declared
// soft link, as for a foreign key: no constraint enforces them, so this
// count is the only check they get.
func (c *check) softLinks(m *archive.Manifest, have map[inspect.TableName]bool) ([]inspect.Task, error) {
	var tasks []inspect.Task
	for _, s := range m.SoftLinks {
		l := &Link{From: s.From.String(), To: s.To.String(), Constraint: "soft link of " + s.Service, Broken: -1}
		c.links = append(c.links, l)
		from, to := inspect.TableName{Schema: s.From.Schema, Table: s.From.Table}, inspect.TableName{Schema: s.To.Schema, Table: s.To.Table}
		if !have[from] || !have[to] {
			c.mismatch("soft link %s of service %s: table %s or %s is missing, its rows were not checked", s.Declared, s.Service, from, to)
			continue
		}
		sql, err := inspect.BrokenSQL(archive.ForeignKey{Name: "soft link " + s.Declared, From: s.From, To: s.To, Match: "simple"})
		if err != nil {
			return nil, err
		}
		tasks = append(tasks, func(ctx context.Context, conn *pgx.Conn) error {
			var n int64
			if err := conn.QueryRow(ctx, sql).Scan(&n); err != nil {
				return fmt.Errorf("count rows breaking soft link %s of %s: %w", s.Declared, s.Service, err)
			}
			c.mu.Lock()
			l.Broken = n
			c.mu.Unlock()
			return nil
		})
	}
	return tasks, nil
}

func (c *check) note(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.res.Notes = append(c.res.Notes, fmt.Sprintf(format, args...))
}

// finish compares the counts the tasks made.
func (c *check) finish() {
	for _, tc := range c.counts {
		c.res.Tables++
		c.res.Rows += tc.got
		switch {
		case tc.got != tc.want:
			c.mismatch("table %s has %d rows, the backup has %d", tc.name, tc.got, tc.want)
		case tc.wantFP != "" && tc.gotFP != tc.wantFP:
			c.mismatch("table %s holds other rows than the backup's: same count (%d), different content fingerprint", tc.name, tc.got)
		}
		if tc.wantFP != "" {
			c.res.Fingerprinted++
		}
	}
	for _, l := range c.links {
		c.res.Links = append(c.res.Links, *l)
		if l.Broken > 0 {
			c.mismatch("%s %s -> %s (%s): %d rows reference a row that is missing", l.kind(), l.From, l.To, l.Constraint, l.Broken)
		}
	}
	// Catalog findings first, in a stable order.
	slices.Sort(c.res.Mismatches)
}

func versionDiff(got, want *int64) string {
	switch {
	case got == nil && want == nil:
		return ""
	case got == nil:
		return fmt.Sprintf("no migration version table, the backup is at version %d", *want)
	case want == nil:
		return fmt.Sprintf("migration version %d, the backup had no version table", *got)
	case *got != *want:
		return fmt.Sprintf("migration version %d, the backup is at version %d", *got, *want)
	}
	return ""
}
