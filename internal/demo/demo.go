// Package demo measures the BAC theorem on the example shop: while the
// shop's services write, it takes one splitschema backup and, the
// microservice way, one pg_dump per service at staggered times; it drops
// the database, restores both ways and counts what each lost.
package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/splitschema/splitschema/internal/audit"
	"github.com/splitschema/splitschema/internal/backup"
	"github.com/splitschema/splitschema/internal/backup/archive"
	"github.com/splitschema/splitschema/internal/localpg"
	"github.com/splitschema/splitschema/internal/migrate"
	"github.com/splitschema/splitschema/internal/provision"
	"github.com/splitschema/splitschema/internal/secrets"
	"github.com/splitschema/splitschema/internal/target"
	"github.com/splitschema/splitschema/internal/workload"
)

// DefaultOrder is the order in which the independent teams take their
// backups: the services others depend on first, as a careful operator
// would, except that payments backs up before orders, which lets orders
// mark paid an order whose payment that backup does not hold.
var DefaultOrder = []string{"customers", "catalog", "payments", "orders", "shipping"}

// Config sets up a demo run.
type Config struct {
	// Dir is the demo's own project folder, which it (re)writes.
	Dir string
	// Server is the admin's server; the demo works in its own databases.
	Server *target.Server
	// Duration is how long the shop works in all (default 30s); the
	// backups start after a quarter of it, and the shop works on until
	// both are done.
	Duration time.Duration
	// Rate is each service's target transactions per second (default 100).
	Rate float64
	// Interval separates the starts of the independent backups (default 3s).
	Interval time.Duration
	// Order is the order of the independent backups (default DefaultOrder).
	Order []string
	// Jobs is the parallelism of the splitschema backup and restore.
	Jobs   int
	Logger *slog.Logger
	// Step, when set, is told each step as it starts.
	Step func(string)
}

// Validate fills in the defaults and checks the settings; Run calls it
// first, and nothing is touched when it fails.
func (c *Config) Validate() error {
	if c.Duration == 0 {
		c.Duration = 30 * time.Second
	}
	if c.Rate == 0 {
		c.Rate = 100
	}
	if c.Interval == 0 {
		c.Interval = 3 * time.Second
	}
	if len(c.Order) == 0 {
		c.Order = DefaultOrder
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Step == nil {
		c.Step = func(string) {}
	}
	switch {
	case c.Duration < 4*time.Second:
		return fmt.Errorf("demo: --duration %s is too short: give the shop at least 4s", c.Duration)
	case c.Rate < 0:
		return fmt.Errorf("demo: --rate %g must be positive", c.Rate)
	case c.Interval < 0:
		return fmt.Errorf("demo: --interval %s must not be negative", c.Interval)
	}
	names, err := shopServices()
	if err != nil {
		return err
	}
	return checkOrder(c.Order, names)
}

// Run runs the demo. The error is nil when the demo ran to its end, even
// when the snapshot did not verify: Result.OK says that.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p, err := writeProject(cfg.Dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, s := range p.OrderedServices() {
		names = append(names, s.Name)
	}
	srv := on(cfg.Server, Database)
	admin, err := adminConn(ctx, srv)
	if err != nil {
		return nil, err
	}
	defer admin.Close(context.WithoutCancel(ctx))
	for _, db := range []string{Database, IndependentDatabase} {
		if err := clearDatabase(ctx, admin, db); err != nil {
			return nil, err
		}
	}
	started := time.Now()
	res := &Result{Database: Database, IndependentDatabase: IndependentDatabase, Server: srv.Addr()}

	cfg.Step("apply the example shop in database " + Database)
	// Every run gives the demo's app roles new passwords: the roles may be
	// left from an earlier run whose secrets are gone.
	if _, err := provision.ApplyWith(ctx, p, srv, cfg.Logger, provision.Options{NewPasswords: names}); err != nil {
		return nil, fmt.Errorf("demo: provision: %w", err)
	}
	if err := markDatabase(ctx, admin, Database); err != nil {
		return nil, err
	}
	if _, err := migrate.Apply(ctx, p, srv, migrate.Options{Log: cfg.Logger}); err != nil {
		return nil, fmt.Errorf("demo: apply: %w", err)
	}
	urls := map[string]string{}
	for _, n := range names {
		if urls[n], err = secrets.URL(p.Dir, n); err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
	}

	// The shop works; after a quarter of the time both backups start.
	cfg.Step(fmt.Sprintf("run the shop's writers at %g transactions/s per service", cfg.Rate))
	shopCtx, stopShop := context.WithCancel(ctx)
	defer stopShop()
	var shopRes *workload.Result
	var shopErr error
	shopDone := make(chan struct{})
	go func() {
		defer close(shopDone)
		shopRes, shopErr = workload.Run(shopCtx, workload.Config{URLs: urls, Rate: cfg.Rate, Logger: cfg.Logger})
	}()
	stopAndWait := func() {
		stopShop()
		<-shopDone
	}
	select {
	case <-time.After(cfg.Duration / 4):
	case <-shopDone:
		return nil, fmt.Errorf("demo: the shop stopped before the backups: %w", shopErr)
	case <-ctx.Done():
		stopAndWait()
		return nil, ctx.Err()
	}

	cfg.Step(fmt.Sprintf("back up while the shop writes: one splitschema backup, and one pg_dump per service %s apart", cfg.Interval))
	dumpDir := filepath.Join(cfg.Dir, "independent")
	if err := os.RemoveAll(dumpDir); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	if err := os.MkdirAll(dumpDir, 0o700); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	schemas := make([]string, len(cfg.Order))
	for i, n := range cfg.Order {
		schemas[i] = p.Service(n).Schema
	}
	pgDump, pgRestore := clientTool(srv, "pg_dump"), clientTool(srv, "pg_restore")
	var wg sync.WaitGroup
	var snap *backup.Result
	var dumps []independentDump
	var snapErr, dumpErr error
	backupsStarted := time.Now()
	wg.Go(func() {
		snap, snapErr = backup.Run(ctx, p, srv, backup.Options{Jobs: cfg.Jobs, Logger: cfg.Logger})
	})
	wg.Go(func() {
		dumps, dumpErr = dumpIndependently(ctx, srv, pgDump, Database, dumpDir, cfg.Order, schemas, cfg.Interval)
	})
	wg.Wait()
	if err := errors.Join(snapErr, dumpErr); err != nil {
		stopAndWait()
		return nil, fmt.Errorf("demo: %w", err)
	}
	if rest := time.Until(started.Add(cfg.Duration)); rest > 0 {
		select {
		case <-time.After(rest):
		case <-ctx.Done():
		}
	}
	stopAndWait()
	if shopErr != nil {
		return nil, fmt.Errorf("demo: the shop failed: %w", shopErr)
	}
	res.Workload = shopRes
	res.Backup = BackupInfo{ID: snap.ID, Path: snap.Path, Tables: snap.Tables, Rows: snap.Rows, Bytes: snap.Bytes, Seconds: snap.Seconds,
		Started: snap.Manifest.Started.Sub(backupsStarted).Seconds()}
	for _, d := range dumps {
		res.Independent = append(res.Independent, IndependentInfo{Service: d.Service, Started: d.Started.Sub(backupsStarted).Seconds()})
	}

	cfg.Step("disaster: drop database " + Database)
	if err := dropDatabase(ctx, admin, Database); err != nil {
		return nil, err
	}

	cfg.Step("restore the splitschema backup into " + Database + " and verify it")
	rr, err := backup.Restore(ctx, p, cfg.Server, snap.ID, backup.RestoreOptions{
		TargetDB: Database, Jobs: cfg.Jobs, Audit: audit.ForVerify(p, cfg.Logger), Logger: cfg.Logger,
		AppPassword: func(svc string) (string, error) { return secrets.Password(p.Dir, svc) },
	})
	if err != nil {
		return nil, fmt.Errorf("demo: restore the snapshot: %w", err)
	}
	if err := markDatabase(ctx, admin, Database); err != nil {
		return nil, err
	}
	res.Verify = rr.Verify

	cfg.Step("restore the per-service backups, one schema after the other, into " + IndependentDatabase)
	if err := createDatabase(ctx, admin, IndependentDatabase); err != nil {
		return nil, err
	}
	res.FailedConstraints, err = restoreIndependently(ctx, srv, pgRestore, IndependentDatabase, dumps)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}

	cfg.Step("count broken links and orphan state in both")
	fks := snap.Manifest.ForeignKeys
	snapDamage, err := damageOf(ctx, srv, Database, fks)
	if err != nil {
		return nil, err
	}
	indDamage, err := damageOf(ctx, srv, IndependentDatabase, fks)
	if err != nil {
		return nil, err
	}
	res.tabulate(fks, indDamage, snapDamage)
	res.OK = rr.OK && rr.Verify != nil && rr.Verify.OK && snapDamage.Total() == 0
	res.Seconds = time.Since(started).Seconds()
	return res, nil
}

// damageOf measures the damage in database db.
func damageOf(ctx context.Context, srv *target.Server, db string, fks []archive.ForeignKey) (Damage, error) {
	conn, err := srv.Connect(ctx, db)
	if err != nil {
		return Damage{}, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	d, err := measureDamage(ctx, conn, fks)
	if err != nil {
		return d, fmt.Errorf("demo: database %s: %w", db, err)
	}
	return d, nil
}

// checkOrder accepts an order of the independent backups that names every
// service once.
func checkOrder(order, services []string) error {
	sorted := slices.Sorted(slices.Values(order))
	want := slices.Sorted(slices.Values(services))
	if !slices.Equal(sorted, want) {
		return fmt.Errorf("demo: --order %v must name each of the shop's services once: %v", order, want)
	}
	return nil
}

// clientTool is the path of a PostgreSQL client program: the server's
// own when it is known, else the newest installed.
func clientTool(srv *target.Server, name string) string {
	if srv.BinDir != "" {
		return filepath.Join(srv.BinDir, name)
	}
	if b, err := localpg.FindBinaries(); err == nil {
		return b.Path(name)
	}
	return name
}
