package backup

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/archive"
	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/pgsql"
	"github.com/splitschema/splitschema/internal/provision"
	"github.com/splitschema/splitschema/internal/secrets"
	"github.com/splitschema/splitschema/internal/target"
	"github.com/splitschema/splitschema/internal/verify"
)

// RestoreOptions tune Restore.
type RestoreOptions struct {
	// TargetDB is the new database's name on the project's server.
	TargetDB string
	// TargetURL is an admin URL of any server; the database it names is
	// created there. At most one of TargetDB and TargetURL; with neither,
	// the backed-up database's own name on the project's server.
	TargetURL string
	// Services, when set, restores only these services (and the shared
	// services they use) into the new database, for inspection: their
	// schemas and rows, without the foreign keys to services left out.
	// It needs TargetDB or TargetURL.
	Services []string
	// Jobs is pg_restore's parallel jobs; default: the CPU count.
	Jobs int
	// PgBinDir is the folder of the pg_restore to use.
	PgBinDir string
	// Audit is the isolation audit verify runs on the restored database.
	Audit verify.AuditFunc
	// NoAudit skips it (the result says so).
	NoAudit bool
	// AllowUnsigned restores, with a warning, an unsigned backup while a
	// backup key is configured.
	AllowUnsigned bool
	// AppPassword returns the password to give a service's app role when
	// the restore creates it and the backup holds no password verifier
	// for it: the project's own secret, so the services can log in. An
	// empty password leaves the role without one.
	AppPassword func(service string) (string, error)
	Logger      *slog.Logger
	// Progress, when set, is told each step as it starts.
	Progress func(step string)

	// scratch restores into a scratch database that is dropped at the end,
	// whatever happens (backup verify --restore-test).
	scratch bool
	// restoreStarted is a test hook: called with pg_restore's pid.
	restoreStarted func(pid int)
}

// RestoreResult is what Restore did.
type RestoreResult struct {
	OK       bool   `json:"ok"`
	ID       string `json:"id"`
	Database string `json:"database"`
	Server   string `json:"server"`
	// RolesCreated are the service roles the restore created; RolesExisting
	// those it found and left as they were.
	RolesCreated  []string `json:"roles_created"`
	RolesExisting []string `json:"roles_existing"`
	// Services are the services restored when not all were: those asked
	// for and the shared services they use.
	Services []string `json:"services,omitempty"`
	// NotRestored are the foreign keys and soft links between a restored
	// service and one left out: not in the database, not checked.
	NotRestored []string `json:"not_restored,omitempty"`
	// Ignored is what roles.json asked for beyond the project's declared
	// roles and was not done.
	Ignored []string `json:"ignored"`
	// Warnings say what could not be checked (an unsigned backup).
	Warnings []string       `json:"warnings"`
	Seconds  float64        `json:"seconds"`
	Verify   *verify.Result `json:"verify,omitempty"`
	// FailedDatabase is the name a failed restore's database was renamed
	// to; Dropped tells that it was dropped instead.
	FailedDatabase string `json:"failed_database,omitempty"`
	Dropped        bool   `json:"dropped,omitempty"`
	Error          string `json:"error,omitempty"`
}

// Human renders the result for people.
func (r *RestoreResult) Human() string {
	var b strings.Builder
	switch {
	case r.OK && r.Dropped:
		fmt.Fprintf(&b, "restore test of backup %s passed (scratch database %s dropped) in %.1fs\n", r.ID, r.Database, r.Seconds)
	case r.OK && len(r.Services) > 0:
		fmt.Fprintf(&b, "restored %s of backup %s into database %s on %s in %.1fs, verified (those services only)\n",
			serviceWord(r.Services), r.ID, r.Database, r.Server, r.Seconds)
	case r.OK:
		fmt.Fprintf(&b, "restored backup %s into database %s on %s in %.1fs, verified\n", r.ID, r.Database, r.Server, r.Seconds)
	default:
		fmt.Fprintf(&b, "restore of backup %s into database %s FAILED: %s\n", r.ID, r.Database, r.Error)
	}
	if len(r.RolesCreated) > 0 {
		fmt.Fprintf(&b, "  roles created: %s\n", strings.Join(r.RolesCreated, ", "))
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(&b, "  warning: %s\n", w)
	}
	for _, i := range r.Ignored {
		fmt.Fprintf(&b, "  ignored from roles.json: %s\n", i)
	}
	for _, n := range r.NotRestored {
		fmt.Fprintf(&b, "  not restored, not checked (one end is in a service left out): %s\n", n)
	}
	if r.Verify != nil {
		for _, line := range strings.Split(strings.TrimRight(r.Verify.Human(), "\n"), "\n") {
			fmt.Fprintf(&b, "  %s\n", line)
		}
	}
	return b.String()
}

// Errors Restore returns for a target it will not touch.
var (
	// ErrTargetExists: the target database exists already.
	ErrTargetExists = errors.New("target database exists")
)

// RestoreError is a restore that failed once the database existed. Its
// message says what failed and what became of the database.
type RestoreError struct {
	Result *RestoreResult
	// Phase is the step the restore was at.
	Phase string
	Err   error
}

// Error says what failed, what became of the database and of the roles;
// an interruption (Ctrl-C, SIGTERM) says where it was, in one line.
func (e *RestoreError) Error() string {
	r := e.Result
	msg := fmt.Sprintf("restore of backup %s into database %s failed during %s: %v", r.ID, r.Database, e.Phase, e.Err)
	if errors.Is(e.Err, context.Canceled) {
		msg = fmt.Sprintf("restore of backup %s into database %s interrupted during %s", r.ID, r.Database, e.Phase)
	}
	switch {
	case r.FailedDatabase != "":
		msg += fmt.Sprintf("; the database was renamed %s so that nothing half-restored looks whole: look into it, then DROP DATABASE %s", r.FailedDatabase, r.FailedDatabase)
	case r.Dropped:
		msg += "; the database was dropped"
	}
	if len(r.RolesCreated) > 0 {
		msg += fmt.Sprintf("; roles created by the restore were kept: %s", strings.Join(r.RolesCreated, ", "))
	}
	return msg
}

// Unwrap returns the cause.
func (e *RestoreError) Unwrap() error { return e.Err }

// Restore restores backup id of project p into a new database: it checks
// every file's SHA-256, refuses a target database that exists, creates the
// missing service roles, creates the database with the source's encoding,
// locale, grants and settings, runs pg_restore in parallel, then verifies
// the database against the manifest. A restore that fails after the
// database was created renames it <name>_failed_<id> (or drops it when
// that cannot be done) and returns a *RestoreError.
func Restore(ctx context.Context, p *manifest.Project, srv *target.Server, id string, o RestoreOptions) (*RestoreResult, error) {
	local, _, done, err := fetchIfRemote(ctx, p, id, o.Jobs, o.AllowUnsigned)
	if err != nil {
		return nil, err
	}
	defer done()
	return restore(ctx, local, srv, id, o, nil)
}

// fetchIfRemote returns p itself when its backups are in a folder. When
// they are in an object store, it downloads backup id into the spool,
// checking every file as it arrives, and returns p as it reads that copy,
// the check, and a function that removes the copy.
func fetchIfRemote(ctx context.Context, p *manifest.Project, id string, jobs int, allowUnsigned bool) (*manifest.Project, *CheckResult, func(), error) {
	r, err := openRepository(p)
	if err != nil {
		return nil, nil, nil, err
	}
	if !r.remote() {
		return p, nil, func() {}, nil
	}
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	return r.fetch(ctx, p, id, jobs, allowUnsigned)
}

// restore is Restore; checked, when set, is given the check of the
// backup's files, whole or not, before anything else is done.
func restore(ctx context.Context, p *manifest.Project, srv *target.Server, id string, o RestoreOptions, checked func(*CheckResult)) (_ *RestoreResult, err error) {
	if o.Jobs <= 0 {
		o.Jobs = runtime.NumCPU()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.TargetDB != "" && o.TargetURL != "" {
		return nil, errors.New("give --target-db or --target-url, not both")
	}
	if o.Audit == nil && !o.NoAudit {
		return nil, errors.New("restore: no isolation audit given")
	}
	if len(o.Services) > 0 && o.TargetDB == "" && o.TargetURL == "" {
		return nil, errors.New("a restore of some services goes into a new database: name it with --target-db NAME (to restore them into the live database, use --in-place)")
	}
	r := &restoreRun{p: p, srv: srv, id: id, o: o, start: time.Now(), phase: "preparing"}
	defer r.close()
	defer func() {
		var re *RestoreError
		if err != nil && errors.Is(err, context.Canceled) && !errors.As(err, &re) {
			err = fmt.Errorf("restore of backup %s interrupted during %s; nothing was changed", id, r.phase)
		}
	}()
	// Nothing is changed until every check passed.
	if err := r.prepare(ctx, checked); err != nil {
		return nil, err
	}
	r.step("creating the missing service roles")
	if err := createRoles(ctx, r.admin, p, r.globals, r.server.Major, o, r.res); err != nil {
		return nil, err
	}
	if err := r.create(ctx); err != nil {
		return r.res, &RestoreError{Result: r.res, Phase: r.phase, Err: err}
	}
	// From here on a failure sets the database aside.
	for _, stepFn := range []func(context.Context) error{r.settings, r.load, r.verify, r.promote} {
		if err := stepFn(ctx); err != nil {
			return r.fail(err)
		}
	}
	r.res.OK = true
	r.res.Seconds = sinceSeconds(r.start)
	return r.res, nil
}

// restoreRun is one restore in the making, step by step: prepare (check
// everything, change nothing), create the roles and the database under
// its working name, give it its settings, load it with pg_restore, verify
// it, promote it to the target's name.
type restoreRun struct {
	p     *manifest.Project
	srv   *target.Server
	id    string
	o     RestoreOptions
	start time.Time
	phase string

	unlock  func()
	dir     string
	m       *archive.Manifest
	globals *archive.Globals // what the project declares of roles.json
	tsrv    *target.Server   // the target server and database
	admin   *pgx.Conn        // on the target's maintenance database
	server  archive.Version
	tool    tool    // pg_restore
	work    string  // the database's name while it is restored
	subset  *subset // the services restored, when not all are
	res     *RestoreResult
}

func (r *restoreRun) step(s string) {
	r.phase = s
	r.o.Logger.Debug("restore", "step", s)
	if r.o.Progress != nil {
		r.o.Progress(s)
	}
}

func (r *restoreRun) close() {
	if r.admin != nil {
		r.admin.Close(context.Background())
	}
	if r.unlock != nil {
		r.unlock()
	}
}

// prepare checks the backup (seal, signature, every file), the target
// server (superuser, version, pg_restore, no database of that name, the
// dump's owners) and works out the roles to create. It changes nothing.
func (r *restoreRun) prepare(ctx context.Context, checked func(*CheckResult)) error {
	key, err := LoadKey(r.p)
	if err != nil {
		return err
	}
	root := Dir(r.p)
	if r.dir, err = find(root, r.id); err != nil {
		return err
	}
	if r.unlock, err = lockBackup(root, r.id, false, true); err != nil {
		return err
	}
	r.step("checking the backup's files")
	m, check, err := checkDir(ctx, r.dir, r.o.Jobs, nil, key, r.o.AllowUnsigned)
	if err != nil {
		return err
	}
	r.m = m
	recordCheck(root, check)
	if checked != nil {
		checked(check)
	}
	for _, w := range check.Warnings {
		r.o.Logger.Warn(w, "backup", r.id)
	}
	if !check.OK {
		return &ProblemsError{ID: r.id, Problems: check.Problems}
	}
	if len(r.o.Services) > 0 {
		if r.subset, err = planSubset(r.p, m, r.o.Services); err != nil {
			return fmt.Errorf("restore of backup %s: %w. Nothing was changed", r.id, err)
		}
	}
	g, err := archive.ReadGlobals(r.dir)
	if err != nil {
		return err
	}
	if r.tsrv, err = restoreTarget(r.srv, m, r.o); err != nil {
		return err
	}
	db := r.tsrv.Database
	r.res = &RestoreResult{ID: r.id, Database: db, Server: r.tsrv.Addr(), RolesCreated: []string{}, RolesExisting: []string{}, Warnings: check.Warnings, Ignored: []string{}}
	if r.subset != nil {
		r.res.Services, r.res.NotRestored = r.subset.services, r.subset.notRestored
	}
	if r.admin, err = connectMaintenance(ctx, r.tsrv); err != nil {
		return err
	}
	if r.server, err = serverVersion(ctx, r.admin); err != nil {
		return err
	}
	if super, err := isSuperuser(ctx, r.admin); err != nil {
		return err
	} else if !super {
		return fmt.Errorf("restore connects to %s as %s, who is not a superuser: a restore creates roles, the guard's event trigger and objects owned by the service roles; connect as a superuser. Nothing was changed", r.tsrv.Addr(), r.tsrv.User())
	}
	if r.server.Major < m.Server.Major {
		return fmt.Errorf("the target server runs PostgreSQL %s, older than the backup's source (%s): restore into PostgreSQL %d or newer", r.server.Full, m.Server.Full, m.Server.Major)
	}
	if r.tool, err = findTool(ctx, "pg_restore", r.o.PgBinDir, r.tsrv); err != nil {
		return err
	}
	if r.tool.Major < m.PgDump.Major {
		return kindErrorf(ErrToolTooOld, "pg_restore %s (%s) is older than the pg_dump %s that wrote backup %s: install postgresql-client-%d or pass --pg-bindir with a newer one",
			r.tool.Full, r.tool.Path, m.PgDump.Full, r.id, m.PgDump.Major)
	}
	if exists, err := databaseExists(ctx, r.admin, db); err != nil {
		return err
	} else if exists {
		return kindErrorf(ErrTargetExists, "database %s already exists on %s; restore never writes into an existing database: choose another name with --target-db NAME (or drop %s first). Nothing was changed", db, r.tsrv.Addr(), db)
	}
	userSettings, err := readUserSettings(ctx, r.admin)
	if err != nil {
		return err
	}
	var ignored []string
	r.globals, ignored = declaredGlobals(r.p, g, userSettings)
	r.res.Ignored = append(r.res.Ignored, sortedIgnored(ignored)...)
	for _, i := range r.res.Ignored {
		r.o.Logger.Warn("roles.json asks for more than the project declares; ignored", "what", i)
	}
	if err := checkOwners(ctx, r.admin, r.tool, filepath.Join(r.dir, archive.DumpDir), r.globals); err != nil {
		return err
	}
	// The restore works under a name that says so and takes the target's
	// name only once verified: a restore killed midway leaves nothing that
	// looks whole.
	r.work = workName(db, r.id)
	if exists, err := databaseExists(ctx, r.admin, r.work); err != nil {
		return err
	} else if exists {
		return fmt.Errorf("database %s, the working name of a restore of backup %s into %s, exists on %s: a restore is running or was killed; drop it (DROP DATABASE %s) once no restore runs. Nothing was changed", r.work, r.id, db, r.tsrv.Addr(), r.work)
	}
	return nil
}

// create creates the database under its working name.
func (r *restoreRun) create(ctx context.Context) error {
	r.step("creating database " + r.work)
	return createDatabase(ctx, r.admin, r.work, r.m.Database, r.server.Major)
}

// settings gives the database its saved grants and settings, those the
// project declares.
func (r *restoreRun) settings(ctx context.Context) error {
	stmts, err := databaseSQL(r.globals, r.work)
	if err != nil {
		return err
	}
	for _, s := range stmts {
		if _, err := r.admin.Exec(ctx, s); err != nil {
			return fmt.Errorf("database grants and settings: %s: %w", s, err)
		}
	}
	return nil
}

// load runs pg_restore, in parallel, with the target URL's TLS settings.
func (r *restoreRun) load(ctx context.Context) error {
	r.step(fmt.Sprintf("pg_restore --jobs=%d", r.o.Jobs))
	args := []string{"--format=directory", "--jobs=" + strconv.Itoa(r.o.Jobs), "--exit-on-error", "--no-password", "--dbname=" + r.work}
	if r.subset != nil {
		list, err := r.subsetList(ctx)
		if err != nil {
			return err
		}
		defer os.Remove(list)
		args = append(args, "--use-list="+list)
	}
	args = append(args, filepath.Join(r.dir, archive.DumpDir))
	return runTool(ctx, r.tool, args, runOptions{env: r.tsrv.ToolEnv(r.work), started: r.o.restoreStarted})
}

// verify compares the restored database with the manifest.
func (r *restoreRun) verify(ctx context.Context) error {
	r.step("verifying against the manifest")
	wsrv := *r.tsrv
	wsrv.Database = r.work
	m, vo := r.m, verify.Options{Audit: r.o.Audit, NoAudit: r.o.NoAudit, Jobs: r.o.Jobs, Logger: r.o.Logger}
	if r.subset != nil {
		// The isolation audit is of a whole project: with services left
		// out it would only find them missing. The result says it did not
		// run.
		m, vo.Audit, vo.NoAudit = r.subset.manifest(r.m), nil, true
	}
	v, err := verify.Run(ctx, &wsrv, m, vo)
	if err != nil {
		return err
	}
	r.res.Verify = v
	if !v.OK {
		return differs(v.Mismatches)
	}
	return nil
}

// subsetList writes the pg_restore list file of the services restored
// and returns its path.
func (r *restoreRun) subsetList(ctx context.Context) (string, error) {
	toc, err := listTOC(ctx, r.tool.Path, filepath.Join(r.dir, archive.DumpDir))
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp("", "splitschema-restore-*.list")
	if err != nil {
		return "", fmt.Errorf("write the list of archive entries to restore: %w", err)
	}
	if _, err := f.WriteString(r.subset.list(toc, r.m)); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", fmt.Errorf("write the list of archive entries to restore: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("write the list of archive entries to restore: %w", err)
	}
	return f.Name(), nil
}

// promote renames the verified database to the target's name (a scratch
// restore drops it instead).
func (r *restoreRun) promote(ctx context.Context) error {
	if r.o.scratch {
		r.res.Dropped = dropDatabase(r.admin, r.work, r.server.Major, r.o.Logger)
		r.res.Database = r.work
		return nil
	}
	db := r.tsrv.Database
	r.step("renaming " + r.work + " to " + db)
	if err := terminateSessions(ctx, r.admin, r.work); err != nil {
		return err
	}
	if _, err := r.admin.Exec(ctx, "ALTER DATABASE "+ident(r.work)+" RENAME TO "+ident(db)); err != nil {
		return fmt.Errorf("rename verified database %s to %s: %w", r.work, db, err)
	}
	r.res.Verify.Database = db
	return nil
}

// fail sets the database of a failed restore aside (a scratch one is
// dropped) and returns the *RestoreError that says so.
func (r *restoreRun) fail(err error) (*RestoreResult, error) {
	res := r.res
	res.Error = err.Error()
	res.Seconds = sinceSeconds(r.start)
	// The admin connection may be gone with what failed: clean up on a
	// fresh one, even when ctx was canceled.
	cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, cerr := connectMaintenance(cctx, r.tsrv)
	if cerr != nil {
		r.o.Logger.Error("cannot reach the server to set the failed restore aside", "database", r.work, "err", cerr)
		res.FailedDatabase = r.work
		return res, &RestoreError{Result: res, Phase: r.phase, Err: err}
	}
	defer conn.Close(context.Background())
	if r.o.scratch {
		res.Dropped = dropDatabase(conn, r.work, r.server.Major, r.o.Logger)
		if !res.Dropped {
			res.FailedDatabase = r.work
		}
	} else {
		res.FailedDatabase, res.Dropped = setAside(conn, r.work, failedName(r.tsrv.Database, r.id), r.server.Major, r.o.Logger)
	}
	return res, &RestoreError{Result: res, Phase: r.phase, Err: err}
}

// restoreTarget is the server and database to restore into.
func restoreTarget(srv *target.Server, m *archive.Manifest, o RestoreOptions) (*target.Server, error) {
	var t *target.Server
	if o.TargetURL != "" {
		var err error
		if t, err = target.FromURL(o.TargetURL, m.Database.Name); err != nil {
			return nil, fmt.Errorf("--target-url: %w", err)
		}
	} else {
		c := *srv
		t = &c
		t.Database = m.Database.Name
		if o.TargetDB != "" {
			t.Database = o.TargetDB
		}
	}
	if err := manifest.CheckIdentifier("target database", t.Database, manifest.MaxIdentifierLen); err != nil {
		return nil, err
	}
	return t, nil
}

// connectMaintenance connects to a database that is not the target: the
// target does not exist yet.
func connectMaintenance(ctx context.Context, srv *target.Server) (*pgx.Conn, error) {
	var firstErr error
	for _, db := range []string{"postgres", "template1"} {
		if db == srv.Database {
			continue
		}
		conn, err := srv.Connect(ctx, db)
		if err == nil {
			return conn, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, firstErr
}

// checkOwners refuses a restore whose objects belong to roles that neither
// exist on the target nor are saved in the backup: pg_restore would fail
// halfway on them.
func checkOwners(ctx context.Context, conn *pgx.Conn, restore tool, dumpDir string, g *archive.Globals) error {
	out, err := listTOC(ctx, restore.Path, dumpDir)
	if err != nil {
		return err
	}
	saved := map[string]bool{}
	for _, r := range g.Roles {
		saved[r.Name] = true
	}
	owners := map[string][]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, ";") || strings.HasSuffix(line, " ") {
			continue // comments, and entries without owner end with a space
		}
		f := strings.Fields(line)
		if len(f) < 5 || f[3] == "DATABASE" {
			continue // the database itself is not restored: Restore creates it
		}
		owner := f[len(f)-1]
		if !saved[owner] {
			owners[owner] = append(owners[owner], strings.Join(f[3:len(f)-1], " "))
		}
	}
	if len(owners) == 0 {
		return nil
	}
	have, err := existingRoles(ctx, conn, sortedKeys(owners))
	if err != nil {
		return err
	}
	var missing []string
	for _, o := range sortedKeys(owners) {
		if !have[o] {
			objs := owners[o]
			if len(objs) > 3 {
				objs = append(objs[:3:3], fmt.Sprintf("and %d more", len(owners[o])-3))
			}
			missing = append(missing, fmt.Sprintf("%s (owns %s)", o, strings.Join(objs, ", ")))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("objects in the backup belong to roles that are not service roles and do not exist on the target server: %s; create them there first (CREATE ROLE ...), then restore again. Nothing was changed",
		strings.Join(missing, "; "))
}

// createRoles creates, in one transaction, the saved roles missing on the
// target, with their attributes, password verifiers, cluster-wide settings,
// the memberships that concern them and the project mark provisioning
// gives them. Existing roles are left as they
// are.
func createRoles(ctx context.Context, conn *pgx.Conn, p *manifest.Project, g *archive.Globals, serverMajor int, o RestoreOptions, res *RestoreResult) error {
	var names []string
	for _, r := range g.Roles {
		names = append(names, r.Name)
	}
	have, err := existingRoles(ctx, conn, names)
	if err != nil {
		return err
	}
	appOf := map[string]string{}
	for _, s := range p.Services {
		appOf[p.AppRole(s.Name)] = s.Name
	}
	var stmts []string
	created := map[string]bool{}
	for _, r := range g.Roles {
		if have[r.Name] {
			res.RolesExisting = append(res.RolesExisting, r.Name)
			continue
		}
		verifier := r.Password
		if verifier == "" && r.Login && o.AppPassword != nil {
			if svc, ok := appOf[r.Name]; ok {
				pw, err := o.AppPassword(svc)
				if err != nil {
					return fmt.Errorf("password of role %s: %w", r.Name, err)
				}
				if pw != "" {
					if verifier, err = secrets.Verifier(pw); err != nil {
						return fmt.Errorf("password of role %s: %w", r.Name, err)
					}
				}
			}
		}
		sql, err := createRoleSQL(r, verifier)
		if err != nil {
			return err
		}
		// Marked as the restored database's project's, as provisioning
		// marks the roles it creates, so no other project adopts them.
		stmts = append(stmts, sql, "COMMENT ON ROLE "+pgsql.Ident(r.Name)+" IS "+pgsql.Literal(provision.RoleMark(res.Database)))
		created[r.Name] = true
	}
	if len(created) == 0 {
		return nil
	}
	others, err := existingRoles(ctx, conn, membershipRoles(g))
	if err != nil {
		return err
	}
	exists := func(r string) bool { return created[r] || have[r] || others[r] }
	for _, m := range g.Memberships {
		if !created[m.Role] && !created[m.Member] {
			continue
		}
		if !exists(m.Role) || !exists(m.Member) {
			o.Logger.Warn("membership not restored: a role is missing on the target", "role", m.Role, "member", m.Member)
			continue
		}
		stmts = append(stmts, grantMembershipSQL(m, serverMajor))
	}
	for _, s := range g.Settings {
		if s.Role == "" || s.InDatabase || !created[s.Role] {
			continue
		}
		sql, err := settingSQL(s, "")
		if err != nil {
			return err
		}
		stmts = append(stmts, sql)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("create roles: %w", err)
	}
	defer tx.Rollback(context.Background())
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return fmt.Errorf("create roles: %s: %w", redactPassword(s), err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("create roles: %w", err)
	}
	res.RolesCreated = sortedKeys(created)
	return nil
}

func membershipRoles(g *archive.Globals) []string {
	var out []string
	for _, m := range g.Memberships {
		out = append(out, m.Role, m.Member)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// redactPassword hides a PASSWORD literal in a statement for messages.
func redactPassword(sql string) string {
	if i := strings.Index(sql, " PASSWORD "); i >= 0 {
		return sql[:i] + " PASSWORD xxxxx"
	}
	return sql
}

// createDatabase creates db from template0 with the source's encoding and
// locale.
func createDatabase(ctx context.Context, conn *pgx.Conn, db string, src archive.DatabaseInfo, serverMajor int) error {
	sql := "CREATE DATABASE " + ident(db) + " TEMPLATE template0"
	add := func(key, value string) {
		if value != "" {
			sql += " " + key + " " + mustLiteral(value)
		}
	}
	add("ENCODING", src.Encoding)
	add("LC_COLLATE", src.Collate)
	add("LC_CTYPE", src.Ctype)
	if serverMajor >= 15 && src.LocaleProvider != "" {
		sql += " LOCALE_PROVIDER " + src.LocaleProvider
		switch src.LocaleProvider {
		case "icu":
			add("ICU_LOCALE", src.Locale)
		case "builtin":
			add("BUILTIN_LOCALE", src.Locale)
		}
	}
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("create database %s: %w", db, err)
	}
	return nil
}

// setAside renames a failed restore's database to name, after ending the
// sessions on it; when that cannot be done it drops it. It returns the
// name it has now, or whether it was dropped.
func setAside(conn *pgx.Conn, db, name string, serverMajor int, log *slog.Logger) (string, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = terminateSessions(ctx, conn, db)
	_, err := conn.Exec(ctx, "ALTER DATABASE "+ident(db)+" RENAME TO "+ident(name))
	if err == nil {
		return name, false
	}
	log.Warn("could not rename the failed database; dropping it", "database", db, "err", err)
	if dropDatabase(conn, db, serverMajor, log) {
		return "", true
	}
	return db, false
}

// failedName is <db>_failed_<id>, lower-case, at most 63 bytes.
func failedName(db, id string) string { return suffixed(db, "_failed_", id) }

// workName is <db>_restoring_<id>, the name a database has while it is
// restored.
func workName(db, id string) string { return suffixed(db, "_restoring_", id) }

func suffixed(db, tag, id string) string {
	suffix := tag + strings.ToLower(strings.ReplaceAll(id, "-", "_"))
	if len(db)+len(suffix) > manifest.MaxIdentifierLen {
		db = db[:manifest.MaxIdentifierLen-len(suffix)]
	}
	return db + suffix
}

// dropDatabase drops db, ending the sessions on it.
func dropDatabase(conn *pgx.Conn, db string, serverMajor int, log *slog.Logger) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sql := pgsql.DropDatabase(db, serverMajor)
	if serverMajor < 13 {
		_ = terminateSessions(ctx, conn, db)
	}
	if _, err := conn.Exec(ctx, sql); err != nil {
		log.Error("could not drop database", "database", db, "err", err)
		return false
	}
	return true
}

// TestRestore checks backup id as Check does and, when every file matches
// the manifest, restores it into a scratch database on srv, verifies it and
// drops it, whatever the outcome: every file is read once. The result's
// Restore tells how the restore went; a failed one also returns a
// *RestoreError. A damaged backup is not restored: the result says so.
func TestRestore(ctx context.Context, p *manifest.Project, srv *target.Server, id string, o RestoreOptions) (*CheckResult, error) {
	o.scratch = true
	o.TargetURL = ""
	o.TargetDB = "splitschema_restore_test"
	local, fetched, done, err := fetchIfRemote(ctx, p, id, o.Jobs, o.AllowUnsigned)
	var damaged *ProblemsError
	if errors.As(err, &damaged) && fetched != nil {
		return fetched, nil
	}
	if err != nil {
		return nil, err
	}
	defer done()
	var check *CheckResult
	rr, err := restore(ctx, local, srv, id, o, func(c *CheckResult) { check = c })
	if fetched != nil && check != nil {
		// What was checked is the store's copy, as it downloaded.
		check.Path, check.Warnings = fetched.Path, fetched.Warnings
	}
	switch {
	case check == nil:
		return nil, err
	case errors.As(err, &damaged):
		return check, nil
	}
	check.Restore = rr
	if err != nil {
		check.OK = false
	}
	return check, err
}

// maxListed is how many differences a failed restore's error lists; the
// result's verify section holds them all.
const maxListed = 10

// differs is the error of a restore whose verify found mismatches: how many,
// the first few one per line (each cut to a readable length), and where
// the rest are — never one line holding thousands of them.
func differs(mismatches []string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "the restored database differs from the backup in %d way%s:", len(mismatches), map[bool]string{true: "s"}[len(mismatches) != 1])
	for i, m := range mismatches {
		if i == maxListed {
			fmt.Fprintf(&b, "\n  … and %d more (all of them are in the result's verify section, e.g. with --json)", len(mismatches)-maxListed)
			break
		}
		if r := []rune(m); len(r) > 300 {
			m = string(r[:300]) + "…"
		}
		b.WriteString("\n  - " + m)
	}
	return errors.New(b.String())
}

// serviceWord is "service a" or "services a, b".
func serviceWord(services []string) string {
	if len(services) == 1 {
		return "service " + services[0]
	}
	return "services " + strings.Join(services, ", ")
}
