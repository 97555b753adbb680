// Package pipeline is what `apply` and `plan` run on a project: provision,
// then migrate every service, then audit; and the plan of both.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/splitschema/splitschema/internal/audit"
	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/migrate"
	"github.com/splitschema/splitschema/internal/provision"
	"github.com/splitschema/splitschema/internal/target"
)

// ErrAudit is returned by Apply when the isolation audit after migrating
// found an error; the result's Audit says what.
var ErrAudit = errors.New("the isolation audit found problems")

// ApplyResult is what Apply did, step by step.
type ApplyResult struct {
	OK bool `json:"ok"`
	// Changed is false when the database was already in the declared state
	// with every migration applied: Apply then changed nothing.
	Changed   bool                 `json:"changed"`
	Provision *provision.Changeset `json:"provision"`
	Migrate   *migrate.Result      `json:"migrate,omitempty"`
	Audit     *audit.Report        `json:"audit,omitempty"`
	// Verbose makes Human print every provisioning statement, not a count.
	Verbose bool `json:"-"`
}

// Apply is the pipeline: provision (database, roles, schemas, grants,
// guard), then migrate up every service in dependency order, re-syncing
// the REFERENCES grants of the links after each, then audit. It stops at
// the first step that fails; a failed migration still returns the result,
// with a *RunError. Running it again changes nothing and says so.
func Apply(ctx context.Context, p *manifest.Project, srv *target.Server, o migrate.Options) (*ApplyResult, error) {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	o.Log = log
	o.Service = ""
	// Read every migration before changing anything; Up runs these.
	files, err := migrate.LoadChecked(p, p.Services)
	if err != nil {
		return nil, err
	}
	o.Files = files
	// Links are checked before the first change: each names a table and
	// columns that exist, or that the migrations about to run create.
	cs, err := provision.ApplyWith(ctx, p, srv, log, provision.Options{DeferLinks: o.DeferLinks, Creates: migrate.Creates(p, files)})
	if err != nil {
		return nil, err
	}
	res := &ApplyResult{Provision: cs, Changed: len(cs.Changes) > 0}
	mig, err := migrate.Up(ctx, p, srv, o)
	res.Migrate = mig
	if mig == nil {
		return nil, err
	}
	res.Changed = res.Changed || mig.Changed
	if err != nil {
		return res, err
	}
	rep, err := audit.Run(ctx, p, srv, log)
	if err != nil {
		return res, fmt.Errorf("audit: %w", err)
	}
	res.Audit = rep
	if !rep.OK {
		return res, ErrAudit
	}
	res.OK = true
	return res, nil
}

// Human renders the result for a terminal.
func (r *ApplyResult) Human() string {
	var b strings.Builder
	if r.Provision != nil {
		switch {
		case len(r.Provision.Changes) == 0:
			b.WriteString("provision: nothing to do\n")
		case r.Verbose:
			fmt.Fprintf(&b, "provision: %d changes\n", len(r.Provision.Changes))
			b.WriteString(indentLines(r.Provision.Human()))
		default:
			fmt.Fprintf(&b, "provision: %d changes (%s; --verbose lists them)\n", len(r.Provision.Changes), countActions(r.Provision.Changes))
		}
		for _, w := range r.Provision.Warnings {
			fmt.Fprintf(&b, "  warning: %s\n", w)
		}
	}
	if r.Migrate != nil {
		if r.Migrate.Changed || !r.Migrate.OK {
			b.WriteString("migrate:\n")
			var m strings.Builder
			for _, s := range r.Migrate.Services {
				if s.State != migrate.StateUnchanged {
					m.WriteString(s.Lines())
				}
			}
			b.WriteString(indentLines(m.String()))
		} else {
			b.WriteString("migrate: every service is up to date\n")
		}
	}
	if r.Audit != nil {
		b.WriteString("audit:\n")
		b.WriteString(indentLines(r.Audit.Human()))
	}
	switch {
	case !r.OK:
		b.WriteString("apply failed\n")
	case !r.Changed:
		b.WriteString("nothing changed: the database already matches the project\n")
	default:
		b.WriteString("applied\n")
	}
	return b.String()
}

func indentLines(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	return "  " + strings.ReplaceAll(s, "\n", "\n  ") + "\n"
}

// countActions summarises changes by action: "5 create role, 2 grant".
func countActions(changes []provision.Change) string {
	var order []provision.Action
	n := map[provision.Action]int{}
	for _, c := range changes {
		if n[c.Action] == 0 {
			order = append(order, c.Action)
		}
		n[c.Action]++
	}
	parts := make([]string, len(order))
	for i, a := range order {
		parts[i] = fmt.Sprintf("%d %s", n[a], a)
	}
	return strings.Join(parts, ", ")
}
