// Package backup takes one-snapshot backups of a splitschema project's
// database and restores them: Run, List, Check, Prune, Restore and
// TestRestore. The folder format is package archive's.
//
// A backup exports one snapshot in a REPEATABLE READ, READ ONLY transaction
// that holds ACCESS SHARE locks on every table (writers go on; DDL waits),
// records inside it every service's migration version, every table's exact
// row count (on parallel connections that import the snapshot) and the
// foreign keys of the service schemas, and has pg_dump dump that same snapshot in
// directory format with parallel jobs. Files are hashed and synced as
// pg_dump closes them. It never reports success for a backup that is not
// whole: the folder becomes <id>/ only once every file is hashed and synced,
// the dump's table of contents holds every counted table, and
// manifest.json is on disk. A failed backup leaves <id>.partial/ with a
// FAILED note and without its dump. With backups: s3://..., the same files
// go to an object store as pg_dump closes them, encrypted with age when
// recipients are configured, the manifest last (repository.go); every
// command reads them back from there.
//
// A restore checks every file first, refuses a database that exists,
// creates the missing service roles, restores under the working name
// <db>_restoring_<id> and renames it <db> only once verify passed; a failed
// restore's database is renamed <db>_failed_<id> (dropped only when that
// rename fails), so nothing half-restored ever carries the target's name.
package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/archive"
	"github.com/splitschema/splitschema/internal/inspect"
	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/pgsql"
	"github.com/splitschema/splitschema/internal/target"
)

// Options tune Run.
type Options struct {
	// Jobs is pg_dump's parallel jobs and the number of connections that
	// count rows; default: the CPU count.
	Jobs int
	// Compress is pg_dump's --compress: a level 0-9, or from pg_dump 16 on
	// a method such as lz4, gzip:1 or zstd:3. Default: lz4 from pg_dump 16
	// on, gzip level 1 before.
	Compress string
	// Fingerprint also computes, in the snapshot, a content fingerprint of
	// every table (an order-independent hash of its rows), which verify
	// compares after a restore. It reads every row once more.
	Fingerprint bool
	// WithRolePasswords also saves the service roles' password verifiers
	// (never passwords) in roles.json and roles.sql.
	WithRolePasswords bool
	// PgBinDir is the folder of the pg_dump to use; by default the
	// server's own (embedded cluster), else the newest installed.
	PgBinDir string
	// LockTimeout bounds the wait for the tables' ACCESS SHARE locks, held
	// up only by DDL; default one minute.
	LockTimeout time.Duration
	// Tool is the splitschema version, recorded in the manifest.
	Tool   string
	Logger *slog.Logger
	// Progress, when set, is called about twice a second while the backup
	// runs. It must return quickly.
	Progress func(Progress)

	// dumpStarted is a test hook: called with pg_dump's pid and output
	// folder once it runs.
	dumpStarted func(pid int, dir string)
	// beforeManifest is a test hook called just before manifest.json is
	// written; an error it returns fails the backup there.
	beforeManifest func(dir string) error
}

// Phase is a step of a backup.
type Phase string

// The phases of a backup, in order.
const (
	PhaseSnapshot Phase = "snapshot"
	PhaseDump     Phase = "dump"
	PhaseSeal     Phase = "seal"
	PhaseRename   Phase = "rename"
)

// Progress is where a running backup is.
type Progress struct {
	// Phase is PhaseSnapshot, PhaseDump or PhaseSeal.
	Phase Phase
	// TablesDumped counts the tables pg_dump has started to write, of
	// TablesTotal.
	TablesDumped, TablesTotal int
	// TablesCounted counts the exact row counts done, of TablesToCount.
	TablesCounted, TablesToCount int
	// Bytes written so far.
	Bytes int64
}

// Result is what Run made.
type Result struct {
	ID      string  `json:"id"`
	Path    string  `json:"path"`
	Tables  int     `json:"tables"`
	Rows    int64   `json:"rows"`
	Bytes   int64   `json:"bytes"`
	Seconds float64 `json:"seconds"`
	// SignedBy is the id of the key that signed the manifest; "" unsigned.
	SignedBy string `json:"signed_by"`
	// Manifest is the backup's manifest.
	Manifest *archive.Manifest `json:"-"`
}

// Human renders the result for people.
func (r *Result) Human() string {
	signed := "manifest signed with key " + r.SignedBy
	if r.SignedBy == "" {
		signed = "manifest checksummed, not signed (no backup key configured: set " + KeyEnv + " or backup_key_file)"
	}
	out := fmt.Sprintf("backup %s complete: %d tables, %d rows, %s in %.1fs\n  %s\n  %s\n",
		r.ID, r.Tables, r.Rows, HumanBytes(r.Bytes), r.Seconds, r.Path, signed)
	if r.Manifest != nil && r.Manifest.Encryption != nil {
		out += fmt.Sprintf("  files encrypted with age to %s: restoring needs one of their identities\n", strings.Join(r.Manifest.Encryption.Recipients, ", "))
	}
	return out
}

// Dir returns the project's backup folder, absolute when it can be made so.
func Dir(p *manifest.Project) string { return projectPath(p, p.Settings.Backups) }

// projectPath makes path absolute, relative to the project, when it can.
func projectPath(p *manifest.Project, path string) string {
	if !filepath.IsAbs(path) {
		path = p.Path(path)
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return path
}

// ServiceRoles lists the owner and app role of every service of p.
func ServiceRoles(p *manifest.Project) []string {
	var out []string
	for _, s := range p.Services {
		out = append(out, p.OwnerRole(s.Name), p.AppRole(s.Name), p.MigratorRole(s.Name))
	}
	slices.Sort(out)
	return out
}

// Error is a failed backup. Its message says what failed and where the
// incomplete folder was left.
type Error struct {
	ID string
	// Phase is where the backup was: snapshot, dump, seal or rename.
	Phase Phase
	// Partial is the incomplete folder kept for inspection, or "".
	Partial string
	// Stored says what the failed backup left in an object store, or "".
	Stored string
	Err    error
}

// Error says what failed and where the incomplete folder is. An
// interruption (Ctrl-C, SIGTERM) is one line: where it was, what was left.
func (e *Error) Error() string {
	if errors.Is(e.Err, context.Canceled) {
		left := "nothing was left"
		if e.Partial != "" {
			left = fmt.Sprintf("the incomplete folder %s is kept, marked incomplete (`splitschema backup prune` removes it, with whatever else retention drops: see `splitschema backup prune --dry-run` first)", e.Partial)
		}
		if e.Stored != "" {
			left += "; " + e.Stored
		}
		return fmt.Sprintf("backup %s interrupted during %s; no backup was made; %s", e.ID, e.Phase, left)
	}
	msg := fmt.Sprintf("backup %s failed during %s, no backup was made: %v", e.ID, e.Phase, e.Err)
	if e.Partial != "" {
		msg += fmt.Sprintf(" (the incomplete folder %s is kept, marked incomplete; `splitschema backup prune` removes it, with whatever else retention drops: see `splitschema backup prune --dry-run` first)", e.Partial)
	}
	if e.Stored != "" {
		msg += "; " + e.Stored
	}
	return msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Run backs up the project's database on srv into a new folder of the
// project's backup folder.
func Run(ctx context.Context, p *manifest.Project, srv *target.Server, o Options) (*Result, error) {
	start := time.Now()
	if o.Jobs <= 0 {
		o.Jobs = runtime.NumCPU()
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	db := srv.Database
	conn, err := srv.Connect(ctx, db)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())

	server, err := serverVersion(ctx, conn)
	if err != nil {
		return nil, err
	}
	dump, err := findTool(ctx, "pg_dump", o.PgBinDir, srv)
	if err != nil {
		return nil, err
	}
	if err := checkDumpVersion(dump, server.Full, server.Major); err != nil {
		return nil, err
	}
	compress, err := compression(o.Compress, dump.Major)
	if err != nil {
		return nil, err
	}
	if o.WithRolePasswords {
		super, err := isSuperuser(ctx, conn)
		if err != nil {
			return nil, err
		}
		if !super {
			return nil, errors.New("--with-role-passwords reads the roles' password verifiers, which only a superuser may: connect as one or leave the flag out")
		}
	}

	key, err := LoadKey(p)
	if err != nil {
		return nil, err
	}
	rp, err := openRepository(p)
	if err != nil {
		return nil, err
	}
	root := Dir(p)
	if rp.remote() {
		root = rp.spool
	}
	if err := os.MkdirAll(root, archive.DirMode); err != nil {
		return nil, fmt.Errorf("backup folder: %w", err)
	}
	id := archive.NewID(start)
	if rp.remote() {
		if err := rp.check(ctx, id); err != nil {
			return nil, fmt.Errorf("backup %s not started: %w", id, err)
		}
	}
	lock, err := lockBackupFile(root, id, true, false)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	partial := filepath.Join(root, id+archive.PartialSuffix)
	if err := os.Mkdir(partial, archive.DirMode); err != nil {
		return nil, fmt.Errorf("backup folder: %w", err)
	}
	b := &run{p: p, srv: srv, o: o, conn: conn, id: id, dir: partial, dump: dump, compress: compress, key: key, lock: lock}
	if rp.remote() {
		b.ship = &shipper{r: rp, id: id, dir: partial}
	}
	for attempt := 1; ; attempt++ {
		b.m = &archive.Manifest{
			ID: id, Tool: o.Tool, Server: server,
			PgDump: archive.Version{Full: dump.Full, Major: dump.Major},
			Jobs:   o.Jobs, Compression: compress, Started: time.Now().UTC(),
		}
		err := b.do(ctx)
		if err == nil {
			break
		}
		if !errors.Is(err, errLockConflict) || attempt == maxAttempts {
			return nil, b.failed(err)
		}
		// DDL (a migration) asked for a lock while pg_dump's workers took
		// theirs: wait until such a statement has given up (migrations
		// carry lock_timeout), then take a new snapshot.
		wait := min(max(p.Settings.LockTimeout+time.Second, time.Second), 30*time.Second)
		o.Logger.Warn("a schema change asked for a lock during the dump; starting the backup again", "attempt", attempt+1, "in", wait, "err", err)
		if err := b.reset(); err != nil {
			return nil, b.failed(err)
		}
		select {
		case <-ctx.Done():
			return nil, b.failed(ctx.Err())
		case <-time.After(wait):
		}
	}
	b.phase = PhaseRename
	final := filepath.Join(root, id)
	if rp.remote() {
		// Everything is in the store, the manifest last; the spool folder
		// holds only the table of contents checkTOC read.
		final = rp.objectPath(id)
		if err := os.RemoveAll(partial); err != nil {
			o.Logger.Warn("could not remove the spool folder", "dir", partial, "err", err)
		}
	} else {
		if err := os.Rename(partial, final); err != nil {
			return nil, b.failed(fmt.Errorf("rename into place: %w", err))
		}
		if err := archive.SyncDir(root); err != nil {
			return nil, &Error{ID: id, Phase: b.phase, Err: err}
		}
	}
	o.Logger.Debug("backup complete", "id", id, "tables", b.m.Totals.Tables, "rows", b.m.Totals.Rows, "bytes", b.m.Totals.Bytes)
	res := &Result{
		ID: id, Path: final, Tables: b.m.Totals.Tables, Rows: b.m.Totals.Rows, Bytes: b.m.Totals.Bytes,
		Seconds: sinceSeconds(start), Manifest: b.m,
	}
	if key != nil {
		res.SignedBy = key.ID
	}
	return res, nil
}

// maxAttempts bounds the runs of pg_dump when DDL gets in its way.
const maxAttempts = 3

// errLockConflict marks a dump that failed because DDL asked for a lock on
// a table while pg_dump's parallel workers were taking theirs.
var errLockConflict = errors.New("lock conflict with DDL")

// run is one backup in the making.
type run struct {
	p        *manifest.Project
	srv      *target.Server
	o        Options
	conn     *pgx.Conn
	id, dir  string
	dump     tool
	compress string
	m        *archive.Manifest
	key      *archive.Key // signs the manifest; nil: unsigned
	lock     *os.File     // the backup's lock, inherited by pg_dump
	phase    Phase        // where the backup is
	snapshot string
	tables   []inspect.TableName // the tables that hold rows, to count
	dumped   int                 // tables pg_dump writes data for
	sealer   *archive.Sealer
	ship     *shipper // uploads the files; nil for a local folder
	stored   string   // what a failed backup left in the store

	counted atomic.Int64
}

func (b *run) do(ctx context.Context) error {
	b.phase = PhaseSnapshot
	b.progress(Progress{Phase: PhaseSnapshot})
	t0 := time.Now()
	if err := b.takeSnapshot(ctx); err != nil {
		return err
	}
	b.o.Logger.Debug("snapshot exported", "snapshot", b.snapshot, "seconds", sinceSeconds(t0))
	// The snapshot lives as long as this transaction.
	defer b.conn.Exec(context.Background(), "ROLLBACK")
	if err := b.readSnapshot(ctx); err != nil {
		return err
	}
	t1 := time.Now()
	b.phase = PhaseDump
	if err := b.dumpAndCount(ctx); err != nil {
		return err
	}
	if _, err := b.conn.Exec(ctx, "ROLLBACK"); err != nil {
		return fmt.Errorf("end snapshot transaction: %w", err)
	}
	t2 := time.Now()
	b.phase = PhaseSeal
	err := b.seal(ctx)
	b.o.Logger.Debug("backup timings", "snapshot+catalog", t1.Sub(t0).Seconds(), "dump+count", t2.Sub(t1).Seconds(), "seal", time.Since(t2).Seconds())
	return err
}

// takeSnapshot locks every table pg_dump will dump, then exports the
// snapshot. The tables are listed before the transaction so that the
// snapshot is taken after the locks: no DDL can slip in between. Should
// the tables change meanwhile, it starts again.
func (b *run) takeSnapshot(ctx context.Context) error {
	for attempt := 1; ; attempt++ {
		before, err := dumpedTables(ctx, b.conn)
		if err != nil {
			return err
		}
		if _, err := b.conn.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"); err != nil {
			return fmt.Errorf("begin snapshot transaction: %w", err)
		}
		err = lockTables(ctx, b.conn, before, b.o.LockTimeout)
		if pgsql.IsCode(err, pgsql.LockNotAvailable) {
			b.conn.Exec(context.Background(), "ROLLBACK")
			return fmt.Errorf("a table stayed locked by DDL (a migration?) for %s; the backup waits for no longer: try again when it is done: %w", b.o.LockTimeout, err)
		}
		retry := pgsql.IsCode(err, pgsql.UndefinedTable) // dropped since listed
		if err == nil {
			b.snapshot, err = inspect.ExportSnapshot(ctx, b.conn)
			if err != nil {
				return err
			}
			var after []dumpedTable
			after, err = dumpedTables(ctx, b.conn)
			if err == nil && slices.Equal(before, after) {
				b.setTables(after)
				return nil
			}
			retry = err == nil
		}
		b.conn.Exec(context.Background(), "ROLLBACK")
		if !retry {
			return err
		}
		if attempt == 3 {
			return errors.New("the database's tables kept changing while the backup started (DDL running?): try again")
		}
		b.o.Logger.Info("tables changed while starting the backup; starting again")
	}
}

// setTables records the tables the snapshot holds: every one pg_dump
// dumps, and those of them that hold rows, to count.
func (b *run) setTables(dumped []dumpedTable) {
	b.dumped = len(dumped)
	b.tables = nil
	for _, t := range dumped {
		if !t.partitioned {
			b.tables = append(b.tables, t.TableName)
		}
	}
}

// readSnapshot records, inside the snapshot, what the manifest holds
// besides the row counts.
func (b *run) readSnapshot(ctx context.Context) error {
	m := b.m
	m.Snapshot = b.snapshot
	var err error
	if m.Database, err = databaseInfo(ctx, b.conn); err != nil {
		return err
	}
	var schemas []string
	for _, s := range b.p.Services {
		schemas = append(schemas, s.Schema)
	}
	exists, err := inspect.ExistingSchemas(ctx, b.conn, schemas)
	if err != nil {
		return err
	}
	tables := b.tables
	service := map[string]bool{}
	for _, s := range b.p.Services {
		service[s.Schema] = true
		svc := archive.Service{Name: s.Name, Schema: s.Schema, SchemaExists: exists[s.Schema], Tables: []archive.Table{}}
		if len(s.Schemas) > 1 {
			svc.Schemas = s.Schemas
		}
		if !svc.SchemaExists {
			b.o.Logger.Warn("service has no schema in the database: nothing of it to back up", "service", s.Name, "schema", s.Schema)
		} else if svc.Version, err = inspect.Version(ctx, b.conn, s.Schema); err != nil {
			return err
		}
		for _, t := range tables {
			if t.Schema == s.Schema {
				svc.Tables = append(svc.Tables, archive.Table{Name: t.Table})
			}
		}
		m.Services = append(m.Services, svc)
	}
	m.OtherTables = []archive.SchemaTable{}
	for _, t := range tables {
		if !service[t.Schema] {
			m.OtherTables = append(m.OtherTables, archive.SchemaTable{Schema: t.Schema, Name: t.Table})
		}
	}
	// Every foreign key of every service schema, those between two schemas
	// of one service included.
	var all []string
	for _, s := range b.p.Services {
		all = append(all, s.Schemas...)
	}
	if m.ForeignKeys, err = inspect.ForeignKeys(ctx, b.conn, all); err != nil {
		return err
	}
	m.Links = declaredLinks(b.p, m.ForeignKeys)
	m.SoftLinks = declaredSoftLinks(b.p)

	g, err := readGlobals(ctx, b.conn, ServiceRoles(b.p), b.o.WithRolePasswords)
	if err != nil {
		return err
	}
	for _, r := range g.Roles {
		m.Roles = append(m.Roles, r.Name)
	}
	m.RolePasswords = b.o.WithRolePasswords
	if err := archive.WriteGlobals(b.dir, g); err != nil {
		return err
	}
	script, err := rolesScript(g, b.id, m.Database.Name, m.Server.Major)
	if err != nil {
		return fmt.Errorf("roles script: %w", err)
	}
	if err := archive.WriteFileSync(filepath.Join(b.dir, archive.RolesScript), []byte(script)); err != nil {
		return fmt.Errorf("write %s: %w", archive.RolesScript, err)
	}
	return nil
}

// declaredLinks pairs each declared link with the foreign keys that back it.
func declaredLinks(p *manifest.Project, fks []archive.ForeignKey) []archive.Link {
	out := []archive.Link{}
	for _, e := range p.Edges() {
		if e.Kind != manifest.EdgeLink {
			continue
		}
		from := p.Service(e.From)
		l := archive.Link{From: e.From, Service: e.To, Table: e.Link.Table, Columns: e.Link.Columns, ForeignKeys: []string{}}
		for _, fk := range fks {
			if from.OwnsSchema(fk.From.Schema) && fk.To.Schema == e.Link.Schema && fk.To.Table == e.Link.Table && sameSet(fk.To.Columns, e.Link.Columns) {
				l.ForeignKeys = append(l.ForeignKeys, fk.QualifiedName())
			}
		}
		out = append(out, l)
	}
	return out
}

// declaredSoftLinks lists the project's soft links, for verify to check.
func declaredSoftLinks(p *manifest.Project) []archive.SoftLink {
	var out []archive.SoftLink
	for _, svc := range p.Services {
		for _, s := range svc.SoftLinks {
			out = append(out, archive.SoftLink{Service: svc.Name, Declared: s.String(),
				From: archive.TableRef{Schema: s.FromSchema, Table: s.FromTable, Columns: s.FromColumns},
				To:   archive.TableRef{Schema: s.To.Schema, Table: s.To.Table, Columns: s.To.Columns}})
		}
	}
	return out
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// dumpAndCount runs pg_dump on the snapshot while other connections count
// every service table's rows in the same snapshot.
func (b *run) dumpAndCount(ctx context.Context) error {
	b.sealer = archive.NewSealer(b.dir, max(1, b.o.Jobs/2))
	shipCtx := ctx // shipping goes on after the dump, until seal
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if b.ship != nil {
		// A file that cannot be stored stops the dump: going on would
		// only fill the spool. The table of contents stays for checkTOC.
		b.sealer.Ship(shipCtx, func(ctx context.Context, f archive.File) (archive.File, error) {
			f, err := b.ship.ship(ctx, f)
			if err != nil {
				cancel()
			}
			return f, err
		}, archive.DumpDir+"/toc.dat")
	}
	counts := make([]int64, len(b.tables))
	prints := make([]string, len(b.tables))
	var wg sync.WaitGroup
	var dumpErr, countErr error
	dumpDir := filepath.Join(b.dir, archive.DumpDir)
	// pg_dump takes an empty folder; making it first lets the files be
	// hashed and synced as pg_dump closes them, while it dumps the rest.
	if err := os.Mkdir(dumpDir, archive.DirMode); err != nil {
		return fmt.Errorf("dump folder: %w", err)
	}
	b.sealer.Add(archive.RolesFile)
	b.sealer.Add(archive.RolesScript)
	stopWatch, err := watchClosed(dumpDir, func(name string) { b.sealer.Add(archive.DumpDir + "/" + name) })
	if err != nil {
		b.o.Logger.Debug("files are hashed after the dump", "reason", err)
		stopWatch = func() {}
	}
	// No report may come in once the sealer is waited for.
	defer func() {
		stopWatch()
		b.sealer.Wait()
	}()

	wg.Go(func() {
		args := []string{
			"--format=directory", "--jobs=" + strconv.Itoa(b.o.Jobs), "--file=" + dumpDir,
			"--snapshot=" + b.snapshot, "--compress=" + b.compress,
			"--no-sync", "--no-password",
			"--lock-wait-timeout=" + strconv.FormatInt(b.o.LockTimeout.Milliseconds(), 10),
		}
		t0 := time.Now()
		defer func() { b.o.Logger.Debug("pg_dump done", "seconds", sinceSeconds(t0)) }()
		dumpErr = runTool(ctx, b.dump, args, runOptions{
			env:     b.srv.ToolEnv(b.srv.Database),
			inherit: []*os.File{b.lock},
			started: func(pid int) {
				if b.o.dumpStarted != nil {
					b.o.dumpStarted(pid, dumpDir)
				}
			},
		})
		if dumpErr != nil {
			cancel()
		}
	})
	wg.Go(func() {
		tasks := make([]inspect.Task, len(b.tables))
		for i, t := range b.tables {
			tasks[i] = func(ctx context.Context, conn *pgx.Conn) error {
				if b.o.Fingerprint {
					var err error
					if counts[i], prints[i], err = inspect.Fingerprint(ctx, conn, t); err != nil {
						return err
					}
				} else if err := conn.QueryRow(ctx, inspect.CountSQL(t)).Scan(&counts[i]); err != nil {
					return fmt.Errorf("count rows of %s: %w", t, err)
				}
				b.counted.Add(1)
				return nil
			}
		}
		t0 := time.Now()
		countErr = inspect.RunInSnapshot(ctx, b.srv.Config(b.srv.Database), b.snapshot, b.o.Jobs, tasks)
		b.o.Logger.Debug("row counts done", "seconds", sinceSeconds(t0))
		if countErr != nil {
			cancel()
		}
	})
	stop := b.watchDump(dumpDir)
	wg.Wait()
	stop()
	shipErr := b.sealer.Err()
	switch {
	case shipErr != nil && b.ship != nil:
		return fmt.Errorf("upload to %s: %w", b.ship.r, shipErr)
	case dumpErr != nil && lockConflict.MatchString(dumpErr.Error()):
		return fmt.Errorf("dump: %w%s: %w", dumpErr, dumpHint(dumpErr), errLockConflict)
	case dumpErr != nil && !errors.Is(dumpErr, context.Canceled):
		return fmt.Errorf("dump: %w%s", dumpErr, dumpHint(dumpErr))
	case countErr != nil && !errors.Is(countErr, context.Canceled):
		return fmt.Errorf("count rows: %w", countErr)
	case dumpErr != nil:
		return fmt.Errorf("dump: %w", dumpErr)
	case countErr != nil:
		return fmt.Errorf("count rows: %w", countErr)
	}
	rows := map[inspect.TableName]int64{}
	fps := map[inspect.TableName]string{}
	for i, t := range b.tables {
		rows[t], fps[t] = counts[i], prints[i]
		b.m.Totals.Rows += counts[i]
	}
	for s := range b.m.Services {
		svc := &b.m.Services[s]
		for k := range svc.Tables {
			n := inspect.TableName{Schema: svc.Schema, Table: svc.Tables[k].Name}
			svc.Tables[k].Rows, svc.Tables[k].Fingerprint = rows[n], fps[n]
		}
	}
	for k := range b.m.OtherTables {
		t := &b.m.OtherTables[k]
		n := inspect.TableName{Schema: t.Schema, Table: t.Name}
		t.Rows, t.Fingerprint = rows[n], fps[n]
	}
	b.m.Totals.Tables = len(b.tables)
	return b.checkTOC(ctx, dumpDir)
}

// checkTOC makes sure the dump's table of contents holds the data of every
// table counted: pg_dump said it succeeded, this checks it did what was
// asked.
func (b *run) checkTOC(ctx context.Context, dumpDir string) error {
	// The pg_restore beside the pg_dump that wrote the dump reads it, else
	// the server's; listing needs no version check.
	restore, err := toolPath("pg_restore", filepath.Dir(b.dump.Path), nil)
	if err != nil {
		if restore, err = toolPath("pg_restore", "", b.srv); err != nil {
			return fmt.Errorf("check the dump: %w", err)
		}
	}
	toc, err := listTOC(ctx, restore, dumpDir)
	if err != nil {
		return fmt.Errorf("check the dump: %w", err)
	}
	var missing []string
	for _, t := range b.tables {
		if !strings.Contains(toc, " TABLE DATA "+t.Schema+" "+t.Table+" ") {
			missing = append(missing, t.String())
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the dump holds no data for table(s) %s, though pg_dump reported success", strings.Join(missing, ", "))
	}
	return nil
}

var (
	lockConflict = regexp.MustCompile(`could not obtain lock on relation`)
	diskFull     = regexp.MustCompile(`(?i)no space left on device`)
	gzipLevel    = regexp.MustCompile(`^[0-9]$`)
	compressSpec = regexp.MustCompile(`^(none|gzip|lz4|zstd)(:[a-z0-9=,_-]+)?$`)
)

// dumpHint explains pg_dump's failures a DBA is likely to meet.
func dumpHint(err error) string {
	msg := err.Error()
	switch {
	case lockConflict.MatchString(msg):
		return " (a statement asked for an exclusive lock on that table while the backup ran — DDL such as a migration without lock_timeout; parallel pg_dump then stops: run the backup again once it is done, or with --jobs 1)"
	case diskFull.MatchString(msg):
		return " (the disk of the backup folder, or of the spool for an object store, is full)"
	}
	return ""
}

// watchDump reports progress while pg_dump runs, by looking at its output
// folder. It returns a function that stops it.
func (b *run) watchDump(dir string) (stop func()) {
	if b.o.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			pr := Progress{Phase: PhaseDump, TablesTotal: b.dumped, TablesToCount: len(b.tables), TablesCounted: int(b.counted.Load())}
			// Shipped files have left the folder: count them too (the
			// roles files among them are not tables; min below bounds it).
			shipped, shippedBytes := b.sealer.Gone()
			pr.TablesDumped, pr.Bytes = shipped, shippedBytes
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if fi, err := e.Info(); err == nil {
					pr.Bytes += fi.Size()
				}
				if e.Name() != "toc.dat" {
					pr.TablesDumped++
				}
			}
			pr.TablesDumped = min(pr.TablesDumped, pr.TablesTotal)
			b.progress(pr)
		}
	})
	return func() { close(done); wg.Wait() }
}

func (b *run) progress(p Progress) {
	if b.o.Progress != nil {
		b.o.Progress(p)
	}
}

// seal hashes, syncs and lists every file, then writes the manifest.
func (b *run) seal(ctx context.Context) error {
	pr := Progress{Phase: PhaseSeal, TablesDumped: b.dumped, TablesTotal: b.dumped, TablesCounted: len(b.tables), TablesToCount: len(b.tables)}
	b.progress(pr)
	files, err := b.sealer.Finish(ctx, b.o.Jobs)
	if err != nil {
		return err
	}
	b.m.Files = files
	for _, f := range files {
		b.m.Totals.Bytes += f.Size
	}
	if b.o.beforeManifest != nil {
		if err := b.o.beforeManifest(b.dir); err != nil {
			return err
		}
	}
	b.m.Finished = time.Now().UTC()
	if b.ship != nil {
		return b.storeManifest(ctx)
	}
	if err := archive.Write(b.dir, b.m, b.key); err != nil {
		return err
	}
	return archive.SyncDir(b.dir)
}

// storeManifest uploads the manifest, last: only then does the backup
// look complete in the store.
func (b *run) storeManifest(ctx context.Context) error {
	if b.ship.r.recipients != nil {
		b.m.Encryption = &archive.Encryption{Method: "age", Recipients: b.ship.r.recipientKeys}
	}
	data, err := archive.Encode(b.m, b.key)
	if err != nil {
		return err
	}
	return b.ship.r.store.Put(ctx, b.id+"/"+archive.ManifestFile, bytes.NewReader(data), int64(len(data)))
}

// reset empties the .partial folder (and the store) for another attempt.
func (b *run) reset() error {
	if b.ship != nil {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := b.ship.r.deleteObjects(ctx, b.id, ""); err != nil {
			return fmt.Errorf("delete the failed attempt's files from the repository: %w", err)
		}
	}
	entries, err := os.ReadDir(b.dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(b.dir, e.Name())); err != nil {
			return err
		}
	}
	b.counted.Store(0)
	return nil
}

// failed cleans up after a failed backup (fail) and returns its error.
func (b *run) failed(cause error) *Error {
	kept := b.fail(cause)
	return &Error{ID: b.id, Phase: b.phase, Partial: kept, Stored: b.stored, Err: cause}
}

// fail cleans up after a failed backup: the dump, useless now, is removed
// to give back its space, and a note saying why is left in the .partial
// folder, which list shows as incomplete. It returns that folder, or ""
// when even that could not be kept.
func (b *run) fail(cause error) string {
	_ = os.RemoveAll(filepath.Join(b.dir, archive.DumpDir))
	_ = os.Remove(filepath.Join(b.dir, archive.ManifestFile))
	note := fmt.Sprintf("backup %s failed at %s: %v\n", b.id, time.Now().UTC().Format(time.RFC3339), cause)
	if err := os.WriteFile(filepath.Join(b.dir, archive.FailureFile), []byte(note), archive.FileMode); err != nil {
		b.o.Logger.Warn("could not record the failure", "dir", b.dir, "err", err)
	}
	if b.ship != nil {
		b.stored = b.failRemote(note)
	}
	if _, err := os.Stat(b.dir); err != nil {
		return ""
	}
	return b.dir
}

// failRemote marks the backup failed in the store and deletes what was
// uploaded of it. The store may be what failed: then the objects stay
// (without a manifest, so never complete) for the next prune, which knows
// from the note in the spool that this backup failed. It says what it
// left in the store.
func (b *run) failRemote(note string) string {
	noteCtx, cancel := context.WithTimeout(context.Background(), noteTimeout)
	defer cancel()
	r := b.ship.r
	if err := r.store.Put(noteCtx, b.id+"/"+archive.FailureFile, strings.NewReader(note), int64(len(note))); err != nil {
		return fmt.Sprintf("what it uploaded stays in %s without a manifest (never listed as complete): the store could not be reached to delete it (%v); `splitschema backup prune` deletes it", r.objectPath(b.id), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if err := r.deleteObjects(ctx, b.id, archive.FailureFile); err != nil {
		return fmt.Sprintf("its note %s%s says it failed; deleting what it uploaded failed (%v): `splitschema backup prune` deletes it", r.objectPath(b.id), archive.FailureFile, err)
	}
	return fmt.Sprintf("what it uploaded was deleted; its note %s%s says it failed", r.objectPath(b.id), archive.FailureFile)
}

// compression checks --compress against what pg_dump of that major
// version takes, and picks the default.
func compression(spec string, major int) (string, error) {
	if spec == "" {
		if major >= 16 {
			return "lz4", nil
		}
		return "1", nil
	}
	if gzipLevel.MatchString(spec) {
		return spec, nil
	}
	if major < 16 {
		return "", fmt.Errorf("--compress %q: pg_dump %d takes a gzip level 0-9 only (methods such as lz4 or zstd need pg_dump 16 or newer)", spec, major)
	}
	if !compressSpec.MatchString(spec) {
		return "", fmt.Errorf("--compress %q: want a level 0-9 or METHOD[:DETAIL] with METHOD none, gzip, lz4 or zstd", spec)
	}
	return spec, nil
}

// HumanBytes renders a size such as 12.3 MB, for people.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "KMGTPE"[exp])
}
