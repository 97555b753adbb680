package localpg

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// newCluster returns the cluster of dir, destroyed when the test ends.
func newCluster(t *testing.T, dir string, opts ...Option) *Cluster {
	t.Helper()
	c, err := New(dir, slog.New(slog.NewTextHandler(t.Output(), nil)), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Destroy(context.Background()); err != nil {
			t.Errorf("destroy: %v", err)
		}
	})
	return c
}

func mustConnect(t *testing.T, ctx context.Context, connString string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func mustStatus(t *testing.T, ctx context.Context, c *Cluster) Status {
	t.Helper()
	s, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("mode of %s = %v, want %v", path, got, want)
	}
}

// TestLifecycle runs one cluster through everything: concurrent first start,
// idempotent start, logins, permissions, stop, restart on a taken port, crash
// recovery and destroy.
func TestLifecycle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	c := newCluster(t, dir)

	if s := mustStatus(t, ctx, c); s.Initialized || s.Running {
		t.Fatalf("status before start = %+v, want neither initialized nor running", s)
	}
	if _, err := c.AdminURL(); !errors.Is(err, ErrNotInitialized) {
		t.Fatalf("AdminURL before start: err = %v, want ErrNotInitialized", err)
	}

	// Two processes (here two Cluster values) starting at once: one creates
	// and starts it, the other finds it running.
	c2, err := New(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, cl := range []*Cluster{c, c2} {
		wg.Go(func() { errs[i] = cl.Start(ctx) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent start %d: %v", i, err)
		}
	}
	s := mustStatus(t, ctx, c)
	if !s.Initialized || !s.Running || s.PID == 0 || s.Port == 0 {
		t.Fatalf("status after start = %+v", s)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatalf("second start: %v", err)
	}
	if s2 := mustStatus(t, ctx, c); s2.PID != s.PID || s2.Port != s.Port {
		t.Errorf("second start changed pid/port: %d/%d -> %d/%d", s.PID, s.Port, s2.PID, s2.Port)
	}

	t.Run("permissions", func(t *testing.T) {
		checkMode(t, c.stateDir, 0o700)
		checkMode(t, c.passwordPath(), 0o600)
		checkMode(t, c.pgpassPath(), 0o600)
		checkMode(t, c.statePath(), 0o600)
		checkMode(t, c.dataDir, 0o700)
		checkMode(t, c.socketDir, 0o700)
		if c.root {
			fi, err := os.Stat(c.dataDir)
			if err != nil {
				t.Fatal(err)
			}
			if uid := fi.Sys().(*syscall.Stat_t).Uid; uid == 0 {
				t.Errorf("data dir owned by root, want the server user")
			}
			if got := processUID(t, s.PID); got == 0 {
				t.Errorf("server runs as root")
			}
		}
	})

	adminURL, err := c.AdminURL()
	if err != nil {
		t.Fatal(err)
	}
	t.Run("scram over tcp", func(t *testing.T) {
		conn := mustConnect(t, ctx, adminURL)
		var enc, hash string
		if err := conn.QueryRow(ctx, "SELECT current_setting('password_encryption'), rolpassword FROM pg_authid WHERE rolname = $1", AdminUser).Scan(&enc, &hash); err != nil {
			t.Fatal(err)
		}
		if enc != "scram-sha-256" || !strings.HasPrefix(hash, "SCRAM-SHA-256$") {
			t.Errorf("password_encryption = %q, stored hash prefix %q; want scram-sha-256", enc, hash[:min(len(hash), 14)])
		}
		var addr string
		if err := conn.QueryRow(ctx, "SELECT host(inet_server_addr())").Scan(&addr); err != nil {
			t.Fatal(err)
		}
		if addr != "127.0.0.1" {
			t.Errorf("server address = %q, want 127.0.0.1", addr)
		}

		u, _ := url.Parse(adminURL)
		u.User = url.UserPassword(AdminUser, "wrong")
		_, err := pgx.Connect(ctx, u.String())
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "28P01" {
			t.Errorf("wrong password: err = %v, want invalid_password (28P01)", err)
		}
		if strings.Contains(err.Error(), mustPassword(t, c)) {
			t.Errorf("error shows the password")
		}
	})

	t.Run("unix socket", func(t *testing.T) {
		cs := "host=" + s.SocketDir + " port=" + strconv.Itoa(s.Port) + " user=" + AdminUser + " dbname=postgres password=" + mustPassword(t, c)
		conn := mustConnect(t, ctx, cs)
		if err := conn.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		_, err := pgx.Connect(ctx, "host="+s.SocketDir+" port="+strconv.Itoa(s.Port)+" user="+AdminUser+" dbname=postgres password=wrong")
		if err == nil {
			t.Errorf("socket login with a wrong password succeeded")
		}
	})

	t.Run("psql with ClientEnv", func(t *testing.T) {
		env, err := c.ClientEnv(append(os.Environ(), "PGPASSWORD=wrong", "PGHOST=/nowhere"))
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.CommandContext(ctx, c.Binaries().Path("psql"), "-XtAc", "SELECT 40 + 2")
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("psql: %v: %s", err, out)
		}
		if got := strings.TrimSpace(string(out)); got != "42" {
			t.Errorf("psql printed %q, want 42", got)
		}
		for _, kv := range env {
			if strings.Contains(kv, mustPassword(t, c)) {
				t.Errorf("environment holds the password: %s", strings.SplitN(kv, "=", 2)[0])
			}
		}
	})

	conn := mustConnect(t, ctx, adminURL)
	if _, err := conn.Exec(ctx, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)

	if err := c.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if s := mustStatus(t, ctx, c); s.Running {
		t.Fatalf("running after stop: %+v", s)
	}
	if err := c.Stop(ctx); err != nil {
		t.Fatalf("second stop: %v", err)
	}

	// Something else takes the recorded port while the cluster is down.
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := c.Start(ctx); err != nil {
		t.Fatalf("start on a taken port: %v", err)
	}
	s3 := mustStatus(t, ctx, c)
	if s3.Port == s.Port || !s3.Running {
		t.Fatalf("status after start on taken port %d = %+v, want another port", s.Port, s3)
	}
	if st, err := c.readState(); err != nil || st.Port != s3.Port {
		t.Errorf("recorded port = %d (%v), want %d", st.Port, err, s3.Port)
	}
	checkKept(t, ctx, c)

	// Crash: kill the postmaster without a shutdown, then start again.
	if err := syscall.Kill(s3.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return processState(s3.PID) != "running" })
	if s := mustStatus(t, ctx, c); s.Running {
		t.Fatalf("status after SIGKILL says running: %+v", s)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatalf("start after crash: %v", err)
	}
	s4 := mustStatus(t, ctx, c)
	if !s4.Running || s4.PID == s3.PID {
		t.Fatalf("status after crash restart = %+v", s4)
	}
	checkKept(t, ctx, c)

	if err := c.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{c.stateDir, c.dataDir, c.socketDir} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there after destroy (%v)", p, err)
		}
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("project folder gone after destroy: %v", err)
	}
}

func checkKept(t *testing.T, ctx context.Context, c *Cluster) {
	t.Helper()
	u, err := c.AdminURL()
	if err != nil {
		t.Fatal(err)
	}
	conn := mustConnect(t, ctx, u)
	var v int
	if err := conn.QueryRow(ctx, "SELECT v FROM kept").Scan(&v); err != nil {
		t.Fatalf("read kept row: %v", err)
	}
	if v != 42 {
		t.Errorf("kept row = %d, want 42", v)
	}
	conn.Close(ctx)
}

func mustPassword(t *testing.T, c *Cluster) string {
	t.Helper()
	pw, err := c.password(false)
	if err != nil {
		t.Fatal(err)
	}
	return pw
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// processUID reads the real uid of pid from /proc.
func processUID(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" {
			uid, _ := strconv.Atoi(f[1])
			return uid
		}
	}
	t.Fatalf("no Uid in /proc/%d/status", pid)
	return -1
}

// processAlive tells whether pid is a live process (a zombie counts as gone).
func processAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err == nil && !strings.Contains(string(b), ") Z ")
}

// TestRootPrivateHome puts the project under a 0700 folder in /root, which the
// server user cannot traverse.
func TestRootPrivateHome(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root: the server runs as the invoking user, so no folder is out of its reach")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	private, err := os.MkdirTemp("/root", "splitschema-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(private) })
	if err := os.Chmod(private, 0o700); err != nil {
		t.Fatal(err)
	}
	project := filepath.Join(private, "deep", "project")
	if err := os.MkdirAll(project, 0o700); err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, project, Ephemeral())
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	s := mustStatus(t, ctx, c)
	if s.ServerUser == "" || s.ServerUser == "root" {
		t.Errorf("server user = %q, want an unprivileged one", s.ServerUser)
	}
	if got := processUID(t, s.PID); got == 0 {
		t.Errorf("server runs as root")
	}
	if !strings.HasPrefix(s.DataDir, RootBaseDir+"/") {
		t.Errorf("data dir = %s, want it under %s", s.DataDir, RootBaseDir)
	}
	if target, err := os.Readlink(filepath.Join(c.StateDir(), "server")); err != nil || target != filepath.Dir(s.DataDir) {
		t.Errorf("state folder link = %q (%v), want %s", target, err, filepath.Dir(s.DataDir))
	}
	u, err := c.AdminURL()
	if err != nil {
		t.Fatal(err)
	}
	conn := mustConnect(t, ctx, u)
	if err := conn.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)

	// Command runs other programs as the server user: postgres itself
	// refuses root, and reads the private data directory. (postgres, not
	// pg_controldata: the server packages of make test-matrix have only
	// initdb, pg_ctl and postgres.)
	cmd, err := c.Command(ctx, "postgres", "-C", "port", "-D", s.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := cmd.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != strconv.Itoa(s.Port) {
		t.Errorf("postgres -C port as server user: %v: %s, want %d", err, out, s.Port)
	}

	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatalf("restart: %v", err)
	}
}

// TestRootOrphanSetAside: as root the data lives outside the project, so
// deleting the project folder and cloning again at the same path must not
// leave a cluster no one can log in to in the way: it is stopped and set
// aside, never deleted, and a new one starts.
func TestRootOrphanSetAside(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root: the data lives inside the project folder and goes with it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	project := t.TempDir()
	old, err := New(project, nil, Ephemeral())
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Start(ctx); err != nil {
		t.Fatal(err)
	}
	oldStatus := mustStatus(t, ctx, old)
	// The project folder is deleted with the server still running.
	if err := os.RemoveAll(filepath.Join(project, ".splitschema")); err != nil {
		t.Fatal(err)
	}

	c := newCluster(t, project, Ephemeral())
	if err := c.Start(ctx); err != nil {
		t.Fatalf("start after the project folder was re-created: %v", err)
	}
	asides, _ := filepath.Glob(filepath.Dir(oldStatus.DataDir) + ".orphaned-*")
	t.Cleanup(func() {
		for _, a := range asides {
			os.RemoveAll(a)
		}
	})
	if len(asides) != 1 {
		t.Fatalf("want the old cluster set aside once, found %v", asides)
	}
	if _, err := os.Stat(filepath.Join(asides[0], "data", "PG_VERSION")); err != nil {
		t.Errorf("the old cluster's data is gone: %v", err)
	}
	if processAlive(oldStatus.PID) {
		t.Errorf("the old server (pid %d) still runs", oldStatus.PID)
	}
	u, err := c.AdminURL()
	if err != nil {
		t.Fatal(err)
	}
	if err := mustConnect(t, ctx, u).Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestRuntimeDirUnreachable(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root: the server runs as the invoking user, so no folder is out of its reach")
	}
	private := t.TempDir() // 0700, owned by root
	c, err := New(t.TempDir(), nil, WithRuntimeDir(filepath.Join(private, "server")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Destroy(context.Background()) })
	err = c.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "not reachable by server user") {
		t.Fatalf("start with an unreachable runtime dir: err = %v, want not reachable", err)
	}
}

// A runtime folder too deep for a unix socket path gets its socket in the
// temporary folder.
func TestLongSocketPath(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base, err := os.MkdirTemp("", "long-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	os.Chmod(base, 0o755) // reachable by the server user when root
	runtime := filepath.Join(base, strings.Repeat("d", 60), strings.Repeat("e", 60))
	c := newCluster(t, t.TempDir(), WithRuntimeDir(runtime), Ephemeral())
	if !strings.HasPrefix(c.socketDir, os.TempDir()) || len(c.socketDir) > maxSocketPath-len("/.s.PGSQL.65535") {
		t.Fatalf("socket dir = %s, want a short one in %s", c.socketDir, os.TempDir())
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	u, err := c.AdminURL()
	if err != nil {
		t.Fatal(err)
	}
	mustConnect(t, ctx, u)
	if err := c.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.socketDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket dir %s left after destroy (%v)", c.socketDir, err)
	}
}
