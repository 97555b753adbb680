package pitr

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/pgsql"
)

// EnableOptions tune Enable.
type EnableOptions struct {
	// Restart allows restarting the cluster while other sessions are
	// connected (they are ended; committed work is never lost).
	Restart bool
	Logger  *slog.Logger
}

// EnableResult says what Enable did.
type EnableResult struct {
	Stanza    string   `json:"stanza"`
	Repo      string   `json:"repo"`
	Conf      string   `json:"conf"`
	Steps     []string `json:"steps"`
	Backup    *Backup  `json:"first_backup,omitempty"`
	Restarted bool     `json:"restarted"`
}

// Human renders the result.
func (r *EnableResult) Human() string {
	var b strings.Builder
	fmt.Fprintf(&b, "point-in-time recovery enabled: stanza %s, repository %s\n", r.Stanza, r.Repo)
	for _, s := range r.Steps {
		fmt.Fprintf(&b, "  - %s\n", s)
	}
	return b.String()
}

// Enable configures pgBackRest for the embedded cluster: its folders and
// configuration, archive_mode and archive_command (restarting the cluster
// when archive_mode must change), the stanza, pgBackRest's own check, and a
// first full backup when the repository has none. Running it again repairs
// what is missing and changes nothing else.
func (s *Setup) Enable(ctx context.Context, o EnableOptions) (*EnableResult, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	res := &EnableResult{Stanza: Stanza, Repo: s.Repo, Conf: s.Conf, Steps: []string{}}
	if _, err := LookPath(); err != nil {
		return nil, fmt.Errorf("pitr enable: %w", err)
	}
	if err := s.prepare(); err != nil {
		return nil, fmt.Errorf("pitr enable: %w", err)
	}
	if err := mkdirOwned(s.Repo, s.uid, s.gid); err != nil {
		return nil, fmt.Errorf("pitr enable: repository folder %s: %w", s.Repo, err)
	}
	if err := s.reachable(ctx, s.Repo); err != nil {
		return nil, fmt.Errorf("pitr enable: %w", err)
	}
	restart, err := s.configureArchiving(ctx, res)
	if err != nil {
		return nil, fmt.Errorf("pitr enable: %w", err)
	}
	if restart {
		if err := s.restart(ctx, o.Restart); err != nil {
			return nil, fmt.Errorf("pitr enable: %w", err)
		}
		res.Restarted = true
		res.Steps = append(res.Steps, "restarted the cluster for archive_mode")
	}
	if _, err := s.run(ctx, "stanza-create"); err != nil {
		return nil, fmt.Errorf("pitr enable: create stanza: %w", err)
	}
	res.Steps = append(res.Steps, "stanza "+Stanza+" created in "+s.Repo)
	if _, err := s.run(ctx, "check"); err != nil {
		return nil, fmt.Errorf("pitr enable: pgBackRest check (a WAL segment archived and found in the repository): %w", err)
	}
	res.Steps = append(res.Steps, "pgBackRest check passed: WAL reaches the repository")
	info, err := s.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("pitr enable: %w", err)
	}
	if len(info.Backups) == 0 {
		b, err := s.Backup(ctx, Full)
		if err != nil {
			return nil, fmt.Errorf("pitr enable: first full backup: %w", err)
		}
		res.Backup = b
		res.Steps = append(res.Steps, "first full backup "+b.Label)
	} else {
		res.Steps = append(res.Steps, fmt.Sprintf("repository already holds %d backup(s)", len(info.Backups)))
	}
	stamp := time.Now().UTC().Format(time.RFC3339) + "\n"
	if err := writeOwned(s.marker(), []byte(stamp), 0o644, s.uid, s.gid); err != nil {
		return nil, fmt.Errorf("pitr enable: %w", err)
	}
	return res, nil
}

// reachable checks that the server user can write dir.
func (s *Setup) reachable(ctx context.Context, dir string) error {
	if s.uid < 0 {
		return nil
	}
	cmd, err := s.cmd.Command(ctx, "test", "-w", dir, "-a", "-x", dir)
	if err != nil {
		return err
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("folder %s cannot be written by the server's OS user (uid %d): a parent folder is closed to it; set pitr.repo in splitschema.yaml to a folder outside it", dir, s.uid)
	}
	return nil
}

// setting is one server setting, as it runs and as it will after a restart.
type setting struct{ value, pending string }

// configureArchiving sets wal_level, archive_mode, archive_command and
// archive_timeout with ALTER SYSTEM and reloads. It returns whether a
// restart is needed for them to take effect.
func (s *Setup) configureArchiving(ctx context.Context, res *EnableResult) (bool, error) {
	conn, err := s.connect(ctx, "postgres")
	if err != nil {
		return false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	want := []struct{ name, value string }{
		{"archive_mode", "on"},
		{"archive_command", s.ArchiveCommand()},
		// While anything is written, a segment is archived at least this
		// often: what losing the server and its disk loses is at most that.
		{"archive_timeout", fmt.Sprintf("%ds", int(s.Project.Settings.PITR.ArchiveTimeout.Seconds()))},
	}
	if v, err := show(ctx, conn, "wal_level"); err != nil {
		return false, err
	} else if v == "minimal" {
		want = append(want, struct{ name, value string }{"wal_level", "replica"})
	}
	changed := false
	for _, w := range want {
		v, err := show(ctx, conn, w.name)
		if err != nil {
			return false, err
		}
		if v == w.value || (w.name == "archive_timeout" && sameDuration(v, w.value)) {
			continue
		}
		// ALTER SYSTEM takes no parameters: the value is a quoted literal.
		sql := "ALTER SYSTEM SET " + pgx.Identifier{w.name}.Sanitize() + " = " + quoteLiteral(w.value)
		if _, err := conn.Exec(ctx, sql); err != nil {
			return false, fmt.Errorf("set %s: %w", w.name, err)
		}
		res.Steps = append(res.Steps, fmt.Sprintf("%s set (ALTER SYSTEM)", w.name))
		changed = true
	}
	if changed {
		if _, err := conn.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
			return false, fmt.Errorf("reload the configuration: %w", err)
		}
		time.Sleep(200 * time.Millisecond) // the postmaster rereads on SIGHUP
	}
	var pending int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_catalog.pg_settings
		WHERE pending_restart AND name IN ('archive_mode', 'wal_level')`).Scan(&pending); err != nil {
		return false, fmt.Errorf("read pending settings: %w", err)
	}
	return pending > 0, nil
}

// restart stops and starts the cluster. Unless force is set it refuses
// while other client sessions are connected, as a fast shutdown ends them.
func (s *Setup) restart(ctx context.Context, force bool) error {
	if !force {
		conn, err := s.connect(ctx, "postgres")
		if err != nil {
			return err
		}
		var n int
		var who string
		err = conn.QueryRow(ctx, `SELECT count(*), coalesce(string_agg(DISTINCT usename || '@' || datname, ', '), '')
			FROM pg_catalog.pg_stat_activity
			WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`).Scan(&n, &who)
		conn.Close(context.WithoutCancel(ctx))
		if err != nil {
			return fmt.Errorf("count the other sessions: %w", err)
		}
		if n > 0 {
			return fmt.Errorf("archive_mode needs a restart, and %d other session(s) are connected (%s): stop them, or pass --restart to end them (committed work is kept)", n, who)
		}
	}
	if err := s.Cluster.Stop(ctx); err != nil {
		return fmt.Errorf("restart for archive_mode: %w", err)
	}
	if err := s.Cluster.Start(ctx); err != nil {
		return fmt.Errorf("restart for archive_mode: %w", err)
	}
	st, err := s.Cluster.Status(ctx)
	if err != nil {
		return err
	}
	if st.Port != s.Port {
		s.Port = st.Port
		return s.prepare()
	}
	return nil
}

// connect opens an admin connection to db on the embedded cluster.
func (s *Setup) connect(ctx context.Context, db string) (*pgx.Conn, error) {
	u, err := s.Cluster.AdminURL()
	if err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(u)
	if err != nil {
		return nil, fmt.Errorf("embedded cluster url does not parse")
	}
	cfg.Database = db
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s on the embedded cluster: %w", db, err)
	}
	return conn, nil
}

func show(ctx context.Context, conn *pgx.Conn, name string) (string, error) {
	var v string
	if err := conn.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&v); err != nil {
		return "", fmt.Errorf("read setting %s: %w", name, err)
	}
	return v, nil
}

// quoteLiteral quotes s as an SQL string literal (pgsql.Literal).
func quoteLiteral(s string) string { return pgsql.Literal(s) }

// sameDuration compares two settings in time units, such as "1min" as
// SHOW prints it and "60s".
func sameDuration(shown, want string) bool {
	norm := strings.NewReplacer("min", "m", "ms", "ms")
	a, err1 := time.ParseDuration(norm.Replace(shown))
	b, err2 := time.ParseDuration(want)
	return err1 == nil && err2 == nil && a == b
}
