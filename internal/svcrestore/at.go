package svcrestore

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/splitschema/splitschema/internal/backup"
	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/pitr"
	"github.com/splitschema/splitschema/internal/target"
	"github.com/splitschema/splitschema/internal/verify"
)

// A restore of some services to a point in time composes what exists:
// pgBackRest restores the whole cluster at that point into a scratch
// cluster (verified like any point-in-time restore), a logical backup of
// its project database is taken beside it, and the services are restored
// in place from that backup, with the same report, refusals and single
// transaction as from any backup. The scratch cluster and backup are
// removed at the end, whatever happened, unless the point-in-time restore
// itself failed its verification (then they are left to look into).

// PointInTime says where a restore of services at a point in time comes
// from.
type PointInTime struct {
	Setup  *pitr.Setup
	Target pitr.Target
	// Dir is the scratch cluster's folder; it must not exist. Default:
	// beside the project's cluster.
	Dir string
	// Audit is the isolation audit of the scratch cluster's verification.
	Audit verify.AuditFunc
}

// AtResult is what RestoreAt did.
type AtResult struct {
	// PointInTime is the scratch cluster's restore and verification.
	PointInTime *pitr.RestoreResult `json:"point_in_time"`
	// Backup is the logical backup taken of it, then removed.
	Backup string `json:"backup"`
	// Restore is the in-place restore of the services from that backup.
	Restore *Result `json:"restore"`
	// Left says what was left behind, when something was.
	Left string `json:"left,omitempty"`
}

// Human renders the result.
func (r *AtResult) Human() string {
	var b strings.Builder
	if r.PointInTime != nil {
		fmt.Fprintf(&b, "point in time %s: restored into a scratch cluster from backup %s, %s\n",
			r.PointInTime.Target, r.PointInTime.Set, verdict(r.PointInTime))
	}
	if r.Backup != "" {
		fmt.Fprintf(&b, "logical backup %s of it taken, read, then removed with the scratch cluster\n", r.Backup)
	}
	if r.Left != "" {
		fmt.Fprintf(&b, "left behind: %s\n", r.Left)
	}
	if r.Restore != nil {
		b.WriteString(r.Restore.Human())
	}
	return b.String()
}

func verdict(r *pitr.RestoreResult) string {
	if r.OK {
		return "verified (0 broken links, isolation audit " + r.Verify.Audit + ")"
	}
	return "VERIFY FAILED: nothing restored from it"
}

// RestoreAt restores services o.Services of p, in place in srv's
// database, to their state at the point in time pt names.
func RestoreAt(ctx context.Context, p *manifest.Project, srv *target.Server, pt PointInTime, o Options) (res *AtResult, err error) {
	res = &AtResult{}
	progress := func(s string) {
		if o.Progress != nil {
			o.Progress(s)
		}
	}
	for _, name := range o.Services {
		if p.Service(name) == nil {
			return nil, fmt.Errorf("service restore: no service %s in the project", name)
		}
	}
	dir := pt.Dir
	if dir == "" {
		dir = pt.Setup.Cluster.Home() + "-pitr-service-" + time.Now().UTC().Format("20060102T150405Z")
	}
	pr, err := pt.Setup.Restore(ctx, pitr.RestoreOptions{Target: pt.Target, Dir: dir, Audit: pt.Audit, Logger: o.Logger,
		Progress: func(s string) { progress("point in time: " + s) }})
	res.PointInTime = pr
	if err != nil {
		return res, fmt.Errorf("restore at %s: %w", pt.Target, err)
	}
	if !pr.OK {
		res.Left = fmt.Sprintf("the scratch cluster in %s, running on port %d (stop it with: %s)", pr.Dir, pr.Port, pr.Stop)
		return res, fmt.Errorf("restore at %s: the point-in-time restore did not verify (%s); nothing was changed in database %s. The scratch cluster is left running in %s to look into",
			pt.Target, strings.Join(pr.Verify.Mismatches, "; "), srv.Database, pr.Dir)
	}
	backups := pr.Dir + "-backup"
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		var left []string
		if derr := pt.Setup.Discard(cctx, pr); derr != nil {
			left = append(left, derr.Error())
		}
		if rerr := os.RemoveAll(backups); rerr != nil {
			left = append(left, rerr.Error())
		}
		if len(left) > 0 {
			res.Left = strings.Join(left, "; ")
			if err == nil {
				err = fmt.Errorf("the services were restored, but the scratch copy was not removed: %s", res.Left)
			}
		}
	}()
	scratch, err := target.FromURL(pr.URL, p.Settings.Database)
	if err != nil {
		return res, fmt.Errorf("restore at %s: %w", pt.Target, err)
	}
	scratch.Database = p.Settings.Database
	// The scratch project: the same services, its backups beside the
	// scratch cluster.
	sp := backup.WithFolder(p, backups)
	progress("point in time: logical backup of the scratch cluster")
	b, err := backup.Run(ctx, sp, scratch, backup.Options{Jobs: o.Jobs, PgBinDir: o.PgBinDir, Logger: o.Logger})
	if err != nil {
		return res, fmt.Errorf("restore at %s: backup of the scratch cluster: %w", pt.Target, err)
	}
	res.Backup = b.ID
	res.Restore, err = Restore(ctx, sp, srv, b.ID, o)
	return res, err
}
