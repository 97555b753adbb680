package provision

import (
	"cmp"
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/pgsql"
	"github.com/splitschema/splitschema/internal/secrets"
	"github.com/splitschema/splitschema/internal/target"
)

// LockKey is the transaction advisory lock that serializes the first
// provisionings of a database, before the toolkit's table of services
// exists (see lockProvision).
var LockKey = func() int64 {
	h := fnv.New64a()
	h.Write([]byte("splitschema provision"))
	return int64(h.Sum64())
}()

// Apply computes the plan and applies it in one transaction under the
// provisioning lock (lockProvision); it returns what it did. The database is created first when
// missing (CREATE DATABASE cannot run in a transaction; a concurrent creator
// is fine). A second run, or a concurrent one that waited for the lock,
// finds nothing to do. Passwords it sets are written to the services'
// secrets files once the transaction commits.
func Apply(ctx context.Context, p *manifest.Project, srv *target.Server, log *slog.Logger) (*Changeset, error) {
	return ApplyWith(ctx, p, srv, log, Options{})
}

// ApplyWith is Apply with options.
func ApplyWith(ctx context.Context, p *manifest.Project, srv *target.Server, log *slog.Logger, opts Options) (*Changeset, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := checkOptions(p, opts); err != nil {
		return nil, err
	}
	createdDB, err := ensureDatabase(ctx, p, srv, opts, log)
	if err != nil {
		return nil, err
	}
	conn, err := srv.Connect(ctx, srv.Database)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := lockProvision(ctx, conn, cmp.Or(opts.LockWait, p.Settings.ToolkitLockWait, LockWait))
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	cs, err := compute(ctx, tx, p, srv, opts, false, true)
	if err != nil {
		return nil, err
	}
	if err := checkInput(cs); err != nil {
		return nil, err
	}
	var staged []*secrets.Staged
	defer func() {
		for _, st := range staged {
			st.Discard() // a no-op once committed
		}
	}()
	for _, c := range cs.Changes {
		sql := c.SQL
		if c.run != "" {
			sql = c.run
		}
		if c.password != nil {
			st, withPassword, err := stagePassword(conn, p, srv, c)
			if err != nil {
				return nil, err
			}
			staged = append(staged, st)
			sql = withPassword
		}
		log.Debug("provision", "service", c.Service, "sql", c.SQL)
		if _, err := tx.Exec(ctx, sql, c.args...); err != nil {
			// c.SQL, never sql: that one may hold a password verifier.
			return nil, fmt.Errorf("provision: %s: %w", c.SQL, err)
		}
	}
	more, err := stageEnvPasswords(p, srv, cs)
	staged = append(staged, more...)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("provision: commit: %w", err)
	}
	// The lock went with the commit. A run that takes it now reads the
	// catalog first, which takes far longer than these renames; and if it
	// did read a secrets file before its rename, it would only set the
	// role's password again, from the file it read.
	for _, st := range staged {
		if err := st.Commit(); err != nil {
			return nil, fmt.Errorf("provision: the changes are committed, but: %w", err)
		}
	}
	cs.Applied, cs.Pending = true, 0
	if createdDB {
		cs.Changes = append([]Change{{Action: ActionCreateDatabase, SQL: "CREATE DATABASE " + ident(srv.Database)}}, cs.Changes...)
	}
	log.Info("provisioned", "database", srv.Database, "changes", len(cs.Changes))
	return cs, nil
}

// ensureDatabase creates the project database when it does not exist, after
// checking every mistake that can be found before it exists. It tolerates a
// concurrent creator.
func ensureDatabase(ctx context.Context, p *manifest.Project, srv *target.Server, opts Options, log *slog.Logger) (created bool, err error) {
	conn, missing, err := connectProject(ctx, srv)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if !missing {
		return false, nil
	}
	cs, err := compute(ctx, conn, p, srv, opts, true, false)
	if err != nil {
		return false, err
	}
	if err := checkInput(cs); err != nil {
		return false, err
	}
	log.Info("creating database", "database", srv.Database)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+ident(srv.Database))
	switch {
	case pgsql.IsCode(err, pgsql.DuplicateDatabase, pgsql.UniqueViolation):
		// duplicate_database, or, when both commit at once, the unique
		// index on pg_database: a concurrent run made it.
		return false, nil
	case err != nil:
		return false, fmt.Errorf("provision: CREATE DATABASE %s: %w", ident(srv.Database), err)
	}
	return true, nil
}

// stagePassword computes the SCRAM verifier of a change's password, returns
// the statement that sets it, and stages the service's secrets file. The
// password itself never reaches the server, a log or an error.
func stagePassword(conn *pgx.Conn, p *manifest.Project, srv *target.Server, c Change) (*secrets.Staged, string, error) {
	pw := c.password
	verifier, err := secrets.Verifier(pw.value)
	if err != nil {
		return nil, "", fmt.Errorf("service %s: %w", pw.service, err)
	}
	lit, err := conn.PgConn().EscapeString(verifier)
	if err != nil {
		return nil, "", fmt.Errorf("service %s: quote the password verifier: %w", pw.service, err)
	}
	sql := strings.Replace(c.SQL, "PASSWORD '***'", "PASSWORD '"+lit+"'", 1)
	st, err := secrets.Stage(p.Dir, pw.service, srv.RoleURL(p.AppRole(pw.service), pw.value), verifier)
	if err != nil {
		return nil, "", err
	}
	return st, sql, nil
}

// stageEnvPasswords writes the secrets file of services whose password comes
// from SPLITSCHEMA_PASSWORD_<SVC>, already set, when the file is missing or
// holds another one, so that `url` and `audit` work without the variable.
func stageEnvPasswords(p *manifest.Project, srv *target.Server, cs *Changeset) ([]*secrets.Staged, error) {
	set := map[string]bool{}
	for _, c := range cs.Changes {
		if c.password != nil {
			set[c.password.service] = true
		}
	}
	var out []*secrets.Staged
	for _, svc := range p.Services {
		pw, src, err := secrets.Lookup(p.Dir, svc.Name)
		if set[svc.Name] || err != nil || src != secrets.FromEnv {
			continue
		}
		if have, err := secrets.FilePassword(p.Dir, svc.Name); err == nil && have == pw {
			continue
		}
		st, err := secrets.Stage(p.Dir, svc.Name, srv.RoleURL(p.AppRole(svc.Name), pw), "")
		if err != nil {
			return out, err
		}
		out = append(out, st)
	}
	return out, nil
}
