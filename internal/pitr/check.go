package pitr

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/target"
)

// CheckItem is one requirement of point-in-time recovery.
type CheckItem struct {
	What string `json:"what"`
	OK   bool   `json:"ok"`
	// Fix says what to do when it is not met.
	Fix string `json:"fix,omitempty"`
}

// CheckResult lists every requirement and whether the server meets it.
type CheckResult struct {
	OK     bool        `json:"ok"`
	Server string      `json:"server"`
	Items  []CheckItem `json:"items"`
}

// Human renders the result.
func (r *CheckResult) Human() string {
	var b strings.Builder
	verdict := "point-in-time recovery ready"
	if !r.OK {
		verdict = "point-in-time recovery NOT ready"
	}
	fmt.Fprintf(&b, "%s on %s\n", verdict, r.Server)
	for _, it := range r.Items {
		mark := "ok     "
		if !it.OK {
			mark = "MISSING"
		}
		fmt.Fprintf(&b, "  %s %s\n", mark, it.What)
		if !it.OK && it.Fix != "" {
			fmt.Fprintf(&b, "          fix: %s\n", it.Fix)
		}
	}
	return b.String()
}

// catchUpWait bounds how long Check gives a working archiver to clear a
// backlog before it reports archiving as behind: a backup or a WAL switch
// just before the check leaves a few finished segments that archive_command
// has not reached yet, which is not a fault.
const catchUpWait = 30 * time.Second

// settledArchiver reads the archiver's state; while archive_command is not
// failing and more than one finished segment waits, it polls again until
// the backlog clears, archiving fails, or wait runs out, and returns the
// last state read. A real stall or failure is still reported, only later.
func settledArchiver(ctx context.Context, conn *pgx.Conn, wait time.Duration) (*ArchiveStatus, error) {
	deadline := time.Now().Add(wait)
	for {
		a, err := Archiver(ctx, conn)
		idle := a != nil && (a.ArchiveMode == "off" || a.ArchiveCommand == "" || a.ArchiveCommand == "(disabled)")
		if err != nil || idle || a.Failing || a.Behind <= 1 || time.Now().After(deadline) {
			return a, err
		}
		select {
		case <-ctx.Done():
			return a, nil
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Check says what point-in-time recovery needs on srv and what is missing.
// With a Setup (the embedded cluster) it also runs pgBackRest's own check.
func Check(ctx context.Context, srv *target.Server, s *Setup) (*CheckResult, error) {
	res := &CheckResult{Server: srv.Addr(), Items: []CheckItem{}}
	add := func(ok bool, what, fix string) {
		res.Items = append(res.Items, CheckItem{What: what, OK: ok, Fix: fix})
	}
	conn, err := srv.Connect(ctx, "postgres")
	if err != nil {
		return nil, fmt.Errorf("pitr check: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	a, err := settledArchiver(ctx, conn, catchUpWait)
	if err != nil {
		return nil, fmt.Errorf("pitr check: %w", err)
	}
	_, pgbrErr := LookPath()
	add(pgbrErr == nil, "pgBackRest installed here (restores run it)", "apt-get install pgbackrest")
	add(a.WALLevel == "replica" || a.WALLevel == "logical", "wal_level is replica or logical (is "+a.WALLevel+")",
		"ALTER SYSTEM SET wal_level = 'replica'; then restart the server")
	add(a.ArchiveMode == "on" || a.ArchiveMode == "always", "archive_mode is on (is "+a.ArchiveMode+")",
		"ALTER SYSTEM SET archive_mode = 'on'; then restart the server")
	cmdOK := strings.Contains(a.ArchiveCommand, "pgbackrest") && strings.Contains(a.ArchiveCommand, "archive-push")
	add(cmdOK, fmt.Sprintf("archive_command pushes WAL with pgBackRest (is %q)", a.ArchiveCommand),
		"ALTER SYSTEM SET archive_command = 'pgbackrest --stanza=<stanza> archive-push %p'; SELECT pg_reload_conf(); (README: Point-in-time recovery)")
	add(a.ArchiveTimeout != "0", "archive_timeout bounds how old the newest archived WAL can get (is "+a.ArchiveTimeout+")",
		"ALTER SYSTEM SET archive_timeout = '60s'; SELECT pg_reload_conf();")
	add(!a.Failing, "archive_command succeeds (pg_stat_archiver)", strings.Join(a.Problems, "; "))
	add(a.Behind <= 1, fmt.Sprintf("archiving keeps up (%d finished segment(s) waiting)", a.Behind), "see the server log for archive_command's errors")
	var super bool
	if err := conn.QueryRow(ctx, "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user").Scan(&super); err != nil {
		return nil, fmt.Errorf("pitr check: %w", err)
	}
	add(super, "the admin can create restore points (pg_create_restore_point needs a superuser or a grant)",
		"GRANT EXECUTE ON FUNCTION pg_create_restore_point(text) TO <admin>;")
	if s != nil {
		add(s.Enabled(), "splitschema pitr enable completed (stanza, first full backup)", "splitschema pitr enable")
		if s.Enabled() && pgbrErr == nil {
			err := s.prepare()
			if err == nil {
				_, err = s.run(ctx, "check")
			}
			fix := ""
			if err != nil {
				fix = err.Error()
			}
			add(err == nil, "pgBackRest check: a WAL segment reaches the repository", fix)
		}
	}
	res.OK = true
	for _, it := range res.Items {
		if !it.OK {
			res.OK = false
		}
	}
	return res, nil
}
