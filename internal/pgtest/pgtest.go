// Package pgtest gives tests a real PostgreSQL server: one throwaway cluster
// per test binary, started through internal/localpg on first use, and a fresh
// database per test, dropped when the test ends.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		url := pgtest.NewDatabase(t) // superuser URL of a new, empty database
//		...
//	}
//
// Roles are cluster-wide, and each test binary (so each package) has its own
// cluster, so packages may create roles while running in parallel; tests of
// one package that create roles must use names that do not collide.
//
// The cluster trades durability for speed (fsync off) and lives in a
// temporary folder removed at exit. It works as root (the server then runs as
// the postgres system user) and as an ordinary user. Without PostgreSQL
// binaries Main fails, saying what to install: tests never skip silently.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/splitschema/splitschema/internal/localpg"
	"github.com/splitschema/splitschema/internal/pgsql"
)

// ServerInfo describes the test binary's cluster.
type ServerInfo struct {
	// URL is the superuser's URL of the maintenance database "postgres",
	// over TCP with scram-sha-256. It holds the password.
	URL string
	// Binaries are the cluster's programs: Binaries.Path("pg_dump") is a
	// pg_dump of the server's version.
	Binaries localpg.Binaries

	cluster *localpg.Cluster
}

// ClientEnv returns base without its PG* variables plus libpq variables that
// connect psql, pg_dump or pg_restore to the server as the superuser, with
// the password in a 0600 file, not on the command line. Append
// PGDATABASE=name to pick a database.
func (s *ServerInfo) ClientEnv(tb testing.TB, base []string) []string {
	tb.Helper()
	env, err := s.cluster.ClientEnv(base)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	return env
}

// ClientProgram returns the path of the named client program (pg_dump,
// pg_restore, psql) to use against the server: Binaries.Path(name), when it
// is at least the server's major version. pg_dump refuses a newer server,
// and the server packages make test-matrix runs (see README, "PostgreSQL
// versions") hold no client programs, so on such a server the test is
// skipped, saying which program of which version is missing.
func (s *ServerInfo) ClientProgram(tb testing.TB, name string) string {
	tb.Helper()
	path := s.Binaries.Path(name)
	full, major, err := localpg.ProgramVersion(context.Background(), path)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	if major < s.Binaries.Version {
		tb.Skipf("pgtest: needs %s of PostgreSQL %d or newer against the server, PostgreSQL %s (%s); the one found is %s (%s)",
			name, s.Binaries.Version, s.Binaries.FullVersion, s.Binaries.Dir, full, path)
	}
	return path
}

var (
	mu       sync.Mutex
	inMain   bool
	started  bool
	server   *ServerInfo
	startErr error
	tmpDir   string
	watchdog *exec.Cmd

	dbSeq atomic.Int64
)

// Main runs the tests of a package and removes the cluster when they are
// done. Call it from TestMain. It fails at once when no PostgreSQL binaries
// are installed; the cluster itself starts when a test first needs it.
func Main(m *testing.M) {
	os.Exit(Run(m))
}

// Run is Main without the exit: it returns the tests' exit code, for a
// TestMain that sets up more around it (s3test.Around).
func Run(m *testing.M) int {
	if _, err := localpg.FindBinaries(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		return 1
	}
	mu.Lock()
	inMain = true
	mu.Unlock()
	code := m.Run()
	if err := shutdown(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Server returns the test binary's cluster, starting it on first use.
func Server(tb testing.TB) *ServerInfo {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	if !inMain {
		tb.Fatal("pgtest: the package has no TestMain calling pgtest.Main(m)")
	}
	if !started {
		started = true
		server, startErr = startServer()
	}
	if startErr != nil {
		tb.Fatalf("pgtest: %v", startErr)
	}
	return server
}

func startServer() (*ServerInfo, error) {
	dir, err := os.MkdirTemp("", "splitschema-pgtest-")
	if err != nil {
		return nil, err
	}
	tmpDir = dir
	// As root the server runs as another user: it must get through to
	// server/, but nothing else here concerns it.
	if err := os.Chmod(dir, 0o711); err != nil {
		return nil, err
	}
	project := filepath.Join(dir, "project")
	if err := os.Mkdir(project, 0o700); err != nil {
		return nil, err
	}
	c, err := localpg.New(project, nil, localpg.WithRuntimeDir(filepath.Join(dir, "server")), localpg.Ephemeral())
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	st, err := c.Status(ctx)
	if err != nil {
		return nil, err
	}
	startWatchdog(st.PID, dir)
	u, err := c.AdminURL()
	if err != nil {
		return nil, err
	}
	s := &ServerInfo{URL: u, Binaries: c.Binaries(), cluster: c}
	// The tests reach this cluster by URL, not as the embedded cluster,
	// whose provisioning takes CONNECT on the maintenance databases from
	// PUBLIC: do the same here, so that it is the toolkit's own cluster as
	// users have it and audits start clean.
	if err := s.exec(ctx, "REVOKE CONNECT ON DATABASE postgres, template1 FROM PUBLIC"); err != nil {
		return nil, fmt.Errorf("revoke CONNECT on the maintenance databases: %w", err)
	}
	return s, nil
}

// startWatchdog starts a shell, in its own session, that stops the server and
// removes dir should this process die without running shutdown (a panic, a
// -timeout, a Ctrl-C). It is best effort: without /bin/sh there is none.
func startWatchdog(serverPID int, dir string) {
	const script = `while kill -0 "$1" 2>/dev/null; do sleep 1; done
kill -INT "$2" 2>/dev/null
i=0; while kill -0 "$2" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.2; i=$((i+1)); done
rm -rf "$3"`
	cmd := exec.Command("/bin/sh", "-c", script, "pgtest-watchdog",
		strconv.Itoa(os.Getpid()), strconv.Itoa(serverPID), dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err == nil {
		watchdog = cmd
	}
}

// shutdown stops the server and removes its folder.
func shutdown() error {
	mu.Lock()
	defer mu.Unlock()
	var errs []error
	if server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := server.cluster.Destroy(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if watchdog != nil {
		// Its own session: kill the shell and its sleep together.
		syscall.Kill(-watchdog.Process.Pid, syscall.SIGKILL)
		watchdog.Wait()
	}
	if tmpDir != "" {
		if err := os.RemoveAll(tmpDir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// NewDatabase creates an empty database named after the test
// (t_<test name>_<n>) and returns the superuser's URL of it. The database is
// dropped, with any session still connected to it, when the test ends.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	s := Server(tb)
	name := databaseName(tb.Name(), dbSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		tb.Fatalf("pgtest: create database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.exec(ctx, pgsql.DropDatabase(name, s.Binaries.Version)); err != nil {
			tb.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(s.URL)
	if err != nil {
		tb.Fatalf("pgtest: admin url: %v", err) // url.Error would hold the password; it cannot happen for ours
	}
	u.Path = "/" + name
	return u.String()
}

// exec runs one statement on the maintenance database, retrying while
// template1 or the database is briefly in use.
func (s *ServerInfo) exec(ctx context.Context, sql string) error {
	for attempt := 1; ; attempt++ {
		err := s.exec1(ctx, sql)
		var pgErr *pgconn.PgError
		if err == nil || attempt == 5 || !errors.As(err, &pgErr) || pgErr.Code != pgsql.ObjectInUse {
			return err
		}
		time.Sleep(time.Duration(attempt) * 100 * time.Millisecond)
	}
}

func (s *ServerInfo) exec1(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, s.URL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

var (
	notIdent  = regexp.MustCompile(`[^a-z0-9]+`)
	validName = regexp.MustCompile(`^t_[a-z0-9_]{1,61}$`)
)

// databaseName turns a test name and a sequence number into a valid, unique
// database name of at most 63 bytes.
func databaseName(testName string, n int64) string {
	base := strings.Trim(notIdent.ReplaceAllString(strings.ToLower(testName), "_"), "_")
	suffix := "_" + strconv.FormatInt(n, 10)
	if max := 63 - len("t_") - len(suffix); len(base) > max {
		base = strings.TrimRight(base[:max], "_")
	}
	name := "t_" + base + suffix
	if !validName.MatchString(name) {
		panic(fmt.Sprintf("pgtest: made invalid database name %q", name))
	}
	return name
}
