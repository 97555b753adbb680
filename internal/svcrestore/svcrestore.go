// Package svcrestore restores one service, or several, from a splitschema
// backup into the live database, in place, while the other services keep
// running: the backup's rows of the services are staged beside the live
// tables, the links that the restore would break are counted, and only
// when none would, one transaction that locks only those services' tables
// merges the staged rows into them by primary key.
package svcrestore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/archive"
	"github.com/splitschema/splitschema/internal/backup"
	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/migrate"
	"github.com/splitschema/splitschema/internal/target"
)

// Options tune Restore.
type Options struct {
	// Services are the services to restore, at the backup's one instant.
	Services []string
	// DryRun only reports: what would change and what would break.
	DryRun bool
	// Jobs bounds the parallel checksum reads.
	Jobs int
	// PgBinDir is the folder of the pg_restore to use.
	PgBinDir string
	// AllowUnsigned restores, with a warning, an unsigned backup while a
	// signing key is configured (see backup.RestoreOptions).
	AllowUnsigned bool
	// LockTimeout bounds the wait for the restored tables' locks; default
	// the project's lock_timeout.
	LockTimeout time.Duration
	Logger      *slog.Logger
	// Progress, when set, is told each step as it starts.
	Progress func(step string)

	// staging is a test hook, called as each table's rows start to load.
	staging func(table string)
	// locking is a test hook, called just before the merge transaction
	// locks the tables.
	locking func()
	// merged is a test hook, called once the merge transaction has
	// changed the rows, before it checks and commits them.
	merged func()
}

// Result is what Restore did, or would do.
type Result struct {
	// OK: the restore was done (or, with DryRun, would be allowed).
	OK       bool     `json:"ok"`
	ID       string   `json:"id"`
	Database string   `json:"database"`
	Services []string `json:"services"`
	DryRun   bool     `json:"dry_run"`
	// Applied: the merge transaction committed.
	Applied bool `json:"applied"`
	// Refused says why the restore was not done, when it was refused.
	Refused []string `json:"refused,omitempty"`
	// Tables are the restored tables and their changes: counted before the
	// transaction, then what the transaction did when it ran.
	Tables []TableChange `json:"tables"`
	// Sequences are the restored services' sequences.
	Sequences []SequenceChange `json:"sequences"`
	// Links are the links between a restored service and another.
	Links []LinkReport `json:"links"`
	// NoPrimaryKey are tables that cannot be merged: they have no primary
	// key to match rows by.
	NoPrimaryKey []string `json:"no_primary_key,omitempty"`
	// Versions are the restored services whose migrations differ from the
	// backup's.
	Versions []VersionMismatch `json:"version_mismatches,omitempty"`
	// LockedSeconds is how long the restored tables were locked.
	LockedSeconds float64 `json:"locked_seconds"`
	Seconds       float64 `json:"seconds"`
	Error         string  `json:"error,omitempty"`
}

// TableChange is one restored table.
type TableChange struct {
	Service    string `json:"service"`
	Table      string `json:"table"`
	BackupRows int64  `json:"backup_rows"`
	LiveRows   int64  `json:"live_rows"`
	Update     int64  `json:"update"`
	Insert     int64  `json:"insert"`
	Delete     int64  `json:"delete"`
}

// SequenceChange is one sequence of a restored service. A sequence never
// goes back: it takes the backup's value only when that is ahead of the
// live one, so no value the live database handed out is handed out again.
type SequenceChange struct {
	Sequence string `json:"sequence"`
	Backup   int64  `json:"backup"`
	Live     int64  `json:"live"`
	Advanced bool   `json:"advanced"`

	ident  string // quoted
	called bool   // the backup's is_called
}

// RefusedError is a restore refused before anything changed; the result
// says why.
type RefusedError struct{ Result *Result }

// Error lists the reasons.
func (e *RefusedError) Error() string {
	return fmt.Sprintf("restore of %s from backup %s refused, nothing was changed: %s",
		serviceWord(e.Result.Services), e.Result.ID, strings.Join(e.Result.Refused, "; "))
}

// Restore restores services of project p from backup id into the live
// database of srv, in place. It changes nothing, and returns a
// *RefusedError, when the backup's files do not match their checksums,
// when a service's migrations differ from the backup's, when a table has
// no primary key, or when a link would break; with o.DryRun it changes
// nothing either way.
func Restore(ctx context.Context, p *manifest.Project, srv *target.Server, id string, o Options) (*Result, error) {
	r := &run{p: p, srv: srv, id: id, o: o, start: time.Now()}
	if r.o.Logger == nil {
		r.o.Logger = slog.New(slog.DiscardHandler)
	}
	if r.o.LockTimeout <= 0 {
		r.o.LockTimeout = p.Settings.LockTimeout
	}
	if r.o.LockTimeout <= 0 {
		r.o.LockTimeout = 5 * time.Second
	}
	res, err := r.do(ctx)
	var refused *RefusedError
	if err != nil && ctx.Err() != nil && !errors.As(err, &refused) {
		// Ctrl-C, SIGTERM, a deadline: one line that says where, and that
		// the merge transaction, had it begun, rolled back with the
		// session, and the staging tables with it.
		err = fmt.Errorf("restore of %s from backup %s interrupted while %s; nothing was changed (%w)", serviceWord(o.Services), id, r.phase, ctx.Err())
		if r.phase == phaseCommit {
			err = fmt.Errorf("restore of %s from backup %s interrupted while %s: the server may have committed it or not; `splitschema restore %s --service %s --dry-run` shows which (nothing to change: it did) (%w)",
				serviceWord(o.Services), id, r.phase, id, strings.Join(o.Services, ","), ctx.Err())
		}
	}
	if res != nil {
		res.Seconds = float64(time.Since(r.start).Milliseconds()) / 1000
		if err != nil && res.Error == "" {
			if !errors.As(err, &refused) {
				res.Error = err.Error()
			}
		}
	}
	return res, err
}

// run is one restore.
type run struct {
	p     *manifest.Project
	srv   *target.Server
	id    string
	o     Options
	start time.Time
	// phase is the step the restore is at.
	phase string

	services []*manifest.Service
	backup   *backup.Reader
	conn     *pgx.Conn
	unlock   func()   // gives back the migration lock, nil until taken
	tables   []*table // every table of the services, version tables included
	merged   []*table // those merged, in dependency order
	versions map[string]*table
	fks      []foreignKey
	seqs     []*sequence
	// backupSeqs are the sequence values the backup holds.
	backupSeqs []backupSequence
	res        *Result
}

func (r *run) step(s string) {
	r.phase = s
	r.o.Logger.Debug("service restore", "step", s)
	if r.o.Progress != nil {
		r.o.Progress(s)
	}
}

func (r *run) do(ctx context.Context) (*Result, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	r.res = &Result{ID: r.id, Database: r.srv.Database, DryRun: r.o.DryRun, Tables: []TableChange{}, Sequences: []SequenceChange{}, Links: []LinkReport{}}
	for _, s := range r.services {
		r.res.Services = append(r.res.Services, s.Name)
	}
	r.step("checking the backup's table of contents")
	b, err := backup.OpenReader(ctx, r.p, r.srv, r.id, r.o.PgBinDir, r.o.Jobs, r.o.AllowUnsigned)
	if err != nil {
		return nil, err
	}
	for _, w := range b.Warnings {
		r.o.Logger.Warn(w, "backup", r.id)
	}
	defer b.Close()
	r.backup = b
	if err := r.checkManifest(); err != nil {
		return nil, err
	}
	err = r.connect(ctx)
	defer r.release()
	if err != nil {
		return nil, err
	}
	if err := r.readLive(ctx); err != nil {
		return nil, err
	}
	if err := r.stage(ctx); err != nil {
		return r.res, err
	}
	if err := r.report(ctx); err != nil {
		return r.res, err
	}
	if len(r.res.Refused) > 0 {
		return r.res, &RefusedError{Result: r.res}
	}
	if r.o.DryRun {
		r.res.OK = true
		return r.res, nil
	}
	if err := r.merge(ctx); err != nil {
		return r.res, err
	}
	r.res.OK = true
	return r.res, nil
}

// validate checks the options against the project.
func (r *run) validate() error {
	if len(r.o.Services) == 0 {
		return errors.New("service restore: no service named")
	}
	for _, name := range r.o.Services {
		svc := r.p.Service(name)
		if svc == nil {
			return fmt.Errorf("service restore: no service %s in the project (%s)", name, strings.Join(serviceNames(r.p.Services), ", "))
		}
		if slices.Contains(r.services, svc) {
			return fmt.Errorf("service restore: service %s is named twice", name)
		}
		r.services = append(r.services, svc)
	}
	if r.srv.Database == "" {
		return errors.New("service restore: no database")
	}
	return nil
}

func serviceNames(ss []*manifest.Service) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.Name)
	}
	return out
}

// checkManifest checks that the backup holds each service, in the schema
// the project gives it.
func (r *run) checkManifest() error {
	m := r.backup.Manifest
	for _, svc := range r.services {
		var found *archive.Service
		for i := range m.Services {
			if m.Services[i].Name == svc.Name {
				found = &m.Services[i]
			}
		}
		switch {
		case found == nil:
			return fmt.Errorf("backup %s holds no service %s: it was taken before the service existed. Nothing was changed", r.id, svc.Name)
		case found.Schema != svc.Schema:
			return fmt.Errorf("backup %s holds service %s in schema %s, the project has it in schema %s. Nothing was changed", r.id, svc.Name, found.Schema, svc.Schema)
		case !found.SchemaExists:
			return fmt.Errorf("backup %s has no schema %s of service %s. Nothing was changed", r.id, svc.Schema, svc.Name)
		}
	}
	return nil
}

// connect opens the restore's session on the live database, as the admin,
// and takes each service's migration lock, so that no migration and no
// other restore of these services runs until the restore ends (close).
func (r *run) connect(ctx context.Context) error {
	cfg := r.srv.Config(r.srv.Database)
	cfg.RuntimeParams["application_name"] = ApplicationName
	// The staged rows live in temporary tables, in the session's own
	// buffers: 8MB by default, which a service of some size overflows,
	// each page then written out and read back. The memory is taken as the
	// tables grow, not up front.
	cfg.RuntimeParams["temp_buffers"] = stageBuffers
	// The comparison and the checks join staged rows with live ones by
	// hash: with the default 4MB each would spill to disk. One session,
	// one join at a time.
	cfg.RuntimeParams["work_mem"] = joinMemory
	cfg.RuntimeParams["maintenance_work_mem"] = joinMemory
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect to database %s on %s: %s", r.srv.Database, r.srv.Addr(), target.Redact(err.Error()))
	}
	r.conn = conn
	super, err := isSuperuser(ctx, conn)
	if err != nil {
		return err
	}
	if !super {
		return fmt.Errorf("service restore connects to %s as %s, who is not a superuser: it writes every restored service's tables and reads the others'; connect as a superuser. Nothing was changed", r.srv.Addr(), r.srv.User())
	}
	// One lock covers every service of the database.
	if r.unlock, err = migrate.LockService(ctx, r.srv, r.services[0], 0, nil); err != nil {
		return fmt.Errorf("take the migration lock: %w", err)
	}
	return nil
}

// release ends the restore's session and gives back the services' locks.
func (r *run) release() {
	if r.conn != nil {
		r.conn.Close(context.Background())
	}
	if r.unlock != nil {
		r.unlock()
	}
}

// stageBuffers is the session's temp_buffers: room for the staged rows.
const stageBuffers = "1GB"

// joinMemory is the session's work_mem and maintenance_work_mem.
const joinMemory = "256MB"

// phaseCommit is the step of the merge's COMMIT: interrupted there, the
// restore cannot tell whether it was done.
const phaseCommit = "committing the merge"

// ApplicationName is the application_name of a service restore's session.
const ApplicationName = "splitschema restore --service"

// readLive reads the services' tables, sequences and foreign keys.
func (r *run) readLive(ctx context.Context) error {
	r.step("reading the live tables")
	r.versions = map[string]*table{}
	var schemas []string
	for _, svc := range r.services {
		schemas = append(schemas, svc.Schemas...)
		var ts []*table
		for _, schema := range svc.Schemas {
			in, err := readTables(ctx, r.conn, svc.Name, schema)
			if err != nil {
				return err
			}
			ts = append(ts, in...)
		}
		if len(ts) == 0 {
			return fmt.Errorf("service %s has no tables in schema %s of database %s: nothing to restore into (is this the project's database?). Nothing was changed", svc.Name, strings.Join(svc.Schemas, ", "), r.srv.Database)
		}
		for _, t := range ts {
			if t.Name == migrate.VersionTable && t.Schema == svc.Schema {
				r.versions[svc.Name] = t
			}
		}
		r.tables = append(r.tables, ts...)
	}
	var err error
	if r.fks, err = readForeignKeys(ctx, r.conn, schemas); err != nil {
		return err
	}
	r.seqs, err = readSequences(ctx, r.conn, schemas)
	return err
}

// stage verifies the backup's files that hold the services' rows and loads
// those rows into the staging tables.
func (r *run) stage(ctx context.Context) error {
	r.step("checking the services' files in the backup")
	toc, err := r.backup.TOC(ctx)
	if err != nil {
		return err
	}
	var schemas []string
	for _, s := range r.services {
		schemas = append(schemas, s.Schemas...)
	}
	files, err := r.backup.DataFiles(dataEntries(toc, schemas))
	if err != nil {
		return err
	}
	if err := r.backup.Verify(ctx, files); err != nil {
		return err
	}
	r.step("staging the backup's rows")
	if err := createStages(ctx, r.conn, r.tables); err != nil {
		return err
	}
	byName := map[string]*table{}
	for _, t := range r.tables {
		byName[t.qualified()] = t
	}
	l := &loader{conn: r.conn, tables: byName, copying: func(t *table) {
		if r.o.staging != nil {
			r.o.staging(t.qualified())
		}
	}, differs: func(err error) { r.res.Refused = append(r.res.Refused, err.Error()) }}
	args := []string{"--data-only", "--file=-"}
	for _, s := range schemas {
		args = append(args, "--schema="+s)
	}
	if err := r.streamInto(ctx, args, l); err != nil {
		return err
	}
	r.backupSeqs = l.seqs
	return indexStages(ctx, r.conn, r.tables)
}
