package pitr

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// ArchiveStatus is what pg_stat_archiver and the settings say of WAL
// archiving on a server.
type ArchiveStatus struct {
	ArchiveMode    string `json:"archive_mode"`
	ArchiveCommand string `json:"archive_command"`
	ArchiveTimeout string `json:"archive_timeout"`
	WALLevel       string `json:"wal_level"`
	// CurrentWAL is the segment being written.
	CurrentWAL       string     `json:"current_wal"`
	ArchivedCount    int64      `json:"archived_count"`
	LastArchivedWAL  string     `json:"last_archived_wal,omitempty"`
	LastArchivedTime *time.Time `json:"last_archived_time,omitempty"`
	FailedCount      int64      `json:"failed_count"`
	LastFailedWAL    string     `json:"last_failed_wal,omitempty"`
	LastFailedTime   *time.Time `json:"last_failed_time,omitempty"`
	// Behind counts the finished segments not archived yet.
	Behind int64 `json:"segments_behind"`
	// Failing is set when the last attempt failed.
	Failing bool `json:"failing"`
	// OK: archiving is on, not failing and at most one segment behind.
	OK bool `json:"ok"`
	// Problems say what is wrong, in words.
	Problems []string `json:"problems"`
}

// Human renders the status.
func (a *ArchiveStatus) Human() string {
	var b strings.Builder
	verdict := "archiving OK"
	if !a.OK {
		verdict = "ARCHIVING NOT OK"
	}
	fmt.Fprintf(&b, "%s: archive_mode %s, wal_level %s, archive_timeout %s\n", verdict, a.ArchiveMode, a.WALLevel, a.ArchiveTimeout)
	fmt.Fprintf(&b, "  current WAL segment %s; %d finished segment(s) not archived yet\n", a.CurrentWAL, a.Behind)
	if a.LastArchivedTime != nil {
		fmt.Fprintf(&b, "  last archived %s at %s (%d in all)\n", a.LastArchivedWAL, a.LastArchivedTime.UTC().Format(time.RFC3339), a.ArchivedCount)
	}
	if a.LastFailedTime != nil {
		fmt.Fprintf(&b, "  last failure %s at %s (%d in all)\n", a.LastFailedWAL, a.LastFailedTime.UTC().Format(time.RFC3339), a.FailedCount)
	}
	for _, p := range a.Problems {
		fmt.Fprintf(&b, "  - %s\n", p)
	}
	return b.String()
}

// Archiver reads the archiving status of the server conn is connected to.
func Archiver(ctx context.Context, conn *pgx.Conn) (*ArchiveStatus, error) {
	a := &ArchiveStatus{Problems: []string{}}
	for _, s := range []struct {
		name string
		dst  *string
	}{{"archive_mode", &a.ArchiveMode}, {"archive_command", &a.ArchiveCommand}, {"archive_timeout", &a.ArchiveTimeout}, {"wal_level", &a.WALLevel}} {
		v, err := show(ctx, conn, s.name)
		if err != nil {
			return nil, err
		}
		*s.dst = v
	}
	err := conn.QueryRow(ctx, `SELECT pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()),
		archived_count, coalesce(last_archived_wal, ''), last_archived_time,
		failed_count, coalesce(last_failed_wal, ''), last_failed_time
		FROM pg_catalog.pg_stat_archiver`).Scan(&a.CurrentWAL, &a.ArchivedCount, &a.LastArchivedWAL, &a.LastArchivedTime,
		&a.FailedCount, &a.LastFailedWAL, &a.LastFailedTime)
	if err != nil {
		return nil, fmt.Errorf("read pg_stat_archiver: %w", err)
	}
	var segSize int64
	if err := conn.QueryRow(ctx, "SELECT setting::bigint FROM pg_catalog.pg_settings WHERE name = 'wal_segment_size'").Scan(&segSize); err != nil {
		return nil, fmt.Errorf("read wal_segment_size: %w", err)
	}
	a.Behind = segmentsBetween(a.LastArchivedWAL, a.CurrentWAL, 0x100000000/segSize)
	a.Failing = a.LastFailedTime != nil && (a.LastArchivedTime == nil || a.LastFailedTime.After(*a.LastArchivedTime))
	switch {
	case a.ArchiveMode == "off":
		a.Problems = append(a.Problems, "archive_mode is off: no WAL is archived, so no point-in-time recovery")
	case a.ArchiveCommand == "" || a.ArchiveCommand == "(disabled)":
		a.Problems = append(a.Problems, "archive_command is empty: WAL piles up in pg_wal and nothing is archived")
	}
	if a.Failing {
		a.Problems = append(a.Problems, fmt.Sprintf("archive_command is failing: segment %s failed at %s (%d failures in all); WAL piles up in pg_wal until it succeeds; the server log says why",
			a.LastFailedWAL, a.LastFailedTime.UTC().Format(time.RFC3339), a.FailedCount))
	}
	if a.ArchiveMode != "off" && a.Behind > 1 {
		a.Problems = append(a.Problems, fmt.Sprintf("archiving is behind: %d finished WAL segment(s) are not archived; a restore cannot reach past %q", a.Behind, a.LastArchivedWAL))
	}
	a.OK = len(a.Problems) == 0
	return a, nil
}

// segmentsBetween counts the segments after last up to current, exclusive
// (0 when last is a timeline history file, which says nothing about them):
// the finished ones waiting to be archived. Names are TTTTTTTTXXXXXXXXYYYYYYYY
// with perID segments per XXXXXXXX (256 of the default 16 MiB).
func segmentsBetween(last, current string, perID int64) int64 {
	seg := func(name string) (int64, bool) {
		// The last archived file may be a backup history file
		// (<segment>.<offset>.backup) or a partial segment
		// (<segment>.partial): its first 24 characters name the segment.
		if len(name) < 24 || (len(name) > 24 && name[24] != '.') {
			return 0, false
		}
		name = name[:24]
		hi, err1 := strconv.ParseInt(name[8:16], 16, 64)
		lo, err2 := strconv.ParseInt(name[16:24], 16, 64)
		return hi*perID + lo, err1 == nil && err2 == nil
	}
	cur, ok := seg(current)
	if !ok {
		return 0
	}
	if last == "" {
		return cur // nothing archived yet
	}
	l, ok := seg(last)
	if !ok {
		return 0
	}
	if n := cur - l - 1; n > 0 {
		return n
	}
	return 0
}
