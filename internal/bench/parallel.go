package bench

import (
	"context"
	"sync"
	"sync/atomic"
)

// forEach calls f(ctx, i) for every i in [0, n) on at most jobs goroutines,
// starting them in order of i. The first error cancels the calls not yet
// started and is returned; so is the parent's, when it ends first.
func forEach(parent context.Context, jobs, n int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	var (
		next     atomic.Int64
		once     sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	for range max(1, min(jobs, n)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f(ctx, i); err != nil {
					once.Do(func() { firstErr = err })
					cancel()
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return parent.Err()
}
