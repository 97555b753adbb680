package pitr

import (
	"context"
	"fmt"
	"time"
)

// flushWAL closes the current WAL segment of the project's cluster and
// waits until it is archived, so that a restore can reach what was just
// committed. It fails when archiving does not catch up within wait.
func (s *Setup) flushWAL(ctx context.Context, wait time.Duration) error {
	conn, err := s.connect(ctx, "postgres")
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var segment string
	if err := conn.QueryRow(ctx, "SELECT pg_catalog.pg_walfile_name(pg_catalog.pg_switch_wal())").Scan(&segment); err != nil {
		return fmt.Errorf("switch WAL: %w", err)
	}
	deadline := time.Now().Add(wait)
	for {
		var archived, failed string
		if err := conn.QueryRow(ctx, `SELECT coalesce(last_archived_wal, ''), coalesce(last_failed_wal, '')
			FROM pg_catalog.pg_stat_archiver`).Scan(&archived, &failed); err != nil {
			return fmt.Errorf("read pg_stat_archiver: %w", err)
		}
		// Segment names of one timeline sort in WAL order.
		if len(archived) == len(segment) && archived[8:] >= segment[8:] {
			return nil
		}
		if time.Now().After(deadline) {
			msg := fmt.Sprintf("WAL segment %s was not archived within %s (last archived: %q)", segment, wait, archived)
			if failed != "" {
				msg += fmt.Sprintf("; archive_command fails (last failed: %s): `splitschema pitr status` says more", failed)
			}
			return fmt.Errorf("%s", msg)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
