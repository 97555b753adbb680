package cli

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v2"

	"github.com/splitschema/splitschema/internal/demo"
	"github.com/splitschema/splitschema/internal/target"
)

func demoCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "demo",
		Usage: "show on real data that one snapshot restores whole where per-service backups break links",
		Description: "Writes the example shop into .splitschema/demo/ and applies it in its own database (" + demo.Database + ",\n" +
			"roles " + demo.RolePrefix + "*) on the embedded cluster or --database-url. While every service writes through its own\n" +
			"role, takes one splitschema backup and, the microservice way, one pg_dump per service at staggered\n" +
			"times; drops the database; restores the snapshot with `splitschema restore` and the per-service\n" +
			"backups schema by schema into " + demo.IndependentDatabase + "; then counts, for every cross-service link, the\n" +
			"rows that reference a row that is not there, and the orphan state (an order marked paid with no\n" +
			"payment...). Exit 0 only when the snapshot restore verifies with zero broken links.",
		Flags: []ucli.Flag{
			&ucli.DurationFlag{Name: "duration", Value: 30 * time.Second, Usage: "how long the shop works in all; the backups start after a quarter of it"},
			&ucli.Float64Flag{Name: "rate", Value: 100, Usage: "each service's target `TRANSACTIONS` per second"},
			&ucli.DurationFlag{Name: "interval", Value: 3 * time.Second, Usage: "time between the starts of two per-service backups"},
			&ucli.StringFlag{Name: "order", Value: strings.Join(demo.DefaultOrder, ","), Usage: "`SERVICES` in the order the per-service backups run, comma-separated"},
			&ucli.IntFlag{Name: "jobs", Aliases: []string{"j"}, Value: runtime.NumCPU(), Usage: "parallel `N` jobs of the splitschema backup and restore"},
		},
		Action: action(runDemo),
	}
}

func runDemo(e *env) error {
	if e.c.NArg() > 0 {
		return usageErr(e.c, fmt.Errorf("demo takes no arguments, got %q", e.c.Args().Slice()))
	}
	var order []string
	for _, s := range strings.Split(e.c.String("order"), ",") {
		if s = strings.TrimSpace(s); s != "" {
			order = append(order, s)
		}
	}
	cfg := demo.Config{
		Dir:      filepath.Join(e.dir, ".splitschema", "demo"),
		Duration: e.c.Duration("duration"),
		Rate:     e.c.Float64("rate"),
		Interval: e.c.Duration("interval"),
		Order:    order,
		Jobs:     e.c.Int("jobs"),
		Logger:   e.log,
		Step:     func(step string) { fmt.Fprintf(e.stderr, "demo: %s\n", step) },
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	// The demo works in databases of its own: the URL only names the server.
	srv, err := target.Resolve(e.ctx, target.Options{URL: e.dbURL, ProjectDir: e.dir, DefaultDatabase: demo.Database, AllowOtherDatabase: true, ServerBinDir: e.serverBinDir, Logger: e.log})
	if err != nil {
		return err
	}
	cfg.Server = srv
	defer e.interruptible()()
	res, err := demo.Run(e.ctx, cfg)
	if err != nil {
		return err
	}
	if err := e.emit(res); err != nil {
		return err
	}
	if !res.OK {
		return exitFindings()
	}
	return nil
}
