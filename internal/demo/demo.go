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

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/archive"
	"github.com/splitschema/splitschema/internal/audit"
	"github.com/splitschema/splitschema/internal/backup"
	"github.com/splitschema/splitschema/internal/localpg"
	"github.com/splitschema/splitschema/internal/manifest"
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
	r := &run{cfg: cfg, p: p, srv: srv, admin: admin}
	started := time.Now()
	res := &Result{Database: Database, IndependentDatabase: IndependentDatabase, Server: srv.Addr()}

	cfg.Step("apply the example shop in database " + Database)
	urls, err := r.apply(ctx)
	if err != nil {
		return nil, err
	}
	cfg.Step(fmt.Sprintf("run the shop's writers at %g transactions/s per service; back up after %s: "+
		"one splitschema backup, and one pg_dump per service %s apart", cfg.Rate, cfg.Duration/4, cfg.Interval))
	b, err := r.backUpWhileWriting(ctx, urls, started)
	if err != nil {
		return nil, err
	}
	res.Workload = b.shop
	res.Backup = BackupInfo{ID: b.snap.ID, Path: b.snap.Path, Tables: b.snap.Tables, Rows: b.snap.Rows, Bytes: b.snap.Bytes,
		Seconds: b.snap.Seconds, Started: b.snap.Manifest.Started.Sub(b.started).Seconds()}
	for _, d := range b.dumps {
		res.Independent = append(res.Independent, IndependentInfo{Service: d.Service, Started: d.Started.Sub(b.started).Seconds()})
	}

	cfg.Step("disaster: drop database " + Database)
	if err := dropDatabase(ctx, admin, Database); err != nil {
		return nil, err
	}
	cfg.Step("restore the splitschema backup into " + Database + " and verify it")
	rr, err := r.restoreSnapshot(ctx, b.snap.ID)
	if err != nil {
		return nil, err
	}
	res.Verify = rr.Verify
	cfg.Step("restore the per-service backups, one schema after the other, into " + IndependentDatabase)
	if err := createDatabase(ctx, admin, IndependentDatabase); err != nil {
		return nil, err
	}
	if res.FailedConstraints, err = restoreIndependently(ctx, srv, clientTool(srv, "pg_restore"), IndependentDatabase, b.dumps); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}

	cfg.Step("count broken links and orphan state in both")
	// The links between services: what independent dumps break. The
	// manifest also lists the foreign keys inside a service, which one
	// service's own dump keeps whole.
	var fks []archive.ForeignKey
	for _, fk := range b.snap.Manifest.ForeignKeys {
		if fk.From.Schema != fk.To.Schema {
			fks = append(fks, fk)
		}
	}
	for _, s := range b.snap.Manifest.SoftLinks { // counted like links: no constraint stands for them
		fks = append(fks, archive.ForeignKey{Name: "soft link of " + s.Service, From: s.From, To: s.To, Match: "simple", Validated: true})
	}
	snapDamage, err := damageOf(ctx, srv, Database, fks)
	if err != nil {
		return nil, err
	}
	indDamage, err := damageOf(ctx, srv, IndependentDatabase, fks)
	if err != nil {
		return nil, err
	}
	cfg.Step(fmt.Sprintf("a bad deploy wipes %s in %s while the other services write; restore %s alone from the snapshot, in place",
		RestoredService, Database, RestoredService))
	one, oneDamage, err := r.restoreOneService(ctx, urls, b.snap.ID, fks)
	if err != nil {
		return nil, err
	}
	res.OneService = one
	res.tabulate(fks, indDamage, snapDamage, oneDamage)
	res.OK = rr.OK && rr.Verify != nil && rr.Verify.OK && snapDamage.Total() == 0 &&
		one.Restore.Applied && len(one.Mismatches) == 0 && oneDamage.Total() == 0
	res.Seconds = time.Since(started).Seconds()
	return res, nil
}

// run is one demo run's settings and its admin connection.
type run struct {
	cfg Config
	p   *manifest.Project
	// srv is the admin's settings on the demo's database.
	srv   *target.Server
	admin *pgx.Conn
}

// apply provisions the shop, giving every app role a new password (the
// roles may be left from an earlier run whose secrets are gone), migrates
// it, and returns each service's URL.
func (r *run) apply(ctx context.Context) (map[string]string, error) {
	var names []string
	for _, s := range r.p.OrderedServices() {
		names = append(names, s.Name)
	}
	if _, err := provision.ApplyWith(ctx, r.p, r.srv, r.cfg.Logger, provision.Options{NewPasswords: names}); err != nil {
		return nil, fmt.Errorf("demo: provision: %w", err)
	}
	if err := markDatabase(ctx, r.admin, Database); err != nil {
		return nil, err
	}
	if _, err := migrate.Up(ctx, r.p, r.srv, migrate.Options{Log: r.cfg.Logger}); err != nil {
		return nil, fmt.Errorf("demo: migrate: %w", err)
	}
	urls := map[string]string{}
	for _, n := range names {
		u, err := secrets.URL(r.p.Dir, n)
		if err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
		urls[n] = u
	}
	return urls, nil
}

// backups is what backUpWhileWriting took, and what the shop did meanwhile.
type backups struct {
	snap    *backup.Result
	dumps   []independentDump
	started time.Time
	shop    *workload.Result
}

// backUpWhileWriting runs the shop's writers until the run's Duration is
// over; after a quarter of it, it takes the splitschema backup and the
// staggered per-service dumps at once, and the writers go on until both
// are done.
func (r *run) backUpWhileWriting(ctx context.Context, urls map[string]string, started time.Time) (*backups, error) {
	shopCtx, stopShop := context.WithCancel(ctx)
	defer stopShop()
	var shop *workload.Result
	var shopErr error
	shopDone := make(chan struct{})
	go func() {
		defer close(shopDone)
		shop, shopErr = workload.Run(shopCtx, workload.Config{URLs: urls, Rate: r.cfg.Rate, Logger: r.cfg.Logger})
	}()
	stop := func() error {
		stopShop()
		<-shopDone
		if shopErr != nil {
			return fmt.Errorf("demo: the shop failed: %w", shopErr)
		}
		return nil
	}
	select {
	case <-time.After(r.cfg.Duration / 4):
	case <-shopDone:
		return nil, fmt.Errorf("demo: the shop stopped before the backups: %w", shopErr)
	case <-ctx.Done():
		_ = stop() // the cancellation is what to report
		return nil, ctx.Err()
	}

	dumpDir := filepath.Join(r.cfg.Dir, "independent")
	if err := os.RemoveAll(dumpDir); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	if err := os.MkdirAll(dumpDir, 0o700); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	schemas := make([]string, len(r.cfg.Order))
	for i, n := range r.cfg.Order {
		schemas[i] = r.p.Service(n).Schema
	}
	b := &backups{started: time.Now()}
	var wg sync.WaitGroup
	var snapErr, dumpErr error
	wg.Go(func() {
		b.snap, snapErr = backup.Run(ctx, r.p, r.srv, backup.Options{Jobs: r.cfg.Jobs, Logger: r.cfg.Logger})
	})
	wg.Go(func() {
		b.dumps, dumpErr = dumpIndependently(ctx, r.srv, clientTool(r.srv, "pg_dump"), Database, dumpDir, r.cfg.Order, schemas, r.cfg.Interval)
	})
	wg.Wait()
	if err := errors.Join(snapErr, dumpErr); err != nil {
		return nil, fmt.Errorf("demo: %w", errors.Join(err, stop()))
	}
	if rest := time.Until(started.Add(r.cfg.Duration)); rest > 0 {
		select {
		case <-time.After(rest):
		case <-ctx.Done():
		}
	}
	if err := stop(); err != nil {
		return nil, err
	}
	b.shop = shop
	return b, nil
}

// restoreSnapshot restores backup id into the demo's database with
// `splitschema restore`, which verifies it and runs the isolation audit.
func (r *run) restoreSnapshot(ctx context.Context, id string) (*backup.RestoreResult, error) {
	rr, err := backup.Restore(ctx, r.p, r.cfg.Server, id, backup.RestoreOptions{
		TargetDB: Database, Jobs: r.cfg.Jobs, Audit: audit.ForVerify(r.p, r.cfg.Logger), Logger: r.cfg.Logger,
		AppPassword: func(svc string) (string, error) { return secrets.Password(r.p.Dir, svc) },
	})
	if err != nil {
		return nil, fmt.Errorf("demo: restore the snapshot: %w", err)
	}
	return rr, markDatabase(ctx, r.admin, Database)
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
