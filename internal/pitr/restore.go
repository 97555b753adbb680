package pitr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/splitschema/splitschema/internal/localpg"
	"github.com/splitschema/splitschema/internal/target"
	"github.com/splitschema/splitschema/internal/verify"
)

// Target is where a restore stops: exactly one of its fields is set.
type Target struct {
	// Time: the last transaction committed at or before it.
	Time time.Time `json:"time,omitzero"`
	// Point: a named restore point (`pitr points`).
	Point string `json:"point,omitempty"`
	// Latest: the end of the archived WAL.
	Latest bool `json:"latest,omitempty"`
}

// String renders the target for messages.
func (t Target) String() string {
	switch {
	case t.Point != "":
		return fmt.Sprintf("restore point %q", t.Point)
	case t.Latest:
		return "the latest archived WAL"
	}
	return t.Time.UTC().Format(time.RFC3339Nano)
}

func (t Target) check() error {
	n := 0
	if !t.Time.IsZero() {
		n++
	}
	if t.Point != "" {
		n++
	}
	if t.Latest {
		n++
	}
	if n != 1 {
		return errors.New("give exactly one target: a time, a restore point or the latest")
	}
	if !t.Time.IsZero() && t.Time.After(time.Now()) {
		return fmt.Errorf("target time %s is in the future", t.Time.UTC().Format(time.RFC3339))
	}
	return nil
}

// RestoreOptions tune Restore.
type RestoreOptions struct {
	Target Target
	// Dir is the new cluster's folder (it holds data/, run/, server.log
	// and state/); it must not exist. Default: beside the project's
	// cluster, named after the time of the restore.
	Dir string
	// Port is the new cluster's port; 0 picks a free one.
	Port int
	// Audit runs the isolation audit on the restored database.
	Audit verify.AuditFunc
	// Ephemeral starts the restored cluster with fsync off (tests).
	Ephemeral bool
	// NoVerify skips the verification (the RPO benchmark counts rows
	// itself); the result then says it was not verified.
	NoVerify bool
	Logger   *slog.Logger
	// Progress, when set, is told each step.
	Progress func(step string)
}

// RestoreResult is what a point-in-time restore made and found.
type RestoreResult struct {
	OK     bool   `json:"ok"`
	Target Target `json:"target"`
	// Set is the backup the restore started from.
	Set     string `json:"backup"`
	Dir     string `json:"dir"`
	DataDir string `json:"data_dir"`
	Port    int    `json:"port"`
	LogFile string `json:"log_file"`
	// Versions are the restored services' migration versions.
	Versions map[string]int64 `json:"versions"`
	// VersionsFrom says what the versions were compared with, or why
	// they could not be.
	VersionsFrom string         `json:"versions_compared_with"`
	Verify       *verify.Result `json:"verify"`
	// Notes say what was not checked.
	Notes    []string      `json:"notes"`
	Duration time.Duration `json:"duration_ns"`
	// Stop is how to stop the restored cluster.
	Stop string `json:"stop"`
	// URL is the restored cluster's admin URL of the project database. It
	// holds the password: never print it.
	URL string `json:"-"`
}

// Human renders the result.
func (r *RestoreResult) Human() string {
	var b strings.Builder
	verdict := "restored and verified"
	if !r.OK {
		verdict = "restored, VERIFY FAILED"
	}
	fmt.Fprintf(&b, "%s: %s, from backup %s, in %.1fs\n", verdict, r.Target, r.Set, r.Duration.Seconds())
	fmt.Fprintf(&b, "  cluster %s, port %d, running (log %s)\n", r.DataDir, r.Port, r.LogFile)
	names := slices.Sorted(maps.Keys(r.Versions))
	for _, n := range names {
		fmt.Fprintf(&b, "  %s at migration version %d\n", n, r.Versions[n])
	}
	fmt.Fprintf(&b, "  migration versions compared with %s\n", r.VersionsFrom)
	if r.Verify != nil {
		for _, line := range strings.Split(strings.TrimRight(r.Verify.Human(), "\n"), "\n")[1:] {
			fmt.Fprintf(&b, "%s\n", line)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "  note: %s\n", n)
	}
	fmt.Fprintf(&b, "  stop it with: %s\n", r.Stop)
	return b.String()
}

// ErrBeforeFirstBackup is returned for a target older than the end of the
// oldest backup: no backup can reach it.
var ErrBeforeFirstBackup = errors.New("the target is before the end of the first backup")

// Restore restores the repository into a new cluster at o.Target, starts
// it, waits for it to end recovery and verifies the project database: every
// foreign key valid, no broken rows, the migration versions as they were at
// the target, the isolation audit. The cluster keeps running; on failure it
// is stopped and left in place for inspection. The project's own cluster is
// never touched.
func (s *Setup) Restore(ctx context.Context, o RestoreOptions) (*RestoreResult, error) {
	start := time.Now()
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	progress := o.Progress
	if progress == nil {
		progress = func(string) {}
	}
	if err := o.Target.check(); err != nil {
		return nil, fmt.Errorf("pitr restore: %w", err)
	}
	if !s.Enabled() {
		return nil, errors.New("pitr restore: point-in-time recovery is not enabled for this cluster (splitschema pitr enable)")
	}
	var point *Point
	if o.Target.Point != "" {
		pt, err := FindPoint(s.Project, o.Target.Point)
		if err != nil {
			return nil, fmt.Errorf("pitr restore: %w", err)
		}
		point = pt
	}
	dir := o.Dir
	if dir == "" {
		dir = s.Cluster.Home() + "-pitr-" + time.Now().UTC().Format("20060102T150405Z")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("pitr restore: %w", err)
	}
	if _, err := os.Lstat(dir); err == nil {
		return nil, fmt.Errorf("pitr restore: folder %s exists: a restore goes into a new folder, never over one (remove it or pick another with --target-dir)", dir)
	}
	if st, err := s.Cluster.Status(ctx); err == nil && st.Running {
		// What the target needs may still be in the current WAL segment.
		progress("archiving the current WAL segment")
		if err := s.flushWAL(ctx, 2*time.Minute); err != nil {
			return nil, fmt.Errorf("pitr restore: %w", err)
		}
	} else if !o.Target.Latest {
		o.Logger.Warn("the project's cluster is not running: the restore reaches only WAL archived before it stopped")
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("pitr restore: %w", err)
	}
	set, err := chooseSet(info, o.Target, point)
	if err != nil {
		return nil, fmt.Errorf("pitr restore: %w", err)
	}
	res := &RestoreResult{Target: o.Target, Set: set, Dir: dir, DataDir: filepath.Join(dir, "data"), Notes: []string{}}

	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, fmt.Errorf("pitr restore: %w", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pitr restore: folder %s: %w", dir, err)
	}
	if err := mkdirOwned(dir, s.uid, s.gid); err != nil {
		return nil, fmt.Errorf("pitr restore: folder %s: %w", dir, err)
	}
	if err := mkdirOwned(res.DataDir, s.uid, s.gid); err != nil {
		return nil, fmt.Errorf("pitr restore: folder %s: %w", res.DataDir, err)
	}
	progress("copying backup " + set)
	args := []string{"--pg1-path=" + res.DataDir, "--set=" + set, "--archive-mode=off"}
	switch {
	case point != nil:
		args = append(args, "--type=name", "--target="+point.Name, "--target-action=promote")
	case o.Target.Latest:
		args = append(args, "--type=default")
	default:
		args = append(args, "--type=time", "--target="+o.Target.Time.UTC().Format("2006-01-02 15:04:05.999999-07"), "--target-action=promote")
	}
	if _, err := s.run(ctx, append(args, "restore")...); err != nil {
		return nil, fmt.Errorf("pitr restore: %w (the half-restored folder %s is left for inspection; remove it before trying again)", err, dir)
	}

	progress("replaying WAL to " + o.Target.String())
	cl, err := s.startRestored(ctx, dir, o)
	if err != nil {
		return res, fmt.Errorf("pitr restore: %w (folder %s left for inspection)", err, dir)
	}
	st, err := cl.Status(ctx)
	if err != nil {
		return res, err
	}
	res.Port, res.LogFile = st.Port, st.LogFile
	res.Stop = stopHint(st)
	fail := func(err error) (*RestoreResult, error) {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if serr := cl.Stop(stopCtx); serr != nil {
			o.Logger.Warn("could not stop the restored cluster", "dir", dir, "err", serr)
		}
		return res, fmt.Errorf("pitr restore: %w (the restored cluster is stopped and left in %s for inspection)", err, dir)
	}
	admin, err := cl.AdminURL()
	if err != nil {
		return fail(err)
	}
	srv, err := target.FromURL(admin, s.Project.Settings.Database)
	if err != nil {
		return fail(err)
	}
	// The admin URL names the maintenance database: the project's is another.
	srv.Database = s.Project.Settings.Database
	if err := waitPromoted(ctx, srv, st.LogFile); err != nil {
		return fail(err)
	}
	res.URL = srv.URL(srv.Database)
	if o.NoVerify {
		res.Notes = append(res.Notes, "not verified (asked not to)")
		res.Duration = time.Since(start)
		return res, nil
	}
	progress("verifying")
	expected, from := s.expectedVersions(ctx, o.Target, point)
	res.VersionsFrom = from
	v, versions, err := verifyRestored(ctx, srv, s.Project, expected, o)
	if err != nil {
		return fail(err)
	}
	res.Verify, res.Versions = v, versions
	res.Notes = append(res.Notes, "row counts are not compared: nothing records them at an arbitrary point in time; every foreign key, broken link and the isolation audit are checked")
	res.OK = v.OK
	res.Duration = time.Since(start)
	return res, nil
}

// chooseSet picks the newest backup that ended before the target, so that
// WAL replay can reach it. The latest target takes the newest backup.
func chooseSet(info *Info, t Target, point *Point) (string, error) {
	var ok []Backup
	for _, b := range info.Backups {
		if !b.Error {
			ok = append(ok, b)
		}
	}
	if len(ok) == 0 {
		return "", errors.New("the repository holds no backup (splitschema backup --physical)")
	}
	if t.Latest {
		return ok[len(ok)-1].Label, nil
	}
	if point != nil {
		// A restore point is a WAL position: compare it with where each
		// backup's WAL ends, exactly, rather than by the clock.
		if at, ok1 := parseLSN(point.LSN); ok1 {
			for i := len(ok) - 1; i >= 0; i-- {
				if stop, ok2 := parseLSN(ok[i].StopLSN); ok2 && stop <= at {
					return ok[i].Label, nil
				}
			}
			if _, ok2 := parseLSN(ok[0].StopLSN); ok2 {
				return "", fmt.Errorf("%w: restore point %q (WAL %s) is before %s, where the first backup (%s) ends",
					ErrBeforeFirstBackup, point.Name, point.LSN, ok[0].StopLSN, ok[0].Label)
			}
		}
	}
	at := t.Time
	if point != nil {
		at = point.Time
	}
	// pgBackRest records the stop time in whole seconds: the backup is
	// consistent at most a second after it.
	for i := len(ok) - 1; i >= 0; i-- {
		if !ok[i].Stopped.Add(time.Second).After(at) {
			return ok[i].Label, nil
		}
	}
	return "", fmt.Errorf("%w: %s is before %s, when the first backup (%s) ended; the earliest a restore can reach is then",
		ErrBeforeFirstBackup, at.UTC().Format(time.RFC3339Nano), ok[0].Stopped.Add(time.Second).Format(time.RFC3339), ok[0].Label)
}

// parseLSN reads a WAL position written as Postgres does, e.g. 0/3000028.
func parseLSN(s string) (uint64, bool) {
	hi, lo, found := strings.Cut(s, "/")
	if !found {
		return 0, false
	}
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return h<<32 | l, true
}

// startRestored starts the restored data directory as a cluster of its own.
func (s *Setup) startRestored(ctx context.Context, dir string, o RestoreOptions) (*localpg.Cluster, error) {
	opts := []localpg.Option{localpg.WithRuntimeDir(dir), localpg.WithStateDir(filepath.Join(dir, "state"))}
	if o.Port != 0 {
		opts = append(opts, localpg.WithPort(o.Port))
	}
	if o.Ephemeral {
		opts = append(opts, localpg.Ephemeral())
	}
	cl, err := localpg.New(s.Project.Dir, o.Logger, opts...)
	if err != nil {
		return nil, err
	}
	if err := cl.AdoptPassword(s.Cluster); err != nil {
		return nil, err
	}
	if err := cl.Start(ctx); err != nil {
		return nil, err
	}
	return cl, nil
}

// waitPromoted waits until the restored server ends recovery.
func waitPromoted(ctx context.Context, srv *target.Server, logFile string) error {
	deadline := time.Now().Add(30 * time.Minute)
	for {
		conn, err := srv.Connect(ctx, "postgres")
		if err == nil {
			var rec bool
			err = conn.QueryRow(ctx, "SELECT pg_catalog.pg_is_in_recovery()").Scan(&rec)
			conn.Close(context.WithoutCancel(ctx))
			if err == nil && !rec {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("recovery did not end within 30 minutes; see %s", logFile)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if err != nil && !serverAlive(logFile) {
			return fmt.Errorf("the restored server stopped during recovery: %v; %s ends with:\n%s", err, logFile, tail(logFile))
		}
	}
}

// serverAlive guesses from the log whether the server shut down.
func serverAlive(logFile string) bool {
	t := tail(logFile)
	return !strings.Contains(t, "database system is shut down") && !strings.Contains(t, "FATAL:  recovery ended before")
}

func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return lastLines(string(b), 15)
}

func stopHint(st localpg.Status) string {
	cmd := fmt.Sprintf("%s/pg_ctl stop -D %s", st.BinDir, shellQuote(st.DataDir))
	if st.ServerUser != "" {
		return fmt.Sprintf("su -s /bin/sh %s -c %s", st.ServerUser, shellQuote(cmd))
	}
	return cmd
}

// Discard stops the cluster of a restore and removes its folder: for a
// restore made only to read from (restore --service --to-time), not for
// one a user asked to keep.
func (s *Setup) Discard(ctx context.Context, res *RestoreResult) error {
	cl, err := localpg.New(s.Project.Dir, nil, localpg.WithRuntimeDir(res.Dir), localpg.WithStateDir(filepath.Join(res.Dir, "state")))
	if err != nil {
		return fmt.Errorf("discard the restored cluster in %s: %w", res.Dir, err)
	}
	if err := cl.Stop(ctx); err != nil {
		return fmt.Errorf("discard the restored cluster in %s: stop it: %w", res.Dir, err)
	}
	if err := os.RemoveAll(res.Dir); err != nil {
		return fmt.Errorf("discard the restored cluster: remove %s: %w", res.Dir, err)
	}
	return nil
}
