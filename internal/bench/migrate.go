package bench

import (
	"context"
	"fmt"

	"github.com/splitschema/splitschema/internal/migrate"
)

// The size of the migration scenario.
const (
	migrateServices   = 100
	migrationsPerUnit = 5
)

// benchMigrate measures, Runs times, `migrate up` of 100 freshly
// provisioned services with 5 migrations each (goose per service, as its
// owner role, version table in its schema, links granted after each)
// against the same SQL run by one admin session (runBySQL). Both projects
// are provisioned untimed before and dropped after every run.
func benchMigrate(ctx context.Context, e *env) (*row, error) {
	ours, err := e.generate(ctx, "m100", migrateServices, migrationsPerUnit)
	if err != nil {
		return nil, err
	}
	hand, err := e.generate(ctx, "mh100", migrateServices, migrationsPerUnit)
	if err != nil {
		return nil, err
	}
	r := &row{what: fmt.Sprintf("migrate up, %d services × %d migrations vs the same SQL in one session", migrateServices, migrationsPerUnit), unit: unitSeconds}
	for run := range e.cfg.Runs {
		for _, g := range []*generated{ours, hand} {
			if err := provisionProject(ctx, e, g); err != nil {
				return nil, err
			}
		}
		if err := e.checkpoint(ctx); err != nil {
			return nil, err
		}
		tUp, err := timed(func() error {
			_, err := migrate.Up(ctx, ours.p, e.server(ours.p.Settings.Database), migrate.Options{})
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("migrate up: %w", err)
		}
		if err := e.checkpoint(ctx); err != nil {
			return nil, err
		}
		tHand, err := timed(func() error { return runBySQL(ctx, e.server(hand.p.Settings.Database), hand) })
		if err != nil {
			return nil, err
		}
		for _, g := range []*generated{ours, hand} {
			if err := dropProject(ctx, e, g); err != nil {
				return nil, err
			}
		}
		e.progress("migrate run %d/%d: migrate up %.2f s, the same SQL in one session %.2f s", run+1, e.cfg.Runs, tUp, tHand)
		r.add(tUp, tHand)
	}
	return r, nil
}
