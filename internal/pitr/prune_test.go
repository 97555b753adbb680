package pitr

import (
	"context"
	"slices"
	"testing"
	"time"
)

// TestKeepFull: the count keeps at least keep full backups, the window
// every one that ended within it and the newest one before it.
func TestKeepFull(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	var fulls []Backup // oldest first, one a day, the newest an hour ago
	for i := 9; i >= 0; i-- {
		fulls = append(fulls, Backup{Label: "F" + string(rune('0'+i)), Type: Full, Stopped: now.Add(-time.Duration(i)*day - time.Hour)})
	}
	for _, c := range []struct {
		keep   int
		window time.Duration
		want   int
	}{
		{2, 0, 2},
		{2, 3 * day, 4},          // ended within 3 days: 3, plus the one before
		{5, 3 * day, 5},          // the count wins
		{1, 30 * day, 10},        // all of them, none before the window
		{1, time.Hour, 2},        // the newest ended at the window's start: it and the one before
		{1, 30 * time.Minute, 1}, // none within: the newest, which reaches the window's start
	} {
		if got := keepFull(fulls, c.keep, c.window, now); got != c.want {
			t.Errorf("keepFull(keep %d, window %s) = %d, want %d", c.keep, c.window, got, c.want)
		}
	}
}

// TestPrune takes a second full backup and prunes to one: the older full
// backup goes, the newer stays; pruning again changes nothing.
func TestPrune(t *testing.T) {
	e := env(t)
	ctx := context.Background()
	before, err := e.setup.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.setup.Backup(ctx, Full)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.setup.Prune(ctx, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Kept, []string{b.Label}) {
		t.Errorf("kept %v, want only the new full backup %s", res.Kept, b.Label)
	}
	if len(res.Expired) != len(before.Backups) {
		t.Errorf("expired %v, want the %d older backup(s)", res.Expired, len(before.Backups))
	}
	res, err = e.setup.Prune(ctx, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Expired) != 0 {
		t.Errorf("a second prune expired %v", res.Expired)
	}
}

// TestSegmentsBetween: right after a backup, pg_stat_archiver names the
// backup history file as the last archived one; it must not read as
// "nothing archived yet" (which made `pitr check` report the whole WAL as
// waiting).
func TestSegmentsBetween(t *testing.T) {
	for _, c := range []struct {
		last, current string
		want          int64
	}{
		{"000000010000000000000003", "000000010000000000000004", 0},
		{"000000010000000000000003", "000000010000000000000007", 3},
		{"000000010000000000000003.00000028.backup", "000000010000000000000004", 0},
		{"000000010000000000000003.partial", "000000010000000000000005", 1},
		{"0000000100000000000000FF", "000000010000000100000001", 1},
		{"", "000000010000000000000004", 4},
		{"00000002.history", "000000020000000000000004", 0},
	} {
		if got := segmentsBetween(c.last, c.current, 256); got != c.want {
			t.Errorf("segmentsBetween(%q, %q) = %d, want %d", c.last, c.current, got, c.want)
		}
	}
}

func TestParseLSN(t *testing.T) {
	for in, want := range map[string]uint64{"0/3000028": 0x3000028, "1/0": 1 << 32, "A/FF": 0xA<<32 | 0xFF} {
		if got, ok := parseLSN(in); !ok || got != want {
			t.Errorf("parseLSN(%q) = %x, %v; want %x", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "3000028", "x/1", "1/2/3"} {
		if _, ok := parseLSN(bad); ok {
			t.Errorf("parseLSN(%q) accepted", bad)
		}
	}
}
