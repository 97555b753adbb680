package lint

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/migrate"
	"github.com/splitschema/splitschema/internal/pgsql"
	"github.com/splitschema/splitschema/internal/pipeline"
	"github.com/splitschema/splitschema/internal/target"
)

// scratch is a throwaway copy of the project: its own database and, since
// roles are cluster-wide, role names with a prefix of its own, so that
// lint never touches the project's real database or roles. Its folder
// holds a copy of the migrations and whatever provisioning writes there
// (secrets files), never the project's.
type scratch struct {
	p      *manifest.Project
	srv    *target.Server
	admin  *target.Server // the same server, for CREATE/DROP DATABASE
	prefix string
	dir    string
}

// newScratch prepares (but does not create) a scratch copy of p on srv.
func newScratch(p *manifest.Project, srv *target.Server) (*scratch, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	id := hex.EncodeToString(b[:])
	s := &scratch{prefix: "lint" + id[:6] + "_", admin: srv}
	settings := p.Settings
	settings.Database = "splitschema_lint_" + id
	settings.Naming.Prefix = s.prefix
	for _, svc := range p.Services {
		for _, role := range []string{settings.Naming.OwnerRole(svc.Name), settings.Naming.AppRole(svc.Name), settings.Naming.MigratorRole(svc.Name)} {
			if err := manifest.CheckIdentifier("role", role, manifest.MaxIdentifierLen); err != nil {
				return nil, fmt.Errorf("scratch role for service %s: %w (lint prefixes role names with %s)", svc.Name, err, s.prefix)
			}
		}
	}
	dir, err := os.MkdirTemp("", "splitschema-lint-")
	if err != nil {
		return nil, fmt.Errorf("scratch folder: %w", err)
	}
	s.dir = dir
	if err := copyTree(p.Path(migrate.MigrationsDir), filepath.Join(dir, migrate.MigrationsDir)); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("copy migrations to the scratch folder: %w", err)
	}
	cp := *p
	cp.Dir = dir
	cp.Settings = settings
	s.p = &cp
	sv := *srv
	sv.Database = settings.Database
	s.srv = &sv
	return s, nil
}

// drop removes the scratch database, the scratch roles and the scratch
// folder. It runs even when the context is cancelled.
func (s *scratch) drop(ctx context.Context, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	defer os.RemoveAll(s.dir)
	var conn *pgx.Conn
	var err error
	for _, db := range []string{"postgres", "template1", s.admin.Database} {
		if conn, err = s.admin.Connect(ctx, db); err == nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("drop scratch database %s: %w", s.srv.Database, err)
	}
	defer conn.Close(ctx)
	var errs []error
	major, _ := strconv.Atoi(strings.SplitN(conn.PgConn().ParameterStatus("server_version"), ".", 2)[0])
	if _, err := conn.Exec(ctx, pgsql.DropDatabase(s.srv.Database, major)); err != nil {
		errs = append(errs, fmt.Errorf("drop scratch database %s: %w", s.srv.Database, err))
	}
	rows, err := conn.Query(ctx, "SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1) ORDER BY rolname", s.prefix)
	if err != nil {
		errs = append(errs, fmt.Errorf("list scratch roles: %w", err))
		return errors.Join(errs...)
	}
	roles, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		errs = append(errs, fmt.Errorf("list scratch roles: %w", err))
	}
	for _, r := range roles {
		if _, err := conn.Exec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{r}.Sanitize()); err != nil {
			errs = append(errs, fmt.Errorf("drop scratch role %s: %w", r, err))
		}
	}
	log.Debug("dropped the scratch database", "database", s.srv.Database, "roles", len(roles))
	return errors.Join(errs...)
}

// copyTree copies the files under src to dst; a missing src copies nothing.
func copyTree(src, dst string) error {
	if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return os.CopyFS(dst, os.DirFS(src))
}

// dynamicChecks applies the project to a scratch database from empty,
// round-trips every service's migrations (down to 0 in reverse order, up
// again) and drops everything it created.
func dynamicChecks(ctx context.Context, p *manifest.Project, srv *target.Server, r *Report, log *slog.Logger) error {
	s, err := newScratch(p, srv)
	if err != nil {
		return err
	}
	defer func() {
		if err := s.drop(ctx, log); err != nil {
			r.add(Finding{Severity: Warning, Check: CheckScratch, Message: err.Error(),
				Hint: "drop it by hand; it is named splitschema_lint_*, its roles lint*_"})
		}
	}()
	log.Info("linting on a scratch database", "database", s.srv.Database, "server", srv.Addr())

	res, err := pipeline.Apply(ctx, s.p, s.srv, migrate.Options{Log: log})
	failed := map[string]bool{}
	switch {
	case res == nil && err != nil:
		r.add(Finding{Severity: Error, Check: CheckApply, Message: "apply on a scratch database failed: " + s.unprefix(err.Error())})
		return nil
	case res.Migrate != nil:
		for _, sr := range res.Migrate.Services {
			if sr.Error != nil {
				failed[sr.Service] = true
				r.addMigrationError(s, CheckApply, sr.Error)
			}
		}
	}
	r.Checked = append(r.Checked, "apply from empty")
	if res.Audit != nil {
		r.Checked = append(r.Checked, "isolation audit")
		if !res.Audit.OK {
			r.add(Finding{Severity: Error, Check: CheckAudit, Message: "the isolation audit after apply failed:\n" + s.unprefix(strings.TrimSpace(res.Audit.Human()))})
		}
	}

	down, err := migrate.DownTo(ctx, s.p, s.srv, 0, migrate.Options{Log: log})
	if down == nil {
		r.add(Finding{Severity: Error, Check: CheckRoundTrip, Message: "down to 0: " + s.unprefix(err.Error())})
		return nil
	}
	for _, sr := range down.Services {
		if sr.Error != nil {
			r.addMigrationError(s, CheckRoundTrip, sr.Error)
		}
	}
	if !down.OK {
		return nil // up again would only repeat what is reported
	}
	up, err := migrate.Up(ctx, s.p, s.srv, migrate.Options{Log: log})
	if up == nil {
		r.add(Finding{Severity: Error, Check: CheckRoundTrip, Message: "up again after down to 0: " + s.unprefix(err.Error())})
		return nil
	}
	for _, sr := range up.Services {
		if sr.Error != nil && !failed[sr.Service] {
			r.addMigrationError(s, CheckRoundTrip, sr.Error)
		}
	}
	r.Checked = append(r.Checked, "round trip (down to 0, up again)")
	return nil
}

// unprefix turns the scratch role names in a message back into the
// project's.
func (s *scratch) unprefix(msg string) string {
	return strings.ReplaceAll(msg, s.prefix, "")
}

// addMigrationError turns a failed migration into a finding. A failure in a
// statement the static checks found an error in is not repeated; a failure
// elsewhere in the same file is another mistake, and is reported.
func (r *Report) addMigrationError(s *scratch, check string, e *migrate.Error) {
	f := Finding{Severity: Error, Check: check, Service: e.Service, File: e.File, Line: e.Line, Hint: s.unprefix(e.Hint)}
	msg := e.Message
	if e.Code != "" {
		msg += " (SQLSTATE " + e.Code + ")"
	}
	if e.Detail != "" {
		msg += "\ndetail: " + e.Detail
	}
	where := "up"
	if e.Direction != "" {
		where = e.Direction
	}
	switch {
	case check == CheckRoundTrip && where == "down":
		msg = "rolling back failed: " + msg
	case check == CheckRoundTrip:
		msg = "applying again after rolling back to 0 failed (does the down section undo everything the up section does?): " + msg
	}
	if e.Statement != "" {
		msg += "\nstatement: " + describeStatement(e.Statement)
	}
	f.Message = s.unprefix(msg)
	switch {
	case e.Code == pgsql.InsufficientPrivilege && strings.Contains(e.Hint, "without a declared link"):
		f.Check = CheckUndeclaredLink
	case strings.Contains(e.Message, "splitschema guard:") || e.Code == pgsql.DependentObjectsStillExist && check == CheckApply:
		f.Check = CheckBreaks
	}
	if f.File != "" && check == CheckApply && r.staticError(f.File, f.Line) {
		return
	}
	r.add(f)
}
