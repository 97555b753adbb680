package migrate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pressly/goose/v3"

	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/provision"
	"github.com/splitschema/splitschema/internal/target"
)

// Command is what a migration run does to each service.
type Command string

// The migration commands.
const (
	CommandUp   Command = "up"
	CommandDown Command = "down"
	CommandRedo Command = "redo"
)

// Options tune a migrate run.
type Options struct {
	// Service limits the run to one service; empty means every service, in
	// dependency order (reverse order for down).
	Service string
	// Log receives progress; nil discards it.
	Log *slog.Logger
	// GrantLinks re-syncs, after a service's migrations went up, the
	// REFERENCES grants on its tables that the services linking to it
	// declared, so their foreign keys can be created. conn is an admin
	// connection to the project database. nil uses provision.GrantLinks.
	GrantLinks func(ctx context.Context, conn *pgx.Conn, p *manifest.Project, service string) error
	// BeforeService, when set, is called before each selected service's
	// migrations run (command is "up", "down" or "redo"; versions are its
	// migration files'); an error stops the run before that service.
	// Point-in-time recovery names a restore point there.
	BeforeService func(ctx context.Context, svc *manifest.Service, command Command, versions []int64) error
	// DeferLinks (Apply only) skips the check, made before any change, that
	// every link names a table and columns that exist or that the
	// migrations create; a link the migrations do not create then fails
	// after provisioning, when its grant is made.
	DeferLinks bool
	// LockWait bounds how long a run waits for another run (or a
	// one-service restore) working on the same service; 0 means 5 minutes.
	LockWait time.Duration

	// Files are the migrations already read and checked by LoadChecked,
	// by service (the apply pipeline reads them before its first change);
	// nil makes the run read them.
	Files map[string][]*File
}

// ErrUsage marks a request that cannot be run as given (a missing service
// name, a version without a service...); the message says what to pass.
var ErrUsage = errors.New("usage")

// Up applies every pending migration of the selected services, in
// dependency order, each as the service's owner role. After a service's
// migrations it re-syncs the REFERENCES grants its dependants declared. A
// failed migration is rolled back and the services that depend on its
// service are skipped; the others still run. The Result is returned even
// when a migration failed; the error is then a *RunError.
func Up(ctx context.Context, p *manifest.Project, srv *target.Server, o Options) (*Result, error) {
	return run(ctx, p, srv, o, CommandUp, func(ctx context.Context, r *runner) ([]*goose.MigrationResult, error) {
		return r.upTo(ctx, math.MaxInt64)
	})
}

// UpTo applies the pending migrations of one service (Options.Service is
// required) up to and including version.
func UpTo(ctx context.Context, p *manifest.Project, srv *target.Server, version int64, o Options) (*Result, error) {
	if o.Service == "" {
		return nil, fmt.Errorf("%w: up to a version needs a service: versions are per service", ErrUsage)
	}
	if version < 1 {
		return nil, fmt.Errorf("%w: up to version %d: versions start at 1 (to undo migrations, use down)", ErrUsage, version)
	}
	return run(ctx, p, srv, o, CommandUp, func(ctx context.Context, r *runner) ([]*goose.MigrationResult, error) {
		return r.upTo(ctx, version)
	})
}

// Down rolls back the latest applied migration of one service
// (Options.Service is required).
func Down(ctx context.Context, p *manifest.Project, srv *target.Server, o Options) (*Result, error) {
	if o.Service == "" {
		return nil, fmt.Errorf("%w: down rolls back one migration of one service: name the service, or give a version to roll every service back to (0 undoes everything)", ErrUsage)
	}
	return run(ctx, p, srv, o, CommandDown, func(ctx context.Context, r *runner) ([]*goose.MigrationResult, error) {
		res, err := r.prov.Down(ctx)
		if errors.Is(err, goose.ErrNoNextVersion) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return []*goose.MigrationResult{res}, nil
	})
}

// DownTo rolls the selected services back to version (exclusive: the
// migration of that version stays applied; 0 undoes every migration), in
// reverse dependency order, so dependants release their foreign keys
// before the tables they reference go. With every service selected, only
// 0 makes sense, as versions are per service.
func DownTo(ctx context.Context, p *manifest.Project, srv *target.Server, version int64, o Options) (*Result, error) {
	if version < 0 {
		return nil, fmt.Errorf("%w: down to version %d: versions are 0 or more", ErrUsage, version)
	}
	if o.Service == "" && version != 0 {
		return nil, fmt.Errorf("%w: down to version %d needs a service, as versions are per service; to roll back every service use version 0", ErrUsage, version)
	}
	return run(ctx, p, srv, o, CommandDown, func(ctx context.Context, r *runner) ([]*goose.MigrationResult, error) {
		return r.downTo(ctx, version)
	})
}

// Redo rolls back the latest migration of one service and applies it
// again (Options.Service is required).
func Redo(ctx context.Context, p *manifest.Project, srv *target.Server, o Options) (*Result, error) {
	if o.Service == "" {
		return nil, fmt.Errorf("%w: redo needs a service", ErrUsage)
	}
	return run(ctx, p, srv, o, CommandRedo, func(ctx context.Context, r *runner) ([]*goose.MigrationResult, error) {
		cur, err := r.version(ctx)
		if err != nil {
			return nil, err
		}
		if cur == 0 {
			return nil, nil
		}
		down, err := r.prov.ApplyVersion(ctx, cur, false)
		if err != nil {
			return nil, err
		}
		up, err := r.prov.ApplyVersion(ctx, cur, true)
		if err != nil {
			var pe *goose.PartialError
			if errors.As(err, &pe) {
				pe.Applied = append([]*goose.MigrationResult{down}, pe.Applied...)
			}
			return nil, err
		}
		return []*goose.MigrationResult{down, up}, nil
	})
}

type step func(ctx context.Context, r *runner) ([]*goose.MigrationResult, error)

// run carries out one command over the selected services.
func run(ctx context.Context, p *manifest.Project, srv *target.Server, o Options, command Command, do step) (*Result, error) {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	services, err := selectServices(p, o.Service, command == CommandDown)
	if err != nil {
		return nil, err
	}
	files := o.Files
	if files == nil {
		if files, err = LoadChecked(p, services); err != nil {
			return nil, err
		}
	}
	admin, err := connectAdmin(ctx, srv)
	if err != nil {
		return nil, err
	}
	defer admin.Close(context.WithoutCancel(ctx))
	if err := checkProvisioned(ctx, admin, p, services); err != nil {
		return nil, err
	}
	grant := o.GrantLinks
	if grant == nil {
		grant = provision.GrantLinks
	}
	pk := func(schema, table string) []string { return primaryKey(ctx, admin, schema, table) }

	res := &Result{Command: command, OK: true}
	blocked := map[string]string{} // service -> the failed service that blocks it
	for _, svc := range services {
		sr := &ServiceResult{Service: svc.Name, Schema: svc.Schema, Steps: []Step{}}
		res.Services = append(res.Services, sr)
		if by := blocker(p, svc.Name, blocked, command == CommandDown); by != "" {
			blocked[svc.Name] = by
			sr.State = StateSkipped
			if command == CommandDown {
				sr.SkippedBecause = fmt.Sprintf("%s, which links to it, was not rolled back", by)
			} else {
				sr.SkippedBecause = fmt.Sprintf("it depends on %s, which did not migrate", by)
			}
			log.Warn("skipped", "service", svc.Name, "because", sr.SkippedBecause)
			continue
		}
		if o.BeforeService != nil && len(files[svc.Name]) > 0 {
			var versions []int64
			for _, f := range files[svc.Name] {
				versions = append(versions, f.Version)
			}
			if err := o.BeforeService(ctx, svc, command, versions); err != nil {
				return nil, err
			}
		}
		if err := runService(ctx, p, srv, admin, svc, files[svc.Name], command, do, sr, log, pk, cmp.Or(o.LockWait, p.Settings.ToolkitLockWait, lockWait)); err != nil {
			return nil, err
		}
		if sr.Error == nil && command != CommandDown {
			if err := grant(ctx, admin, p, svc.Name); err != nil {
				sr.Error = &Error{Service: svc.Name, Direction: string(command), Err: err,
					Message: fmt.Sprintf("grant the REFERENCES its dependants declared: %v", err)}
			}
		}
		if sr.Error == nil {
			if err := provision.ProtectVersionTable(ctx, admin, p, svc.Name); err != nil {
				sr.Error = &Error{Service: svc.Name, Direction: string(command), Err: err, Message: err.Error()}
			}
		}
		if sr.Error != nil {
			sr.State = StateFailed
			blocked[svc.Name] = svc.Name
			res.OK = false
		}
		if len(sr.Steps) > 0 {
			res.Changed = true
		}
	}
	return res, res.Err()
}

// runService runs do on one service and records the outcome in sr. Only
// errors that stop the whole run (a cancelled context) are returned.
func runService(ctx context.Context, p *manifest.Project, srv *target.Server, admin *pgx.Conn, svc *manifest.Service, files []*File,
	command Command, do step, sr *ServiceResult, log *slog.Logger, pk pkResolver, wait time.Duration) error {
	if len(files) == 0 {
		sr.State = StateUnchanged
		return nil
	}
	fail := func(err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		sr.Error = &Error{Service: svc.Name, Direction: string(command), Err: err, Message: err.Error()}
		return nil
	}
	unlock, err := LockService(ctx, srv, svc, wait, log)
	if err != nil {
		return fail(err)
	}
	defer unlock()
	login, password, clear, err := migratorLogin(ctx, admin, p, svc)
	if err != nil {
		return fail(err)
	}
	defer clear()
	r, err := openRunner(p, srv, svc, files, login, password)
	if err != nil {
		sr.Error = &Error{Service: svc.Name, Direction: string(command), Err: err, Message: err.Error()}
		return nil
	}
	defer r.close()
	sr.From, err = r.version(ctx)
	if err != nil {
		return r.record(ctx, sr, err, command, p, pk)
	}
	r.tracer.reset()
	results, err := do(ctx, r)
	var partial *goose.PartialError
	if errors.As(err, &partial) {
		results = partial.Applied
	}
	sr.Steps = r.steps(results)
	for _, st := range sr.Steps {
		log.Info("migration "+st.Direction, "service", svc.Name, "file", st.File, "ms", st.DurationMS)
	}
	if err != nil {
		return r.record(ctx, sr, err, command, p, pk)
	}
	sr.To, err = r.version(ctx)
	if err != nil {
		return r.record(ctx, sr, err, command, p, pk)
	}
	sr.State = StateUnchanged
	if len(sr.Steps) > 0 {
		sr.State = StateMigrated
	}
	return nil
}

// record notes a failure of the runner's service.
func (r *runner) record(ctx context.Context, sr *ServiceResult, err error, command Command, p *manifest.Project, pk pkResolver) error {
	if ctx.Err() != nil {
		return fmt.Errorf("service %s: %w", sr.Service, ctx.Err())
	}
	e, ok := err.(*Error)
	if !ok {
		e = r.fail(err, string(command))
	}
	e.describe(p, p.Settings.LockTimeout.String(), pk)
	sr.Error = e
	if v, verr := r.version(context.WithoutCancel(ctx)); verr == nil {
		sr.To = v
	} else {
		sr.To = sr.From
	}
	return nil
}

// blocker names the failed or skipped service that keeps svc from running:
// going up, one it depends on; going down, one that depends on it.
func blocker(p *manifest.Project, svc string, blocked map[string]string, down bool) string {
	var related []string
	if down {
		related = p.Dependants(svc)
	} else {
		related = p.Service(svc).DependsOn()
	}
	for _, r := range related {
		if _, ok := blocked[r]; ok {
			return r
		}
	}
	return ""
}

// selectServices returns the services a run works on, in the order it
// works on them.
func selectServices(p *manifest.Project, only string, reverse bool) ([]*manifest.Service, error) {
	if only != "" {
		svc := p.Service(only)
		if svc == nil {
			names := make([]string, len(p.Services))
			for i, s := range p.Services {
				names[i] = s.Name
			}
			return nil, fmt.Errorf("%w: no service %q (services: %s)", ErrUsage, only, strings.Join(names, ", "))
		}
		return []*manifest.Service{svc}, nil
	}
	out := p.OrderedServices()
	if reverse {
		slices.Reverse(out)
	}
	return out, nil
}

// LoadChecked reads the migrations of the services, by service: a file
// that does not parse stops a run before anything changes. What a
// migration may do is not decided here by reading its text: it runs as
// the service's migrator role, which Postgres keeps to the owner's rights
// (`lint` still points out a SET ROLE it can see).
func LoadChecked(p *manifest.Project, services []*manifest.Service) (map[string][]*File, error) {
	files := map[string][]*File{}
	for _, svc := range services {
		fs, err := LoadFiles(p, svc.Name)
		if err != nil {
			return nil, err
		}
		files[svc.Name] = fs
	}
	return files, nil
}
