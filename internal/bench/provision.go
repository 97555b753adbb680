package bench

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/backup"
	"github.com/splitschema/splitschema/internal/provision"
)

// The project sizes of the provisioning scenario.
const (
	planSmall  = 100  // the baseline of the plan rows
	provisionN = 500  // provisioned from empty; its no-op plan must stay under 1 s
	planLarge  = 1000 // how the plan's cost grows
)

// benchProvision measures, Runs times: provision of 500 generated services
// from empty (no database, no roles) against replaying the very SQL it
// plans in one transaction; and a no-op plan on 500 and on 1000 services,
// each against a no-op plan on 100. The 100 and 1000 services are set up
// once; the 500 anew in every run.
func benchProvision(ctx context.Context, e *env) ([]*row, error) {
	small, err := e.generate(ctx, "p100", planSmall, 1)
	if err != nil {
		return nil, err
	}
	mid, err := e.generate(ctx, "p500", provisionN, 1)
	if err != nil {
		return nil, err
	}
	hand, err := e.generate(ctx, "h500", provisionN, 1)
	if err != nil {
		return nil, err
	}
	large, err := e.generate(ctx, "p1000", planLarge, 1)
	if err != nil {
		return nil, err
	}
	for _, g := range []*generated{small, large} {
		e.progress("provision: set up %d services in database %s", len(g.p.Services), g.p.Settings.Database)
		if err := provisionAndCreate(ctx, e, g); err != nil {
			return nil, err
		}
	}
	apply := &row{what: fmt.Sprintf("provision %d services from empty vs replaying its SQL in one transaction", provisionN), unit: unitSeconds}
	plan500 := &row{what: fmt.Sprintf("no-op plan, %d services (baseline: %d services)", provisionN, planSmall), unit: unitSeconds, floor: under(1)}
	plan1000 := &row{what: fmt.Sprintf("no-op plan, %d services (baseline: %d services; linear growth is %d×)", planLarge, planSmall, planLarge/planSmall),
		unit: unitSeconds, floor: ratioAtMost(float64(planLarge) / planSmall)}
	for run := range e.cfg.Runs {
		if err := e.checkpoint(ctx); err != nil {
			return nil, err
		}
		tApply, err := timed(func() error { return provisionProject(ctx, e, mid) })
		if err != nil {
			return nil, err
		}
		if err := runBySQL(ctx, e.server(mid.p.Settings.Database), mid); err != nil {
			return nil, err
		}
		var t [3]float64
		for i, g := range []*generated{mid, small, large} {
			if t[i], err = noopPlan(ctx, e, g); err != nil {
				return nil, err
			}
		}
		if err := dropProject(ctx, e, mid); err != nil {
			return nil, err
		}
		if err := e.checkpoint(ctx); err != nil {
			return nil, err
		}
		tHand, err := replayPlan(ctx, e, hand)
		if err != nil {
			return nil, err
		}
		if err := dropProject(ctx, e, hand); err != nil {
			return nil, err
		}
		e.progress("provision run %d/%d: provision %d from empty %.2f s (replayed SQL %.2f s); no-op plan of %d %.3f s, %d %.3f s, %d %.3f s",
			run+1, e.cfg.Runs, provisionN, tApply, tHand, planSmall, t[1], provisionN, t[0], planLarge, t[2])
		apply.add(tApply, tHand)
		plan500.add(t[0], t[1])
		plan1000.add(t[2], t[1])
	}
	return []*row{apply, plan500, plan1000}, nil
}

// provisionProject provisions a generated project, leaving its links to
// the tables its migrations create (as `apply` does).
func provisionProject(ctx context.Context, e *env, g *generated) error {
	_, err := provision.ApplyWith(ctx, g.p, e.server(g.p.Settings.Database), nil, provision.Options{DeferLinks: true})
	if err != nil {
		return fmt.Errorf("provision %d services: %w", len(g.p.Services), err)
	}
	return nil
}

// provisionAndCreate provisions a generated project and creates its tables
// with runBySQL: what a no-op plan needs, fast.
func provisionAndCreate(ctx context.Context, e *env, g *generated) error {
	if err := provisionProject(ctx, e, g); err != nil {
		return err
	}
	return runBySQL(ctx, e.server(g.p.Settings.Database), g)
}

// noopPlan times a plan of a project that needs nothing, and checks that
// it plans nothing.
func noopPlan(ctx context.Context, e *env, g *generated) (float64, error) {
	var cs *provision.Changeset
	secs, err := timed(func() (err error) {
		cs, err = provision.Plan(ctx, g.p, e.server(g.p.Settings.Database))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("plan %d services: %w", len(g.p.Services), err)
	}
	if cs.Pending != 0 {
		return 0, fmt.Errorf("plan of %d provisioned services is not a no-op: %d changes:\n%s", len(g.p.Services), cs.Pending, firstLines(cs.Human(), 20))
	}
	return secs, nil
}

// replayPlan is the baseline of provisioning from empty: the statements
// splitschema plans for it (computed untimed), run as one SQL script would
// run them: CREATE DATABASE, then the rest in one transaction. The
// passwords are the literal '***' the plan shows, which the server hashes
// as it would any password.
func replayPlan(ctx context.Context, e *env, g *generated) (float64, error) {
	srv := e.server(g.p.Settings.Database)
	cs, err := provision.PlanWith(ctx, g.p, srv, provision.Options{DeferLinks: true})
	if err != nil {
		return 0, fmt.Errorf("plan %d services from empty: %w", len(g.p.Services), err)
	}
	return timed(func() error {
		if err := e.exec(ctx, "CREATE DATABASE "+pgx.Identifier{srv.Database}.Sanitize()); err != nil {
			return err
		}
		conn, err := srv.Connect(ctx, srv.Database)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		tx, err := conn.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(context.Background())
		for _, c := range cs.Changes {
			if c.Action == provision.ActionCreateDatabase {
				continue
			}
			if _, err := tx.Exec(ctx, c.SQL); err != nil {
				return fmt.Errorf("replay %s: %w", c.SQL, err)
			}
		}
		return tx.Commit(ctx)
	})
}

// dropProject drops a generated project's database and roles.
func dropProject(ctx context.Context, e *env, g *generated) error {
	if err := e.dropDatabase(ctx, g.p.Settings.Database); err != nil {
		return err
	}
	return e.dropRoles(ctx, backup.ServiceRoles(g.p))
}

// firstLines returns the first n lines of s.
func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = append(lines[:n], "…")
	}
	return strings.Join(lines, "\n")
}
