package demo

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/splitschema/splitschema/internal/archive"
	"github.com/splitschema/splitschema/internal/inspect"
	"github.com/splitschema/splitschema/internal/svcrestore"
	"github.com/splitschema/splitschema/internal/workload"
)

// RestoredService is the service the demo's bad deploy wipes and the demo
// restores alone, in place: no other service links to it, so its restore
// can break no other service's rows.
const RestoredService = "payments"

// oneServicePace is how long the other services write before the wipe;
// they go on until three times that has passed.
const oneServicePace = time.Second

// OneServiceInfo is the third part of the demo: one service restored from
// the snapshot, in place, while the others keep writing.
type OneServiceInfo struct {
	Service string `json:"service"`
	// Wiped counts the rows the bad deploy deleted.
	Wiped int64 `json:"wiped_rows"`
	// Restore is `splitschema restore ID --service` 's report.
	Restore *svcrestore.Result `json:"restore"`
	// Others are the other services' writers, from the wipe to the end of
	// the restore.
	Others *workload.Result `json:"others"`
	// Mismatches lists the restored tables whose row count differs from the
	// backup's after the restore; empty when every one matches.
	Mismatches []string `json:"row_count_mismatches"`
}

// restoreOneService wipes RestoredService's tables in the restored
// database, as a bad deploy would, while the other services write through
// their own roles; restores it alone from backup id, in place; checks its
// row counts against the backup's, and measures the links in the
// database afterwards.
func (r *run) restoreOneService(ctx context.Context, urls map[string]string, id string, fks []archive.ForeignKey) (*OneServiceInfo, Damage, error) {
	info := &OneServiceInfo{Service: RestoredService}
	var others []string
	for svc := range urls {
		if svc != RestoredService {
			others = append(others, svc)
		}
	}
	slices.Sort(others)
	started := time.Now()
	shopCtx, stopShop := context.WithCancel(ctx)
	defer stopShop()
	shopDone := make(chan error, 1)
	go func() {
		res, err := workload.Run(shopCtx, workload.Config{URLs: urls, Rate: r.cfg.Rate, Only: others, Logger: r.cfg.Logger})
		info.Others = res
		shopDone <- err
	}()
	// The demo's pace, not a synchronisation: the writers are under way
	// before the wipe and go on a while after the restore.
	time.Sleep(oneServicePace)
	conn, err := r.srv.Connect(ctx, Database)
	if err != nil {
		return nil, Damage{}, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tables, err := inspect.DataTables(ctx, conn, r.p.Service(RestoredService).Schemas)
	if err != nil {
		return nil, Damage{}, fmt.Errorf("demo: %w", err)
	}
	for _, t := range tables {
		var n int64
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+t).Scan(&n); err != nil {
			return nil, Damage{}, fmt.Errorf("demo: count %s: %w", t, err)
		}
		info.Wiped += n
	}
	if _, err := conn.Exec(ctx, "TRUNCATE "+strings.Join(tables, ", ")); err != nil {
		return nil, Damage{}, fmt.Errorf("demo: the bad deploy of %s: truncate its tables: %w", RestoredService, err)
	}
	rr, err := svcrestore.Restore(ctx, r.p, r.srv, id, svcrestore.Options{
		Services: []string{RestoredService}, Jobs: r.cfg.Jobs, Logger: r.cfg.Logger,
		PgBinDir: filepath.Dir(clientTool(r.srv, "pg_restore")),
	})
	var refused *svcrestore.RefusedError
	if err != nil && !errors.As(err, &refused) {
		return nil, Damage{}, fmt.Errorf("demo: restore %s in place: %w", RestoredService, err)
	}
	info.Restore = rr
	time.Sleep(time.Until(started.Add(3 * oneServicePace)))
	stopShop()
	if err := <-shopDone; err != nil && !errors.Is(err, context.Canceled) {
		return nil, Damage{}, fmt.Errorf("demo: the other services' writers: %w", err)
	}
	for _, t := range rr.Tables {
		var n int64
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+t.Table).Scan(&n); err != nil {
			return nil, Damage{}, fmt.Errorf("demo: count %s: %w", t.Table, err)
		}
		if n != t.BackupRows {
			info.Mismatches = append(info.Mismatches, fmt.Sprintf("%s: %d rows, the backup has %d", t.Table, n, t.BackupRows))
		}
	}
	d, err := measureDamage(ctx, conn, fks)
	if err != nil {
		return nil, Damage{}, fmt.Errorf("demo: database %s after the one-service restore: %w", Database, err)
	}
	return info, d, nil
}
