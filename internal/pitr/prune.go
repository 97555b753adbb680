package pitr

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// PruneResult says which physical backups Prune expired.
type PruneResult struct {
	// KeepFull is how many full backups (with the diff and incr ones
	// based on them) were kept.
	KeepFull int      `json:"keep_full"`
	Kept     []string `json:"kept"`
	Expired  []string `json:"expired"`
}

// Human renders the result.
func (r *PruneResult) Human() string {
	var b strings.Builder
	fmt.Fprintf(&b, "physical: kept %d full backup(s) (%d backups in all), expired %d\n", r.KeepFull, len(r.Kept), len(r.Expired))
	for _, e := range r.Expired {
		fmt.Fprintf(&b, "  expired %s\n", e)
	}
	return b.String()
}

// keepFull is how many of the newest full backups the retention rules
// keep: at least keep, and with a recovery window every full backup that
// ended within it plus the newest one before it, which a restore to the
// window's start begins from.
func keepFull(fulls []Backup, keep int, window time.Duration, now time.Time) int {
	n := keep
	if window > 0 {
		start := now.Add(-window)
		need := 0
		for i := len(fulls) - 1; i >= 0; i-- {
			need++
			if fulls[i].Stopped.Before(start) {
				break
			}
		}
		n = max(n, need)
	}
	return n
}

// Prune expires the physical backups the retention rules no longer need,
// with the WAL only they needed: pgBackRest's expire, told how many full
// backups to keep.
func (s *Setup) Prune(ctx context.Context, keep int, window time.Duration) (*PruneResult, error) {
	if keep < 1 {
		return nil, fmt.Errorf("physical prune: keep %d: at least 1", keep)
	}
	before, err := s.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("physical prune: %w", err)
	}
	var fulls []Backup
	for _, b := range before.Backups {
		if b.Type == Full {
			fulls = append(fulls, b)
		}
	}
	res := &PruneResult{KeepFull: keepFull(fulls, keep, window, time.Now()), Kept: []string{}, Expired: []string{}}
	if _, err := s.run(ctx, "--repo1-retention-full="+strconv.Itoa(res.KeepFull), "expire"); err != nil {
		return nil, fmt.Errorf("physical prune: %w", err)
	}
	after, err := s.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("physical prune: %w", err)
	}
	left := map[string]bool{}
	for _, b := range after.Backups {
		left[b.Label] = true
		res.Kept = append(res.Kept, b.Label)
	}
	for _, b := range before.Backups {
		if !left[b.Label] {
			res.Expired = append(res.Expired, b.Label)
		}
	}
	return res, nil
}
