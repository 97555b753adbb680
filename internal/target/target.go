// Package target decides which PostgreSQL server and database splitschema
// works on: --database-url, else the libpq PG* variables, else the embedded
// local cluster, which it starts on demand.
package target

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/localpg"
)

// Server is an admin connection's settings on the chosen server.
type Server struct {
	// Config connects as the admin to Database.
	config *pgx.ConnConfig
	// Database is the project database on that server.
	Database string
	// Source says where the settings came from, for messages.
	Source string
	// BinDir, when known, holds the server's own client tools (pg_dump...).
	BinDir string
	// tls are the connection's TLS settings (tls.go), passed on exactly to
	// client tools and service URLs.
	tls map[string]string
}

// SourceEmbedded is the Source of the embedded cluster, the one server
// that is the toolkit's own (it made it with initdb under .splitschema/).
const SourceEmbedded = "embedded cluster"

// Embedded reports whether s is the embedded cluster.
func (s *Server) Embedded() bool { return s.Source == SourceEmbedded }

// Options are the inputs Resolve chooses from.
type Options struct {
	// URL is --database-url or DATABASE_URL; empty when not given.
	URL string
	// ProjectDir holds .splitschema/, the embedded cluster's state.
	ProjectDir string
	// DefaultDatabase is the project's database (splitschema.yaml
	// database:); it is used when the URL or PGDATABASE names none.
	DefaultDatabase string
	// AllowOtherDatabase lets the URL or PGDATABASE name another database
	// than DefaultDatabase and work on that one. Without it, such a URL is
	// refused with an *OtherDatabaseError: the URL names the server, the
	// project names the database.
	AllowOtherDatabase bool
	// ServerBinDir, when set, holds the embedded cluster's server
	// programs (--server-bindir); else localpg.FindBinaries finds them.
	ServerBinDir string
	Logger       *slog.Logger
}

// OtherDatabaseError is returned by Resolve when the URL (or PGDATABASE)
// names another database than the project's.
type OtherDatabaseError struct {
	// Source is "--database-url" or "PGDATABASE".
	Source string
	// Named is the database the URL names; Project the project's.
	Named, Project string
}

func (e *OtherDatabaseError) Error() string {
	return fmt.Sprintf("%s names database %q, but the project's database (splitschema.yaml database:) is %q: "+
		"the URL names the server, the project names the database. "+
		"Point the URL at /%s (or at no database), or give --use-url-database to work on %q on purpose",
		e.Source, e.Named, e.Project, e.Project, e.Named)
}

// checkDatabase applies the one rule for every command: a database named by
// the URL must be the project's unless o.AllowOtherDatabase.
func (o Options) checkDatabase(source, named string) (string, error) {
	switch {
	case named == "":
		return o.DefaultDatabase, nil
	case o.DefaultDatabase == "" || named == o.DefaultDatabase || o.AllowOtherDatabase:
		return named, nil
	}
	return "", &OtherDatabaseError{Source: source, Named: named, Project: o.DefaultDatabase}
}

// pgEnvVars are the libpq variables that select a server; any of them set
// means the user chose a server through the environment.
var pgEnvVars = []string{"PGHOST", "PGHOSTADDR", "PGPORT", "PGUSER", "PGDATABASE", "PGSERVICE", "PGPASSWORD"}

// Resolve picks the server. With neither a URL nor PG* variables it starts
// the embedded cluster under ProjectDir.
func Resolve(ctx context.Context, o Options) (*Server, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.URL != "" {
		cfg, err := pgx.ParseConfig(o.URL)
		if err != nil {
			return nil, fmt.Errorf("--database-url: %s", Redact(err.Error()))
		}
		db, err := o.checkDatabase("--database-url", databaseInURL(o.URL))
		if err != nil {
			return nil, err
		}
		return newServer(cfg, o.URL, db, "--database-url", ""), nil
	}
	for _, v := range pgEnvVars {
		if os.Getenv(v) != "" {
			cfg, err := pgx.ParseConfig("")
			if err != nil {
				return nil, fmt.Errorf("PG* environment: %s", Redact(err.Error()))
			}
			db, err := o.checkDatabase("PGDATABASE", os.Getenv("PGDATABASE"))
			if err != nil {
				return nil, err
			}
			return newServer(cfg, "", db, "PG* environment", ""), nil
		}
	}
	var opts []localpg.Option
	if o.ServerBinDir != "" {
		opts = append(opts, localpg.WithBinDir(o.ServerBinDir))
	}
	cl, err := localpg.New(o.ProjectDir, o.Logger, opts...)
	if err != nil {
		return nil, err
	}
	if err := cl.Start(ctx); err != nil {
		return nil, err
	}
	admin, err := cl.AdminURL()
	if err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(admin)
	if err != nil {
		return nil, fmt.Errorf("embedded cluster url: %s", Redact(err.Error()))
	}
	return newServer(cfg, admin, o.DefaultDatabase, SourceEmbedded, cl.Binaries().Dir), nil
}

// FromURL makes a Server from an admin URL, for tests and --target-url:
// the database the URL names, if any, is the one worked on.
func FromURL(rawURL, defaultDatabase string) (*Server, error) {
	return Resolve(context.Background(), Options{URL: rawURL, DefaultDatabase: defaultDatabase, AllowOtherDatabase: true})
}

// newServer makes a Server of cfg, parsed from connString ("" for the
// environment alone).
func newServer(cfg *pgx.ConnConfig, connString, db, source, binDir string) *Server {
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["application_name"] = "splitschema"
	return &Server{config: cfg, Database: db, Source: source, BinDir: binDir, tls: tlsSettings(connString)}
}

// databaseInURL returns the database a postgres:// URL names, or "".
func databaseInURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// A keyword/value string: dbname=... is honoured by pgx itself.
		for f := range strings.FieldsSeq(raw) {
			if v, ok := strings.CutPrefix(f, "dbname="); ok {
				return v
			}
		}
		return ""
	}
	if db := strings.TrimPrefix(u.Path, "/"); db != "" {
		return db
	}
	return u.Query().Get("dbname")
}

// Config returns a copy of the admin connection settings for database db.
func (s *Server) Config(db string) *pgx.ConnConfig {
	c := s.config.Copy()
	c.Database = db
	return c
}

// Connect opens an admin connection to database db.
func (s *Server) Connect(ctx context.Context, db string) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, s.Config(db))
	if err != nil {
		return nil, fmt.Errorf("connect to database %s on %s (%s): %w", db, s.Addr(), s.Source, redacted{err})
	}
	return conn, nil
}

// Addr is host:port of the server, for messages.
func (s *Server) Addr() string {
	return fmt.Sprintf("%s:%d", s.config.Host, s.config.Port)
}

// Host and Port are where a service's application connects too.
func (s *Server) Host() string { return s.config.Host }

// Port is the server's port.
func (s *Server) Port() uint16 { return s.config.Port }

// User is the admin role name.
func (s *Server) User() string { return s.config.User }

// Password is the admin password, for handing to pg_dump through its
// environment; it is never to be printed.
func (s *Server) Password() string { return s.config.Password }

// URL renders an admin URL for database db, password included: it is for
// programs and files of mode 0600, never for a log line (see Redact).
func (s *Server) URL(db string) string {
	return buildURL(s.config.Host, s.config.Port, s.config.User, s.config.Password, db, s.tlsQuery())
}

// RoleURL is the URL with which role logs in to the project database
// (Database) on this server, over the same host, port and TLS settings as
// the admin: a service's connection URL.
func (s *Server) RoleURL(role, password string) string {
	return buildURL(s.config.Host, s.config.Port, role, password, s.Database, s.tlsQuery())
}

// buildURL builds a postgres:// URL; over TCP it carries the TLS settings
// tls.
func buildURL(host string, port uint16, user, password, db string, tls url.Values) string {
	u := url.URL{Scheme: "postgres", Path: "/" + db}
	if password != "" {
		u.User = url.UserPassword(user, password)
	} else {
		u.User = url.User(user)
	}
	if strings.HasPrefix(host, "/") {
		q := url.Values{"host": {host}, "port": {fmt.Sprint(port)}}
		u.RawQuery = q.Encode()
	} else {
		u.Host = fmt.Sprintf("%s:%d", host, port)
		u.RawQuery = tls.Encode()
	}
	return u.String()
}

// ClientEnv returns the libpq environment that points a client tool
// (pg_dump, pg_restore, psql) at database db, password included, so that
// it never appears in argv, and the connection's TLS settings exactly:
// sslmode prefer stays prefer, verify-full stays verify-full with its
// sslrootcert.
func (s *Server) ClientEnv(db string) []string {
	env := []string{
		"PGHOST=" + s.config.Host,
		fmt.Sprintf("PGPORT=%d", s.config.Port),
		"PGUSER=" + s.config.User,
		"PGDATABASE=" + db,
		"PGAPPNAME=splitschema",
	}
	if s.config.Password != "" {
		env = append(env, "PGPASSWORD="+s.config.Password)
	}
	return append(env, s.tlsEnv()...)
}

// ToolEnv is the whole environment to run a client tool on database db
// with: this process's, without its own PG* variables (a PGSERVICE or
// PGSSLROOTCERT meant for another server must not leak in), plus ClientEnv.
func (s *Server) ToolEnv(db string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	return append(env, s.ClientEnv(db)...)
}
