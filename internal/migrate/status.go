package migrate

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/target"
)

// Migration is one migration file and, when applied, when.
type Migration struct {
	Version   int64      `json:"version"`
	File      string     `json:"file"`
	AppliedAt *time.Time `json:"applied_at,omitempty"`
}

// ServiceStatus is where one service's migrations stand.
type ServiceStatus struct {
	Service string `json:"service"`
	Schema  string `json:"schema"`
	// Provisioned is false while the service's schema does not exist.
	Provisioned bool `json:"provisioned"`
	// Current is the highest applied version, 0 when none is.
	Current int64 `json:"current_version"`
	// Latest is the highest version among the files.
	Latest  int64       `json:"latest_version"`
	Applied []Migration `json:"applied"`
	Pending []Migration `json:"pending"`
	// Unknown lists versions recorded as applied that no file holds.
	Unknown []int64 `json:"unknown,omitempty"`
	// OutOfOrder lists pending versions older than Current; goose refuses
	// to apply them: give those files a version above Current.
	OutOfOrder []int64 `json:"out_of_order,omitempty"`
}

// StatusReport is the migration status of the selected services, in
// dependency order.
type StatusReport struct {
	Database string `json:"database"`
	// DatabaseExists is false before the first apply: everything is pending.
	DatabaseExists bool            `json:"database_exists"`
	Services       []ServiceStatus `json:"services"`
}

// Status reports, for each service (or only the one named), its current
// version and its pending migrations. It only reads: it takes no lock,
// creates no version table and works before the database exists.
func Status(ctx context.Context, p *manifest.Project, srv *target.Server, service string) (*StatusReport, error) {
	services, err := selectServices(p, service, false)
	if err != nil {
		return nil, err
	}
	rep := &StatusReport{Database: srv.Database}
	conn, err := srv.Connect(ctx, srv.Database)
	switch {
	case err != nil && isNoDatabase(err):
		conn = nil
	case err != nil:
		return nil, err
	default:
		rep.DatabaseExists = true
		defer conn.Close(context.WithoutCancel(ctx))
	}
	for _, svc := range services {
		files, err := LoadFiles(p, svc.Name)
		if err != nil {
			return nil, err
		}
		st := ServiceStatus{Service: svc.Name, Schema: svc.Schema, Applied: []Migration{}, Pending: []Migration{}}
		applied := map[int64]time.Time{}
		if conn != nil {
			st.Provisioned, applied, err = readVersions(ctx, conn, svc)
			if err != nil {
				return nil, err
			}
		}
		onDisk := map[int64]bool{}
		for _, f := range files {
			onDisk[f.Version] = true
			st.Latest = max(st.Latest, f.Version)
		}
		for v := range applied {
			st.Current = max(st.Current, v)
		}
		for _, f := range files {
			m := Migration{Version: f.Version, File: f.Path}
			if at, ok := applied[f.Version]; ok {
				m.AppliedAt = &at
				st.Applied = append(st.Applied, m)
				continue
			}
			st.Pending = append(st.Pending, m)
			if f.Version < st.Current {
				st.OutOfOrder = append(st.OutOfOrder, f.Version)
			}
		}
		for v := range applied {
			if !onDisk[v] {
				st.Unknown = append(st.Unknown, v)
			}
		}
		slices.Sort(st.Unknown)
		rep.Services = append(rep.Services, st)
	}
	return rep, nil
}

// Pending is Status for every service: what `apply` would migrate. The
// plan command lists its PlanLines.
func Pending(ctx context.Context, p *manifest.Project, srv *target.Server) (*StatusReport, error) {
	return Status(ctx, p, srv, "")
}

// readVersions returns whether the service's schema exists and the
// versions its version table records as applied (version 0, goose's
// marker, left out). goose's Provider deletes a version's row when it
// rolls it back; older goose versions added an is_applied=false row
// instead, so the rows are replayed in order.
func readVersions(ctx context.Context, conn *pgx.Conn, svc *manifest.Service) (bool, map[int64]time.Time, error) {
	table, err := VersionTableOf(svc)
	if err != nil {
		return false, nil, err
	}
	var schemaExists, tableExists bool
	err = conn.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1), to_regclass($2) IS NOT NULL`,
		svc.Schema, pgx.Identifier{svc.Schema, VersionTable}.Sanitize()).Scan(&schemaExists, &tableExists)
	if err != nil {
		return false, nil, fmt.Errorf("service %s: read %s: %w", svc.Name, table, err)
	}
	applied := map[int64]time.Time{}
	if !tableExists {
		return schemaExists, applied, nil
	}
	rows, err := conn.Query(ctx, `SELECT version_id, is_applied, tstamp FROM `+pgx.Identifier{svc.Schema, VersionTable}.Sanitize()+` ORDER BY id`)
	if err != nil {
		return false, nil, fmt.Errorf("service %s: read %s: %w", svc.Name, table, err)
	}
	defer rows.Close()
	for rows.Next() {
		var v int64
		var ok bool
		var at time.Time
		if err := rows.Scan(&v, &ok, &at); err != nil {
			return false, nil, fmt.Errorf("service %s: read %s: %w", svc.Name, table, err)
		}
		switch {
		case v == 0:
		case ok:
			applied[v] = at
		default:
			delete(applied, v)
		}
	}
	if err := rows.Err(); err != nil {
		return false, nil, fmt.Errorf("service %s: read %s: %w", svc.Name, table, err)
	}
	return schemaExists, applied, nil
}

// HasPending reports whether any service has a migration to apply.
func (r *StatusReport) HasPending() bool {
	for _, s := range r.Services {
		if len(s.Pending) > 0 {
			return true
		}
	}
	return false
}

// PlanLines describes, one line per service with pending migrations, what
// `migrate up` would apply, e.g.
// "migrate orders 1 -> 2: migrations/orders/00002_status_index.sql".
func (r *StatusReport) PlanLines() []string {
	var out []string
	for _, s := range r.Services {
		if len(s.Pending) == 0 {
			continue
		}
		files := make([]string, len(s.Pending))
		for i, m := range s.Pending {
			files[i] = m.File
		}
		out = append(out, fmt.Sprintf("migrate %s %d -> %d: %s", s.Service, s.Current, s.Pending[len(s.Pending)-1].Version, strings.Join(files, ", ")))
	}
	return out
}

// Human renders the status for a terminal.
func (r *StatusReport) Human() string {
	var b strings.Builder
	if !r.DatabaseExists {
		fmt.Fprintf(&b, "database %s does not exist yet: every migration is pending (run `splitschema apply`)\n", r.Database)
	}
	width := 0
	for _, s := range r.Services {
		width = max(width, len(s.Service))
	}
	for _, s := range r.Services {
		state := "up to date"
		switch {
		case r.DatabaseExists && !s.Provisioned:
			state = "not provisioned"
		case len(s.Pending) == 1:
			state = "1 pending"
		case len(s.Pending) > 1:
			state = fmt.Sprintf("%d pending", len(s.Pending))
		}
		fmt.Fprintf(&b, "%-*s  version %d of %d, %s\n", width, s.Service, s.Current, s.Latest, state)
		for _, m := range s.Pending {
			fmt.Fprintf(&b, "%*s  pending  %s\n", width, "", m.File)
		}
		for _, v := range s.OutOfOrder {
			fmt.Fprintf(&b, "%*s  version %d is older than the current version %d: goose will not apply it; renumber the file above %d\n", width, "", v, s.Current, s.Current)
		}
		for _, v := range s.Unknown {
			fmt.Fprintf(&b, "%*s  version %d is applied but has no file in %s/\n", width, "", v, ServiceDir(s.Service))
		}
	}
	return b.String()
}
