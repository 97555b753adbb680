package svcrestore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/migrate"
)

// Migration is one migration applied on one side only.
type Migration struct {
	Version int64 `json:"version"`
	// File is the project's migration file of that version, when it has one.
	File string `json:"file,omitempty"`
}

// VersionMismatch is a restored service whose applied migrations differ
// between the live database and the backup: its tables may not have the
// backup's shape, so the restore refuses.
type VersionMismatch struct {
	Service       string      `json:"service"`
	LiveVersion   int64       `json:"live_version"`
	BackupVersion int64       `json:"backup_version"`
	OnlyLive      []Migration `json:"only_live"`
	OnlyBackup    []Migration `json:"only_backup"`
}

// String says which migrations differ and what to do.
func (v VersionMismatch) String() string {
	var parts []string
	if len(v.OnlyLive) > 0 {
		parts = append(parts, "applied in the live database, not in the backup: "+migrationList(v.OnlyLive))
	}
	if len(v.OnlyBackup) > 0 {
		parts = append(parts, "applied in the backup, not in the live database: "+migrationList(v.OnlyBackup))
	}
	hint := fmt.Sprintf("migrate service %s to version %d first (or restore the whole database into a new one)", v.Service, v.BackupVersion)
	return fmt.Sprintf("service %s is at migration version %d, the backup at %d; %s; %s", v.Service, v.LiveVersion, v.BackupVersion, strings.Join(parts, "; "), hint)
}

func migrationList(ms []Migration) string {
	var out []string
	for _, m := range ms {
		if m.File != "" {
			out = append(out, fmt.Sprintf("%d (%s)", m.Version, m.File))
		} else {
			out = append(out, fmt.Sprintf("%d", m.Version))
		}
	}
	return strings.Join(out, ", ")
}

// appliedSQL lists the versions goose considers applied in its version
// table: those whose latest row says applied, version 0 aside.
const appliedSQL = `SELECT version_id FROM (
	SELECT DISTINCT ON (version_id) version_id, is_applied FROM %s ORDER BY version_id, id DESC) v
	WHERE is_applied AND version_id > 0 ORDER BY 1`

func applied(ctx context.Context, conn *pgx.Conn, ident string) ([]int64, error) {
	rows, err := conn.Query(ctx, fmt.Sprintf(appliedSQL, ident))
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// compareVersions compares the migrations applied to svc in the live
// database (version table vt) with those of the backup (its staged copy,
// nil when the backup has none).
func compareVersions(ctx context.Context, conn *pgx.Conn, p *manifest.Project, svc string, vt *table) (*VersionMismatch, error) {
	var live, backup []int64
	if vt != nil {
		var err error
		if live, err = applied(ctx, conn, vt.ident()); err != nil {
			return nil, fmt.Errorf("service %s: read the live migration versions: %w", svc, err)
		}
		if vt.stage != "" && vt.cols != nil {
			if backup, err = applied(ctx, conn, vt.stage); err != nil {
				return nil, fmt.Errorf("service %s: read the backup's migration versions: %w", svc, err)
			}
		}
	}
	if slices.Equal(live, backup) {
		return nil, nil
	}
	files, err := migrate.LoadFiles(p, svc)
	if err != nil {
		files = nil // the versions alone still say what differs
	}
	name := func(v int64) Migration {
		for _, f := range files {
			if f.Version == v {
				return Migration{Version: v, File: f.Path}
			}
		}
		return Migration{Version: v}
	}
	vm := &VersionMismatch{Service: svc}
	if len(live) > 0 {
		vm.LiveVersion = live[len(live)-1]
	}
	if len(backup) > 0 {
		vm.BackupVersion = backup[len(backup)-1]
	}
	for _, v := range live {
		if !slices.Contains(backup, v) {
			vm.OnlyLive = append(vm.OnlyLive, name(v))
		}
	}
	for _, v := range backup {
		if !slices.Contains(live, v) {
			vm.OnlyBackup = append(vm.OnlyBackup, name(v))
		}
	}
	return vm, nil
}
