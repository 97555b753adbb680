package pipeline

import (
	"context"
	"fmt"

	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/migrate"
	"github.com/splitschema/splitschema/internal/provision"
	"github.com/splitschema/splitschema/internal/target"
)

// Plan is what Apply would do, changing nothing: the provisioning changes,
// then per service the migrations that would run after them.
func Plan(ctx context.Context, p *manifest.Project, srv *target.Server, o provision.Options) (*PlanReport, error) {
	cs, err := provision.PlanWith(ctx, p, srv, o)
	if err != nil {
		return nil, err
	}
	status, err := migrate.Pending(ctx, p, srv)
	if err != nil {
		return nil, err
	}
	return newPlanReport(cs, status), nil
}

// HasChanges reports whether Apply would change anything.
func (r *PlanReport) HasChanges() bool { return r.Pending > 0 || r.PendingMigrations > 0 }

// PlanReport is what `plan` prints: the provisioning changes and, per
// service, the migrations `apply` would run after them.
type PlanReport struct {
	*provision.Changeset
	PendingMigrations int                     `json:"pending_migrations"`
	Migrations        []migrate.ServiceStatus `json:"migrations"`
	migrateLines      []string
}

func newPlanReport(cs *provision.Changeset, status *migrate.StatusReport) *PlanReport {
	r := &PlanReport{Changeset: cs, Migrations: status.Services, migrateLines: status.PlanLines()}
	for _, s := range status.Services {
		r.PendingMigrations += len(s.Pending)
	}
	return r
}

// Human renders the report for a terminal.
func (r *PlanReport) Human() string {
	out := r.Changeset.Human()
	if len(r.migrateLines) == 0 {
		return out + "No pending migrations.\n"
	}
	out += fmt.Sprintf("\nPending migrations (%d), run by `splitschema apply` or `splitschema migrate up`:\n", r.PendingMigrations)
	for _, l := range r.migrateLines {
		out += "  " + l + "\n"
	}
	return out
}
