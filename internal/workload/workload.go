// Package workload runs the example shop's writers: each service writes only
// through its own login role, with its own generated queries, at a chosen
// rate, and learns other services' ids only through an in-memory registry
// that stands in for their APIs and events.
package workload

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/time/rate"
)

// Config says how hard and how long the shop works.
type Config struct {
	// URLs maps each service to its application role's connection URL.
	URLs map[string]string
	// Rate is the target transactions per second of each service; 0 means
	// as fast as the workers go.
	Rate float64
	// Duration ends the run; 0 runs until ctx is done.
	Duration time.Duration
	// Workers is the number of concurrent writers per service (default 2).
	Workers int
	// Only, when set, limits the writers to these services: the others'
	// rows stay as they are (a service being restored, say).
	Only []string
	// Seed makes the choices repeatable; 0 picks one.
	Seed   uint64
	Logger *slog.Logger
}

// Stats are one service's counts.
type Stats struct {
	Service   string  `json:"service"`
	Committed int64   `json:"committed"`
	Refused   int64   `json:"refused"`
	Retried   int64   `json:"retried"`
	Failed    int64   `json:"failed"`
	TPS       float64 `json:"tps"`
}

// Result is what a run did.
type Result struct {
	Seconds  float64 `json:"seconds"`
	Services []Stats `json:"services"`
}

// Committed is the total of committed transactions.
func (r *Result) Committed() int64 {
	var n int64
	for _, s := range r.Services {
		n += s.Committed
	}
	return n
}

// String renders the per-service throughput as a table.
func (r *Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-10s %10s %8s %8s %7s %9s\n", "service", "committed", "refused", "retried", "failed", "tx/s")
	for _, s := range r.Services {
		fmt.Fprintf(&b, "%-10s %10d %8d %8d %7d %9.1f\n", s.Service, s.Committed, s.Refused, s.Retried, s.Failed, s.TPS)
	}
	return b.String()
}

// maxFailures ends the run when a service keeps failing for reasons that
// are not races (a wrong password, a dropped table...).
const maxFailures = 50

type counters struct{ committed, refused, retried, failed, failedInARow atomic.Int64 }

// Run drives the shop until Duration has passed or ctx is done. It returns
// an error only when a service cannot work at all.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Seed == 0 {
		cfg.Seed = rand.Uint64()
	}
	if cfg.Rate < 0 {
		return nil, fmt.Errorf("workload: rate %g must not be negative", cfg.Rate)
	}
	s := &shop{reg: &registry{}, pools: map[string]*pgxpool.Pool{}}
	defer func() {
		for _, p := range s.pools {
			p.Close()
		}
	}()
	services := Services
	if len(cfg.Only) > 0 {
		services = nil
		for _, svc := range Services {
			if slices.Contains(cfg.Only, svc) {
				services = append(services, svc)
			}
		}
		if len(services) != len(cfg.Only) {
			return nil, fmt.Errorf("workload: Only %v names a service that is not one of %v", cfg.Only, Services)
		}
	}
	for _, svc := range services {
		u, ok := cfg.URLs[svc]
		if !ok {
			return nil, fmt.Errorf("workload: no connection URL for service %s", svc)
		}
		pcfg, err := pgxpool.ParseConfig(u)
		if err != nil {
			// The parser's message may quote the URL, password included.
			return nil, fmt.Errorf("workload: %s: invalid connection URL", svc)
		}
		pcfg.MaxConns = int32(cfg.Workers)
		pool, err := pgxpool.NewWithConfig(ctx, pcfg)
		if err != nil {
			return nil, fmt.Errorf("workload: %s: %w", svc, err)
		}
		s.pools[svc] = pool
		if err := pool.Ping(ctx); err != nil {
			return nil, fmt.Errorf("workload: %s cannot connect as %s: %w", svc, pcfg.ConnConfig.User, err)
		}
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if cfg.Duration > 0 {
		runCtx, cancel = context.WithTimeout(runCtx, cfg.Duration)
		defer cancel()
	}
	start := time.Now()
	counts := map[string]*counters{}
	var wg sync.WaitGroup
	var fatalOnce sync.Once
	var fatal error
	for si, svc := range services {
		c := &counters{}
		counts[svc] = c
		limit := rate.Inf
		if cfg.Rate > 0 {
			limit = rate.Limit(cfg.Rate)
		}
		limiter := rate.NewLimiter(limit, 1)
		for w := range cfg.Workers {
			step, err := s.steps(svc)
			if err != nil {
				return nil, err
			}
			r := rand.New(rand.NewPCG(cfg.Seed, uint64(si*1000+w)))
			wg.Go(func() {
				if err := work(runCtx, step, r, limiter, c); err != nil {
					fatalOnce.Do(func() { fatal = fmt.Errorf("workload: %s: %w", svc, err) })
					cancel()
				}
			})
		}
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	res := &Result{Seconds: elapsed}
	for _, svc := range services {
		c := counts[svc]
		res.Services = append(res.Services, Stats{
			Service: svc, Committed: c.committed.Load(), Refused: c.refused.Load(),
			Retried: c.retried.Load(), Failed: c.failed.Load(),
			TPS: float64(c.committed.Load()) / elapsed,
		})
	}
	return res, fatal
}

// work runs steps until ctx ends; it returns an error when failures that
// are not races pile up.
func work(ctx context.Context, step stepFunc, r *rand.Rand, limiter *rate.Limiter, c *counters) error {
	for {
		if err := limiter.Wait(ctx); err != nil {
			return nil // the run is over
		}
		var o outcome
		var lastErr error
		for attempt := 0; ; attempt++ {
			var err error
			o, err = step(ctx, r)
			if ctx.Err() != nil {
				return nil
			}
			if err == nil {
				lastErr = nil
				break
			}
			var retry bool
			o, retry, lastErr = classify(err)
			if !retry || attempt == maxRetries {
				break
			}
			c.retried.Add(1)
		}
		switch {
		case lastErr != nil:
			c.failed.Add(1)
			if c.failedInARow.Add(1) >= maxFailures {
				return fmt.Errorf("%d failures in a row, the last: %w", maxFailures, lastErr)
			}
			continue
		case o == committed:
			c.committed.Add(1)
		case o == refused:
			c.refused.Add(1)
		case o == idle:
			// Nothing to do yet: wait a little so an idle writer does not spin.
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(5 * time.Millisecond):
			}
		}
		c.failedInARow.Store(0)
	}
}
