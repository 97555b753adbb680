// Package audit proves, on the live database, that every service is
// isolated by PostgreSQL itself.
//
// It reads the catalog (roles and their attributes, memberships, every
// privilege a service role holds on another service's objects, what PUBLIC
// holds, foreign keys and other dependencies between services, the guard),
// and it tries what must fail: it logs in over TCP as each application role
// with its real password and, in transactions it rolls back, reads and
// writes every other service's tables, creates objects in public and in
// other schemas, and SETs ROLE to other roles; as each owner role (the admin
// with SET ROLE) it tries DDL on other schemas and the DROP ... CASCADE that
// would remove another service's foreign key. An attempt that succeeds is an
// error finding naming what was possible. It also reads the channels outside
// the schemas (sidechannels.go): large objects, per-role settings, default
// privileges, CONNECT on the maintenance databases. What it cannot check on
// this server it lists in Report.NotChecked, and what Postgres cannot close
// (NOTIFY, advisory locks, statistics views) in Report.NotClosable: neither
// is covered by "isolation holds". Nothing is left behind: every
// attempt runs in a savepoint of a transaction that is rolled back, and the
// write attempts match no row (they consume no sequence value).
package audit

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/splitschema/splitschema/gen/pgcatalog"
	"github.com/splitschema/splitschema/internal/catalog"
	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/target"
)

// Severities of a finding.
const (
	// Error: isolation is broken, or could not be shown; `audit` exits 1.
	Error = "error"
	// Warning: worth a look, isolation holds.
	Warning = "warning"
)

// Finding is one thing the audit found.
type Finding struct {
	Severity string `json:"severity"`
	// Check names what was checked: roles, membership, schema, guard,
	// privileges, public, foreign_keys, links, dependencies, ownership,
	// large_objects, role_settings, default_privileges, connect,
	// login, read, write, create, set_role, ddl, cascade_drop, link.
	Check string `json:"check"`
	// Service is the service concerned, "" for the database as a whole.
	Service string `json:"service"`
	Detail  string `json:"detail"`
}

// Report is the audit's result. OK is false when any finding is an error.
type Report struct {
	OK       bool   `json:"ok"`
	Database string `json:"database"`
	// Probes counts the statements tried as a service role.
	Probes   int       `json:"probes"`
	Findings []Finding `json:"findings"`
	// NotChecked lists what the audit could not check on this server, and
	// why; "isolation holds" never covers it.
	NotChecked []string `json:"not_checked"`
	// NotClosable lists what Postgres shares between every role, which no
	// audit can close: it is not checked either (README, Isolation).
	NotClosable []string `json:"not_closable"`
}

// Human renders the report for a terminal.
func (r *Report) Human() string {
	var b strings.Builder
	errs, warns := r.count()
	switch {
	case r.OK && warns == 0 && len(r.NotChecked) > 0:
		fmt.Fprintf(&b, "Audit of database %s: isolation holds for what was checked (%d attempts refused, every catalog check that could be made passed).\n", r.Database, r.Probes)
	case r.OK && warns == 0:
		fmt.Fprintf(&b, "Audit of database %s: isolation holds for what was checked (%d attempts refused, every catalog check passed).\n", r.Database, r.Probes)
	case r.OK:
		fmt.Fprintf(&b, "Audit of database %s: isolation holds for what was checked (%d attempts refused), %d warning(s):\n", r.Database, r.Probes, warns)
	default:
		fmt.Fprintf(&b, "Audit of database %s: ISOLATION IS BROKEN: %d error(s), %d warning(s):\n", r.Database, errs, warns)
	}
	for _, f := range r.Findings {
		svc := f.Service
		if svc == "" {
			svc = "-"
		}
		fmt.Fprintf(&b, "  %-7s %-13s %-12s %s\n", f.Severity, f.Check, svc, f.Detail)
	}
	if len(r.NotChecked) > 0 {
		fmt.Fprintf(&b, "Not checked:\n")
		for _, n := range r.NotChecked {
			fmt.Fprintf(&b, "  %s\n", n)
		}
	}
	fmt.Fprintf(&b, "Shared by every role, which Postgres cannot close and the audit does not check: %s.\n", strings.Join(r.NotClosable, "; "))
	return b.String()
}

func (r *Report) count() (errs, warns int) {
	for _, f := range r.Findings {
		if f.Severity == Error {
			errs++
		} else {
			warns++
		}
	}
	return errs, warns
}

// Run audits the project's database on srv as the admin. An error means the
// audit could not run; what it found is in the Report.
func Run(ctx context.Context, p *manifest.Project, srv *target.Server, log *slog.Logger) (*Report, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &auditor{p: p, srv: srv, log: log, report: &Report{Database: srv.Database, Findings: []Finding{}, NotChecked: []string{}, NotClosable: notClosable}}
	if err := a.run(ctx); err != nil {
		return nil, err
	}
	slices.SortStableFunc(a.report.Findings, func(x, y Finding) int {
		if x.Severity != y.Severity {
			return strings.Compare(x.Severity, y.Severity) // error before warning
		}
		return 0
	})
	errs, _ := a.report.count()
	a.report.OK = errs == 0
	return a.report, nil
}

// auditor holds what one audit run knows.
type auditor struct {
	p      *manifest.Project
	srv    *target.Server
	log    *slog.Logger
	report *Report

	snap *catalog.Snapshot
	// bySchema maps a declared schema to its service; roleService a
	// declared role to its service.
	bySchema    map[string]*manifest.Service
	roleService map[string]string
	// tables lists each service's tables and their probe column.
	tables map[string][]probeTable
	// columnTypes maps "schema.table.column" of link targets to its type.
	columnTypes map[string]string
	// columnOrder lists the columns of those tables (and of read targets) in order.
	columnOrder map[string][]string
	foreignKeys []pgcatalog.AuditForeignKeysRow
}

type probeTable struct {
	schema, name, column string
}

func (t probeTable) String() string { return t.schema + "." + t.name }

func (a *auditor) add(severity, check, service, format string, args ...any) {
	a.report.Findings = append(a.report.Findings, Finding{Severity: severity, Check: check, Service: service, Detail: fmt.Sprintf(format, args...)})
}

// notChecked records a check the audit could not make, and why.
func (a *auditor) notChecked(what string) {
	a.report.NotChecked = append(a.report.NotChecked, what)
}

func (a *auditor) run(ctx context.Context) error {
	conn, err := a.srv.Connect(ctx, a.srv.Database)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	a.bySchema, a.roleService = map[string]*manifest.Service{}, map[string]string{}
	var roles, schemas []string
	for _, s := range a.p.Services {
		for _, schema := range s.Schemas {
			a.bySchema[schema] = s
		}
		for _, r := range []string{a.p.OwnerRole(s.Name), a.p.AppRole(s.Name), a.p.MigratorRole(s.Name)} {
			a.roleService[r] = s.Name
			roles = append(roles, r)
		}
		schemas = append(schemas, s.Schemas...)
	}
	a.snap, err = catalog.ReadCluster(ctx, conn)
	if err != nil {
		return err
	}
	scope := catalog.Scope{Schemas: append([]string{"public"}, schemas...), Roles: roles}
	if len(a.p.Settings.Extensions) > 0 {
		scope.Schemas = append(scope.Schemas, manifest.ExtensionsSchema)
	}
	if err := a.snap.ReadObjects(ctx, conn, scope); err != nil {
		return err
	}
	if err := a.catalogChecks(ctx, conn, roles, schemas); err != nil {
		return err
	}
	if err := a.readProbeTables(ctx, conn, schemas); err != nil {
		return err
	}
	for _, svc := range a.p.OrderedServices() {
		if err := a.probeApp(ctx, conn, svc); err != nil {
			return err
		}
		if err := a.probeOwner(ctx, conn, svc); err != nil {
			return err
		}
	}
	a.log.Debug("audit done", "probes", a.report.Probes, "findings", len(a.report.Findings))
	return nil
}
