package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// The scenarios, as ONLY names them.
const (
	scenarioBackup    = "backup"    // backup against pg_dump, and the COPY floor
	scenarioRestore   = "restore"   // restore + verify against pg_restore
	scenarioWorkload  = "workload"  // writers' throughput during a backup
	scenarioProvision = "provision" // provision and plan at 100, 500, 1000 services
	scenarioMigrate   = "migrate"   // migrate up, 100 services × 5 migrations
	scenarioPITR      = "pitr"      // physical backup and point-in-time restore against the logical ones, RPO
	scenarioStall     = "stall"     // writers' worst stall while a migration waits behind a backup's lock
	scenarioService   = "service"   // one service restored in place against the whole database's restore
	scenarioStore     = "store"     // backup and restore with an S3-compatible object store against the local folder
)

// scenarios lists every scenario in the order they run.
var scenarios = []string{scenarioBackup, scenarioRestore, scenarioService, scenarioStore, scenarioWorkload, scenarioProvision, scenarioMigrate, scenarioStall, scenarioPITR}

// Config says what a benchmark run measures, how much and where.
type Config struct {
	// Scale sizes the shop: 1 is about 340 MiB of table data, and the
	// table data grows linearly with it.
	Scale float64
	// Runs is how many times each measurement is taken; the table shows
	// medians.
	Runs int
	// Only lists the scenarios to run; empty runs them all.
	Only []string
	// DatabaseURL is an admin (superuser) URL of the server to use; empty
	// means the libpq PG* variables, else an embedded cluster of its own.
	DatabaseURL string
	// Report is the markdown file whose benchmark section gets the table;
	// empty writes none.
	Report string
	// Jobs is the parallel jobs of splitschema and of the tuned
	// baselines; default: the CPU count.
	Jobs int
	// Progress receives a line per step; nil discards them.
	Progress io.Writer
	// Verbose also sends the debug logs of backup and restore (their
	// timings) to Progress.
	Verbose bool
}

// check validates the configuration.
func (c *Config) check() error {
	if c.Scale <= 0 {
		return fmt.Errorf("SCALE %g: want a size above 0, such as 0.1, 1 or 10", c.Scale)
	}
	if c.Runs < 1 {
		return fmt.Errorf("RUNS %d: want at least 1", c.Runs)
	}
	for _, s := range c.Only {
		if !slices.Contains(scenarios, s) {
			return fmt.Errorf("ONLY %q: no such scenario (scenarios: %s)", s, strings.Join(scenarios, ", "))
		}
	}
	return nil
}

// runs reports whether scenario s is selected.
func (c *Config) runs(s string) bool {
	return len(c.Only) == 0 || slices.Contains(c.Only, s)
}

// needsShop reports whether a selected scenario works on the shop.
func (c *Config) needsShop() bool {
	return c.runs(scenarioBackup) || c.runs(scenarioRestore) || c.runs(scenarioService) || c.runs(scenarioStore) || c.runs(scenarioWorkload) || c.runs(scenarioPITR)
}

// splitList splits a comma or space separated list, dropping empty items.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}
