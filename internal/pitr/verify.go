package pitr

import (
	"context"
	"fmt"
	"maps"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/archive"
	"github.com/splitschema/splitschema/internal/inspect"
	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/target"
	"github.com/splitschema/splitschema/internal/verify"
)

// expectedVersions returns the migration versions the restored database
// must have, and what they come from; nil when they cannot be known.
//
// Every migration is preceded by a restore point that records the versions,
// so at a time between two points whose versions are equal no migration
// ran. Between two points that differ, a migration ran at a time no record
// says: the versions are then not compared, and the result says so.
func (s *Setup) expectedVersions(ctx context.Context, t Target, point *Point) (map[string]int64, string) {
	if point != nil {
		return point.Versions, fmt.Sprintf("those recorded with restore point %q", point.Name)
	}
	live, liveErr := s.liveVersions(ctx)
	if t.Latest {
		if liveErr != nil {
			return nil, "nothing: the project's database could not be read (" + liveErr.Error() + ")"
		}
		return live, "the project's database now (a migration newer than the last archived WAL shows as a mismatch)"
	}
	pts, err := Points(s.Project)
	if err != nil {
		return nil, "nothing: " + err.Error()
	}
	var before, after *Point
	for i := range pts {
		if !pts[i].Time.After(t.Time) {
			before = &pts[i]
		} else if after == nil {
			after = &pts[i]
		}
	}
	if before == nil {
		return nil, "nothing: no restore point was made before the target"
	}
	next, nextName := live, "the project's database now"
	if after != nil {
		next, nextName = after.Versions, fmt.Sprintf("restore point %q", after.Name)
	} else if liveErr != nil {
		return nil, "nothing: the project's database could not be read (" + liveErr.Error() + ")"
	}
	if !maps.Equal(before.Versions, next) {
		return nil, fmt.Sprintf("nothing: a migration ran between restore point %q and %s, and no record says exactly when", before.Name, nextName)
	}
	return before.Versions, fmt.Sprintf("those of restore point %q, unchanged until %s", before.Name, nextName)
}

func (s *Setup) liveVersions(ctx context.Context) (map[string]int64, error) {
	conn, err := s.connect(ctx, s.Project.Settings.Database)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return serviceVersions(ctx, conn, s.Project)
}

// verifyRestored runs verify on the restored database against a reference
// built from the database itself, with the expected migration versions in
// place of the ones found: foreign keys, broken rows, versions and the
// isolation audit are checked; row counts cannot be (nothing records them
// at an arbitrary time).
func verifyRestored(ctx context.Context, srv *target.Server, p *manifest.Project, expected map[string]int64, o RestoreOptions) (*verify.Result, map[string]int64, error) {
	conn, err := srv.Connect(ctx, srv.Database)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to the restored database: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	m, found, err := reference(ctx, conn, p, srv.Database)
	if err != nil {
		return nil, nil, fmt.Errorf("read the restored database: %w", err)
	}
	if expected != nil {
		for i := range m.Services {
			svc := &m.Services[i]
			if v, ok := expected[svc.Name]; ok {
				svc.Version = &v
				// It had a version table at the target: its schema must be there.
				svc.SchemaExists = true
			} else {
				svc.Version = nil
			}
		}
	}
	res, err := verify.Run(ctx, srv, m, verify.Options{Audit: o.Audit, NoAudit: o.Audit == nil, Logger: o.Logger})
	if err != nil {
		return nil, nil, err
	}
	return res, found, nil
}

// reference describes the restored database as a backup manifest would.
func reference(ctx context.Context, conn *pgx.Conn, p *manifest.Project, db string) (*archive.Manifest, map[string]int64, error) {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, nil, fmt.Errorf("begin a read-only snapshot of the restored database: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) // read only: nothing to keep
	var schemas []string
	for _, s := range p.Services {
		schemas = append(schemas, s.Schema)
	}
	exists, err := inspect.ExistingSchemas(ctx, conn, schemas)
	if err != nil {
		return nil, nil, err
	}
	tables, err := inspect.AllTables(ctx, conn)
	if err != nil {
		return nil, nil, err
	}
	count := func(t inspect.TableName) (int64, error) {
		var n int64
		err := conn.QueryRow(ctx, inspect.CountSQL(t)).Scan(&n)
		return n, err
	}
	m := &archive.Manifest{ID: "point-in-time", Database: archive.DatabaseInfo{Name: db}}
	found := map[string]int64{}
	bySchema := map[string]int{}
	for _, s := range p.Services {
		svc := archive.Service{Name: s.Name, Schema: s.Schema, SchemaExists: exists[s.Schema]}
		if svc.SchemaExists {
			if svc.Version, err = inspect.Version(ctx, conn, s.Schema); err != nil {
				return nil, nil, err
			}
			if svc.Version != nil {
				found[s.Name] = *svc.Version
			}
		}
		bySchema[s.Schema] = len(m.Services)
		m.Services = append(m.Services, svc)
	}
	for _, t := range tables {
		n, err := count(t)
		if err != nil {
			return nil, nil, fmt.Errorf("count rows of %s: %w", t, err)
		}
		if i, ok := bySchema[t.Schema]; ok {
			m.Services[i].Tables = append(m.Services[i].Tables, archive.Table{Name: t.Table, Rows: n})
		} else {
			m.OtherTables = append(m.OtherTables, archive.SchemaTable{Schema: t.Schema, Name: t.Table, Rows: n})
		}
	}
	if m.ForeignKeys, err = inspect.ForeignKeys(ctx, conn, schemas); err != nil {
		return nil, nil, err
	}
	return m, found, nil
}
