package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/splitschema/splitschema/internal/backup"
)

// Report is what a benchmark run measured.
type Report struct {
	Config Config
	// Data describes the shop the backup rows worked on; "" without it.
	Data string
	// machine is where it ran; rows are the table's.
	machine *machine
	rows    []*row
	// Seconds is the wall time from the start to the last measurement.
	Seconds float64
}

// Run runs the selected scenarios and returns their rows. On failure it
// returns the rows measured so far with the error. Whatever happens, it
// drops what it created and stops the cluster it started.
func Run(ctx context.Context, cfg Config) (rep *Report, err error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	start := time.Now()
	e, err := setup(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := e.close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("clean up: %w", cerr))
		}
	}()
	rep = &Report{Config: cfg}
	defer func() { rep.Seconds = time.Since(start).Seconds() }()
	rep.Config.Jobs = e.jobs()
	if rep.machine, err = describeMachine(ctx, e); err != nil {
		return rep, err
	}
	e.progress("machine: %s", rep.machine)
	var s *shop
	if cfg.needsShop() {
		s, err = buildShop(ctx, e)
		if err != nil {
			return rep, err
		}
		rep.Data = fmt.Sprintf("%d tables, %.2f M rows, %s of table data (%s with indexes)",
			s.tables, float64(s.rows)/1e6, unitBytes.format(float64(s.heap)), unitBytes.format(float64(s.total)))
		if err := runShopScenarios(ctx, e, s, rep); err != nil {
			return rep, err
		}
	}
	if cfg.runs(scenarioProvision) {
		rows, err := benchProvision(ctx, e)
		if err != nil {
			return rep, fmt.Errorf("provision: %w", err)
		}
		rep.rows = append(rep.rows, rows...)
	}
	if cfg.runs(scenarioMigrate) {
		r, err := benchMigrate(ctx, e)
		if err != nil {
			return rep, fmt.Errorf("migrate: %w", err)
		}
		rep.rows = append(rep.rows, r)
	}
	if cfg.runs(scenarioStall) {
		r, err := benchStall(ctx, e)
		if err != nil {
			return rep, fmt.Errorf("stall: %w", err)
		}
		rep.rows = append(rep.rows, r)
	}
	// Last: it turns WAL archiving on, which would weigh on the others.
	if cfg.runs(scenarioPITR) {
		rows, err := benchPITR(ctx, e, s)
		if err != nil {
			return rep, fmt.Errorf("pitr: %w", err)
		}
		rep.rows = append(rep.rows, rows...)
	}
	return rep, nil
}

// runShopScenarios runs the selected scenarios that work on the shop.
func runShopScenarios(ctx context.Context, e *env, s *shop, rep *Report) error {
	var last *backup.Result
	if e.cfg.runs(scenarioBackup) {
		rows, b, err := benchBackup(ctx, e, s)
		if err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		rep.rows = append(rep.rows, rows...)
		last = b
	}
	if (e.cfg.runs(scenarioRestore) || e.cfg.runs(scenarioService)) && last == nil {
		e.progress("restore: taking the backup to restore")
		b, _, _, err := ourBackup(ctx, e, s)
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		last = b
	}
	if e.cfg.runs(scenarioRestore) {
		r, err := benchRestore(ctx, e, s, last)
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		rep.rows = append(rep.rows, r)
	}
	if e.cfg.runs(scenarioService) {
		rows, err := benchServiceRestore(ctx, e, s, last)
		if err != nil {
			return fmt.Errorf("service restore: %w", err)
		}
		rep.rows = append(rep.rows, rows...)
	}
	if e.cfg.runs(scenarioStore) {
		rows, err := benchObjectStore(ctx, e, s)
		if err != nil {
			return fmt.Errorf("object store: %w", err)
		}
		rep.rows = append(rep.rows, rows...)
	}
	if e.cfg.runs(scenarioWorkload) {
		rows, err := benchWorkload(ctx, e, s)
		if err != nil {
			return fmt.Errorf("workload: %w", err)
		}
		rep.rows = append(rep.rows, rows...)
	}
	return nil
}
