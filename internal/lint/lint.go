// Package lint checks a project's migrations for CI, without touching the
// project's database:
//
//   - static checks of the migrations' SQL: files goose would refuse,
//     role changes, CONCURRENTLY inside a transaction, REFERENCES to
//     another service's table that no link declares, changes to a table or
//     column another service's link references, and lock-safety heuristics
//     (CREATE INDEX without CONCURRENTLY on a table that exists before the
//     migration; ALTER TABLE that rewrites or scans a table under an
//     ACCESS EXCLUSIVE lock);
//   - on a scratch database (its own name and role prefix, dropped
//     afterwards): apply everything from empty, audit, then round-trip
//     every service's migrations (down to 0 in reverse dependency order,
//     up again);
//   - gen/ against `sqlc diff`, when sqlc.yaml exists and sqlc can run.
//
// The static checks are heuristics over a token stream, not a SQL parser:
// they can miss what hides in dynamic SQL, and a warning may be harmless
// on a table known to be small.
package lint

import (
	"context"
	"log/slog"

	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/target"
)

// Options tune Run.
type Options struct {
	Log *slog.Logger
	// Static skips the checks that need a database.
	Static bool
	// SkipSqlc skips the gen/ check.
	SkipSqlc bool
	// SqlcCommand runs sqlc (the "diff" argument is appended); nil uses
	// `go tool sqlc` when the project's module has it, else sqlc on PATH.
	SqlcCommand []string
}

// Run lints the project. srv is the server the scratch database is created
// on (the admin must be allowed to create databases and roles); it may be
// nil with Options.Static. The error is for a lint that could not run at
// all; what it found is in the report.
func Run(ctx context.Context, p *manifest.Project, srv *target.Server, o Options) (*Report, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	r := &Report{dir: p.Dir}
	staticChecks(p, r)
	r.Checked = append(r.Checked, "migration SQL")
	blocking := false
	for _, f := range r.Findings {
		if f.Severity == Error {
			blocking = blocking || f.Check == CheckParse || f.Check == CheckRole
		}
	}
	switch {
	case o.Static || srv == nil:
	case blocking:
		r.add(Finding{Severity: Notice, Check: CheckApply,
			Message: "the migrations were not applied to a scratch database: goose would refuse a file, or a migration changes its role; fix that first"})
	default:
		if err := dynamicChecks(ctx, p, srv, r, o.Log); err != nil {
			return nil, err
		}
	}
	if !o.SkipSqlc {
		checkSqlc(ctx, p.Dir, o.SqlcCommand, r)
	}
	r.finish()
	return r, nil
}
