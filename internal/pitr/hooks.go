package pitr

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/inspect"
	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/migrate"
	"github.com/splitschema/splitschema/internal/target"
)

// BeforeMigration returns a hook for migrate's Options.BeforeService: on a
// server that archives WAL, it names the restore point "before <service>
// <version>" before a service migrates up to version ("before <service>
// down <version>" before one is rolled back, "redo" likewise). Nothing
// pending, nothing named. On a server that does not archive WAL it does
// nothing, and asks the server only once.
func BeforeMigration(p *manifest.Project, srv *target.Server) func(ctx context.Context, svc *manifest.Service, command migrate.Command, versions []int64) error {
	var once sync.Once
	var archiving bool
	var onceErr error
	return func(ctx context.Context, svc *manifest.Service, command migrate.Command, versions []int64) error {
		conn, err := srv.Connect(ctx, srv.Database)
		if err != nil {
			return fmt.Errorf("restore point before %s: %w", svc.Name, err)
		}
		defer conn.Close(context.WithoutCancel(ctx))
		once.Do(func() { archiving, onceErr = Archiving(ctx, conn) })
		if onceErr != nil || !archiving {
			return onceErr
		}
		name, err := migrationPointName(ctx, conn, svc, command, versions)
		if err != nil || name == "" {
			return err
		}
		_, err = MarkConn(ctx, conn, p, name)
		return err
	}
}

func migrationPointName(ctx context.Context, conn *pgx.Conn, svc *manifest.Service, command migrate.Command, versions []int64) (string, error) {
	var cur int64
	if v, err := inspect.Version(ctx, conn, svc.Schema); err != nil {
		return "", fmt.Errorf("restore point before %s: %w", svc.Name, err)
	} else if v != nil {
		cur = *v
	}
	if command != migrate.CommandUp {
		if cur == 0 {
			return "", nil
		}
		return fmt.Sprintf("before %s %s %d", svc.Name, command, cur), nil
	}
	slices.Sort(versions)
	for _, v := range versions {
		if v > cur {
			return fmt.Sprintf("before %s %d", svc.Name, v), nil
		}
	}
	return "", nil
}
