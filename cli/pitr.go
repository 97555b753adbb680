package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v2"

	"github.com/splitschema/splitschema/internal/backup"
	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/pitr"
	"github.com/splitschema/splitschema/internal/target"
)

func pitrCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "pitr",
		Usage: "point-in-time recovery with pgBackRest: enable it, check it, see archiving and restore points",
		Description: "pgBackRest does the physical work (WAL archive, backups, restores); splitschema configures it on\n" +
			"the embedded cluster, names restore points at every apply, migration and logical backup, and\n" +
			"verifies every point-in-time restore (restore --to-time | --to-point | --to-latest).",
		Subcommands: []*ucli.Command{
			{
				Name:  "enable",
				Usage: "configure pgBackRest and WAL archiving on the embedded cluster and take a first full backup",
				Flags: []ucli.Flag{
					&ucli.BoolFlag{Name: "restart", Usage: "restart the cluster for archive_mode even while other sessions are connected (they are ended)"},
				},
				Action: action(runPitrEnable),
			},
			{
				Name:   "check",
				Usage:  "say what point-in-time recovery needs on the server and what is missing",
				Action: action(runPitrCheck),
			},
			{
				Name:   "status",
				Usage:  "WAL archiving: the last archived and failed segments, how far behind it is (pg_stat_archiver)",
				Action: action(runPitrStatus),
			},
			{
				Name:   "points",
				Usage:  "list the named restore points with their time and LSN",
				Action: action(runPitrPoints),
			},
		},
	}
}

// pitrSetup is the pgBackRest setup of the embedded cluster; a server of
// the user's own gets pitr.ErrNotEmbedded.
func (e *env) pitrSetup(p *manifest.Project, srv *target.Server) (*pitr.Setup, error) {
	if srv.Source != "embedded cluster" {
		return nil, pitr.ErrNotEmbedded
	}
	cl, err := e.cluster()
	if err != nil {
		return nil, err
	}
	return pitr.Open(e.ctx, p, cl)
}

func runPitrEnable(e *env) error {
	if err := needArgs(e, 0, "no arguments"); err != nil {
		return err
	}
	p, srv, err := e.projectServer()
	if err != nil {
		return err
	}
	s, err := e.pitrSetup(p, srv)
	if err != nil {
		return err
	}
	res, err := s.Enable(e.ctx, pitr.EnableOptions{Restart: e.c.Bool("restart"), Logger: e.log})
	if err != nil {
		return err
	}
	return e.emit(res)
}

func runPitrCheck(e *env) error {
	if err := needArgs(e, 0, "no arguments"); err != nil {
		return err
	}
	p, srv, err := e.projectServer()
	if err != nil {
		return err
	}
	var s *pitr.Setup
	if srv.Source == "embedded cluster" {
		if s, err = e.pitrSetup(p, srv); err != nil {
			return err
		}
	}
	res, err := pitr.Check(e.ctx, srv, s)
	if err != nil {
		return err
	}
	if err := e.emit(res); err != nil {
		return err
	}
	if !res.OK {
		return exitFindings()
	}
	return nil
}

func runPitrStatus(e *env) error {
	if err := needArgs(e, 0, "no arguments"); err != nil {
		return err
	}
	_, srv, err := e.projectServer()
	if err != nil {
		return err
	}
	conn, err := srv.Connect(e.ctx, "postgres")
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(e.ctx))
	res, err := pitr.Archiver(e.ctx, conn)
	if err != nil {
		return err
	}
	if err := e.emit(res); err != nil {
		return err
	}
	if !res.OK {
		return exitFindings()
	}
	return nil
}

// pointList is `pitr points`' output.
type pointList struct {
	Points []pitr.Point `json:"points"`
}

func (l pointList) Human() string {
	if len(l.Points) == 0 {
		return "no restore points yet (they are made by apply, migrate and backup once WAL is archived)\n"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-40s %-24s %s\n", "NAME", "TIME (UTC)", "LSN")
	for _, p := range l.Points {
		fmt.Fprintf(&b, "%-40s %-24s %s\n", p.Name, p.Time.UTC().Format("2006-01-02 15:04:05.000"), p.LSN)
	}
	return b.String()
}

func runPitrPoints(e *env) error {
	if err := needArgs(e, 0, "no arguments"); err != nil {
		return err
	}
	p, err := e.project()
	if err != nil {
		return err
	}
	pts, err := pitr.Points(p)
	if err != nil {
		return err
	}
	return e.emit(pointList{Points: pts})
}

// markPoint names a restore point when the server archives WAL; a failure
// is logged, not fatal: the work it marks is done, and a restore can still
// aim at its time.
func (e *env) markPoint(p *manifest.Project, srv *target.Server, name string) {
	pt, err := pitr.Mark(e.ctx, p, srv, name)
	switch {
	case err != nil:
		e.log.Warn("could not name a restore point", "name", name, "err", err)
	case pt != nil:
		e.log.Debug("restore point", "name", pt.Name, "lsn", pt.LSN)
	}
}

func runPhysicalBackup(e *env) error {
	if err := needArgs(e, 0, "no arguments"); err != nil {
		return err
	}
	t, err := pitr.ParseType(e.c.String("type"))
	if err != nil {
		return usageErr(e.c, err)
	}
	p, srv, err := e.projectServer()
	if err != nil {
		return err
	}
	s, err := e.pitrSetup(p, srv)
	if err != nil {
		return err
	}
	if !s.Enabled() {
		return fmt.Errorf("backup --physical: point-in-time recovery is not enabled (splitschema pitr enable)")
	}
	b, err := s.Backup(e.ctx, t)
	if err != nil {
		return fmt.Errorf("backup --physical: %w", err)
	}
	return e.emit(physicalBackup{b})
}

type physicalBackup struct{ *pitr.Backup }

func (b physicalBackup) Human() string {
	return fmt.Sprintf("physical backup %s (%s) %s, %s in the repository, ended %s\n", b.Label, b.Type,
		backup.HumanBytes(b.Size), backup.HumanBytes(b.RepoSize), b.Stopped.Format(time.RFC3339))
}

// physicalListing is the physical part of `backup list`, nil when PITR is
// not enabled on the embedded cluster.
func (e *env) physicalListing(p *manifest.Project) ([]pitr.Backup, error) {
	if e.dbURL != "" {
		return nil, nil
	}
	cl, err := e.cluster()
	if err != nil {
		return nil, nil
	}
	s, err := pitr.Open(e.ctx, p, cl)
	if err != nil || !s.Enabled() {
		return nil, nil
	}
	info, err := s.Info(e.ctx)
	if err != nil {
		return nil, err
	}
	return info.Backups, nil
}

// listing is `backup list`: the logical backups and the physical ones.
type listing struct {
	*backup.Listing
	Physical []pitr.Backup `json:"physical,omitempty"`
}

func (l listing) Human() string {
	out := l.Listing.Human()
	if len(l.Physical) == 0 {
		return out
	}
	var b strings.Builder
	b.WriteString(out)
	fmt.Fprintf(&b, "\nphysical (pgBackRest, stanza %s), oldest first:\n", pitr.Stanza)
	fmt.Fprintf(&b, "%-26s %-5s %-20s %-20s %10s %10s\n", "LABEL", "TYPE", "STARTED (UTC)", "ENDED (UTC)", "SIZE", "STORED")
	for _, p := range l.Physical {
		fmt.Fprintf(&b, "%-26s %-5s %-20s %-20s %10s %10s\n", p.Label, p.Type, p.Started.Format("2006-01-02 15:04:05"),
			p.Stopped.Format("2006-01-02 15:04:05"), backup.HumanBytes(p.Size), backup.HumanBytes(p.RepoSize))
	}
	return b.String()
}

// physicalPrune expires physical backups by the same rules as prune, when
// PITR is enabled on the embedded cluster.
func (e *env) physicalPrune(p *manifest.Project, keep int) (*pitr.PruneResult, error) {
	if e.dbURL != "" {
		return nil, nil
	}
	cl, err := e.cluster()
	if err != nil {
		return nil, nil
	}
	s, err := pitr.Open(e.ctx, p, cl)
	if err != nil || !s.Enabled() {
		return nil, nil
	}
	return s.Prune(e.ctx, keep, p.Settings.Window)
}

func runPitrRestore(e *env) error {
	if e.c.NArg() != 0 {
		return usageErr(e.c, fmt.Errorf("restore --to-time, --to-point and --to-latest take no backup ID"))
	}
	var tg pitr.Target
	n := 0
	if v := e.c.String("to-time"); v != "" {
		t, err := parseTime(v)
		if err != nil {
			return usageErr(e.c, fmt.Errorf("--to-time %q: %w", v, err))
		}
		tg.Time = t
		n++
	}
	if v := e.c.String("to-point"); v != "" {
		tg.Point = v
		n++
	}
	if e.c.Bool("to-latest") {
		tg.Latest = true
		n++
	}
	if n != 1 {
		return usageErr(e.c, fmt.Errorf("give one of --to-time, --to-point and --to-latest"))
	}
	if e.c.IsSet("service") {
		return runServiceRestoreAt(e, tg)
	}
	p, srv, err := e.projectServer()
	if err != nil {
		return err
	}
	s, err := e.pitrSetup(p, srv)
	if err != nil {
		return err
	}
	pr := e.progress()
	res, err := s.Restore(e.ctx, pitr.RestoreOptions{
		Target: tg, Dir: e.c.String("target-dir"), Port: e.c.Int("port"),
		Audit: e.auditFunc(p), Logger: e.log,
		Progress: func(step string) { pr.show("restore: %s…", step) },
	})
	pr.done()
	if err != nil {
		if res != nil && e.json {
			_ = e.writeJSON(res)
		}
		return err
	}
	if err := e.emit(res); err != nil {
		return err
	}
	if !res.OK {
		return exitFindings()
	}
	return nil
}

// parseTime reads RFC 3339 times, with or without a zone (UTC then), and
// with a space for the T.
func parseTime(v string) (time.Time, error) {
	v = strings.Replace(strings.TrimSpace(v), " ", "T", 1)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("not a time such as 2026-12-03T09:30:00Z (RFC 3339; without a zone it is UTC)")
}

// pruned is `backup prune` with physical backups too.
type pruned struct {
	*backup.PruneResult
	Physical *pitr.PruneResult `json:"physical"`
}

func (r pruned) Human() string { return r.PruneResult.Human() + r.Physical.Human() }
