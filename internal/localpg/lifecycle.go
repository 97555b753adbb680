package localpg

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// confFile is written into the data directory at every start and included
// from postgresql.conf.
const confFile = "splitschema.conf"

// Start makes the cluster run: it creates it (initdb) when there is none,
// starts the server when it is not running and waits until it accepts
// connections. It is idempotent and safe to call from several processes at
// once; it recovers from a server killed without a shutdown. The recorded
// port is kept unless something else took it, then a free one is picked and
// recorded. On failure the error holds the tail of the server log.
func (c *Cluster) Start(ctx context.Context) error {
	if err := c.start(ctx); err != nil {
		return fmt.Errorf("start cluster: %w", err)
	}
	return nil
}

func (c *Cluster) start(ctx context.Context) error {
	if err := c.prepareState(); err != nil {
		return err
	}
	unlock, err := c.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	u, err := c.serverUser(ctx, true)
	if err != nil {
		return err
	}
	if err := c.setAsideOrphan(ctx, u); err != nil {
		return err
	}
	if err := c.prepareRuntime(u); err != nil {
		return err
	}

	st, err := c.readState()
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	pm := c.postmaster()
	if pm.running {
		pw, err := c.password(false)
		if err != nil {
			return fmt.Errorf("admin password: %w", err)
		}
		if pm.port != 0 && pm.port != st.Port {
			st.Port = pm.port
			if err := c.writeState(c.describe(st, u)); err != nil {
				return err
			}
		}
		return c.writePgpass(st.Port, pw)
	}

	initialized := c.initialized()
	pw, err := c.password(!initialized)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("password file %s is missing, so no one can log in to the existing cluster in %s: remove both to start over", c.passwordPath(), c.dataDir)
		}
		return fmt.Errorf("admin password: %w", err)
	}
	if !initialized {
		if err := c.initdb(ctx, u, pw); err != nil {
			return err
		}
	}
	if err := c.checkDataVersion(); err != nil {
		return err
	}
	if pm.exists {
		if err := c.clearStale(ctx, pm); err != nil {
			return err
		}
	}

	port := st.Port
	if c.opts.port != 0 {
		port = c.opts.port
		if !portFree(port) {
			return fmt.Errorf("port %d is taken: pick another", port)
		}
	}
	for attempt := 1; ; attempt++ {
		if c.opts.port != 0 && port != c.opts.port {
			return fmt.Errorf("port %d is taken: pick another", c.opts.port)
		}
		if port == 0 || !portFree(port) {
			old := port
			if port, err = freePort(); err != nil {
				return err
			}
			if old != 0 {
				c.logger.Info("recorded port is taken, using another", "old_port", old, "port", port)
			}
		}
		st.Port = port
		if err := c.writeState(c.describe(st, u)); err != nil {
			return err
		}
		if err := c.writeConf(port, u); err != nil {
			return err
		}
		c.logger.Info("starting local cluster", "data_dir", c.dataDir, "port", port)
		logTail, err := c.pgctlStart(ctx, u)
		if err == nil {
			break
		}
		retry := ""
		switch {
		case strings.Contains(logTail, "could not bind") || strings.Contains(logTail, "could not create any TCP/IP sockets"):
			retry, port = "port taken", 0
		case strings.Contains(logTail, "pre-existing shared memory block") || strings.Contains(logTail, "already exists"):
			retry = "previous server still exiting"
			time.Sleep(time.Duration(attempt) * 500 * time.Millisecond)
		}
		if retry == "" || attempt == 5 || ctx.Err() != nil {
			return fmt.Errorf("pg_ctl start: %w; server log %s ends with:\n%s", err, c.logFile, logTail)
		}
		c.logger.Info("retrying start", "reason", retry, "attempt", attempt, "log", lastLines(logTail, 4))
	}
	return c.writePgpass(port, pw)
}

// setAsideOrphan deals with a cluster that a deleted project folder left
// behind: as root the data lives outside the project (RootBaseDir/<hash of
// its path>), so a project re-created at the same path finds a cluster but
// neither the state file nor the password to log in to it. That cluster is
// stopped and its folder renamed <folder>.orphaned-<time>, never deleted,
// and the project gets a cluster of its own.
func (c *Cluster) setAsideOrphan(ctx context.Context, u *serverUser) error {
	if c.home == c.stateDir || !c.initialized() {
		return nil
	}
	for _, f := range []string{c.passwordPath(), c.statePath()} {
		if _, err := os.Lstat(f); !errors.Is(err, os.ErrNotExist) {
			return nil
		}
	}
	if c.postmaster().running {
		if err := c.pgctlStop(ctx, u); err != nil {
			return fmt.Errorf("stop the orphaned cluster: %w", err)
		}
	}
	aside := fmt.Sprintf("%s.orphaned-%s", c.home, time.Now().UTC().Format("20060102T150405Z"))
	if err := os.Rename(c.home, aside); err != nil {
		return fmt.Errorf("set the orphaned cluster aside: %w", err)
	}
	c.logger.Warn("found a cluster left by an earlier project folder at this path, with no state or password here; "+
		"set it aside (remove it once you know you do not need it) and creating a new one", "moved_to", aside)
	return nil
}

// describe fills the informative fields of the state file.
func (c *Cluster) describe(st state, u *serverUser) state {
	st.DataDir, st.SocketDir, st.LogFile = c.dataDir, c.socketDir, c.logFile
	if u != nil {
		st.ServerUser = u.Name
	}
	return st
}

// prepareState creates the state folder, owner only.
func (c *Cluster) prepareState() error {
	if err := os.MkdirAll(filepath.Dir(c.stateDir), 0o755); err != nil {
		return err
	}
	if err := mkdirOwned(c.stateDir, nil); err != nil {
		return fmt.Errorf("state folder: %w", err)
	}
	ignore := filepath.Join(c.stateDir, ".gitignore")
	if _, err := os.Stat(ignore); errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(ignore, []byte("# secrets and server data: never commit\n*\n"), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// prepareRuntime creates the folders the server uses, owned by the server
// user, and checks that it can reach them. The caller holds the lock.
func (c *Cluster) prepareRuntime(u *serverUser) error {
	if c.home != c.stateDir {
		if err := os.MkdirAll(filepath.Dir(c.home), 0o755); err != nil {
			return err
		}
		if err := mkdirOwned(c.home, u); err != nil {
			return fmt.Errorf("runtime folder: %w", err)
		}
		if err := checkReachable(c.home, u); err != nil {
			return err
		}
		link := filepath.Join(c.stateDir, "server")
		if cur, err := os.Readlink(link); err != nil || cur != c.home {
			os.Remove(link)
			if err := os.Symlink(c.home, link); err != nil {
				return err
			}
		}
	}
	if err := mkdirOwned(c.socketDir, u); err != nil {
		return fmt.Errorf("socket folder: %w", err)
	}
	if err := checkReachable(c.socketDir, u); err != nil {
		return err
	}
	// The server user runs the programs too: a bin folder under /root
	// (a cache of fetched binaries, say) fails here, not in initdb.
	if err := checkReachable(filepath.Join(c.bins.Dir, "postgres"), u); err != nil {
		return fmt.Errorf("server binaries: %w", err)
	}
	return nil
}

// initdb creates the data directory under a temporary name and renames it
// into place, so a half-made one is never taken for a cluster.
func (c *Cluster) initdb(ctx context.Context, u *serverUser, pw string) error {
	tmp := c.dataDir + ".initdb"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	pwfile := filepath.Join(c.home, ".pwfile")
	os.Remove(pwfile)
	if err := os.WriteFile(pwfile, []byte(pw+"\n"), 0o600); err != nil {
		return err
	}
	defer os.Remove(pwfile)
	if err := chown(pwfile, u); err != nil {
		return err
	}
	args := []string{"-D", tmp, "-U", AdminUser, "--pwfile=" + pwfile,
		"--auth-local=scram-sha-256", "--auth-host=scram-sha-256",
		"-E", "UTF8", "--locale=C"}
	if c.opts.ephemeral {
		args = append(args, "--no-sync")
	}
	c.logger.Info("creating local cluster", "data_dir", c.dataDir, "version", c.bins.FullVersion)
	out, err := c.command(ctx, u, "initdb", args...).CombinedOutput()
	if err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("initdb: %w:\n%s", err, lastLines(string(out), 20))
	}
	f, err := os.OpenFile(filepath.Join(tmp, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "\n# Port, sockets and logins are set by splitschema at every start.\ninclude '%s'\n", confFile)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp, c.dataDir)
}

func (c *Cluster) checkDataVersion() error {
	b, err := os.ReadFile(filepath.Join(c.dataDir, "PG_VERSION"))
	if err != nil {
		return err
	}
	if v := strings.TrimSpace(string(b)); v != strconv.Itoa(c.bins.Version) {
		return fmt.Errorf("data directory %s was made by PostgreSQL %s but the binaries in %s are PostgreSQL %d: install PostgreSQL %s, or remove %s and %s to start over",
			c.dataDir, v, c.bins.Dir, c.bins.Version, v, c.dataDir, c.stateDir)
	}
	return nil
}

// writeConf writes splitschema.conf into the data directory.
func (c *Cluster) writeConf(port int, u *serverUser) error {
	var b strings.Builder
	b.WriteString("# Written by splitschema at every start: edits are lost.\n")
	fmt.Fprintf(&b, "listen_addresses = '127.0.0.1'\nport = %d\n", port)
	fmt.Fprintf(&b, "unix_socket_directories = %s\nunix_socket_permissions = 0700\n", confQuote(c.socketDir))
	b.WriteString("password_encryption = 'scram-sha-256'\n")
	if c.opts.ephemeral {
		b.WriteString("# Throwaway cluster: durability off.\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
	}
	path := filepath.Join(c.dataDir, confFile)
	if err := writeFileAtomic(path, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return chown(path, u)
}

// confQuote quotes s as a postgresql.conf string.
func confQuote(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// pgctlStart runs pg_ctl start and returns what the server logged meanwhile.
func (c *Cluster) pgctlStart(ctx context.Context, u *serverUser) (string, error) {
	var offset int64
	if fi, err := os.Stat(c.logFile); err == nil {
		offset = fi.Size()
	}
	cmd := c.command(ctx, u, "pg_ctl", "start", "-D", c.dataDir, "-l", c.logFile, "-w", "-t", "120", "-s")
	// Own session: a Ctrl-C meant for splitschema must not stop the server.
	cmd.SysProcAttr.Setsid = true
	out, err := cmd.CombinedOutput()
	if err == nil {
		return "", nil
	}
	tail := readTail(c.logFile, offset)
	if o := strings.TrimSpace(string(out)); o != "" {
		tail = strings.TrimSpace(tail + "\n" + o)
	}
	return tail, err
}

// Stop shuts the server down (fast mode: open sessions are ended, nothing is
// lost) and waits until it is gone. It does nothing when the server is not
// running.
func (c *Cluster) Stop(ctx context.Context) error {
	if err := c.stop(ctx); err != nil {
		return fmt.Errorf("stop cluster: %w", err)
	}
	return nil
}

func (c *Cluster) stop(ctx context.Context) error {
	if !c.initialized() {
		return nil
	}
	unlock, err := c.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	if !c.postmaster().running {
		return nil
	}
	u, err := c.serverUser(ctx, false)
	if err != nil {
		return err
	}
	return c.pgctlStop(ctx, u)
}

// pgctlStop stops the running server (fast shutdown) and waits for it.
func (c *Cluster) pgctlStop(ctx context.Context, u *serverUser) error {
	var offset int64
	if fi, err := os.Stat(c.logFile); err == nil {
		offset = fi.Size()
	}
	c.logger.Info("stopping local cluster", "data_dir", c.dataDir)
	out, err := c.command(ctx, u, "pg_ctl", "stop", "-D", c.dataDir, "-m", "fast", "-w", "-t", "60", "-s").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %w: %s; server log %s ends with:\n%s",
			err, strings.TrimSpace(string(out)), c.logFile, readTail(c.logFile, offset))
	}
	return nil
}

// Destroy stops the server and removes the cluster: its data, socket folder,
// log and state files (the password with them). The project folder itself and
// anything else in .splitschema stay.
func (c *Cluster) Destroy(ctx context.Context) error {
	if err := c.Stop(ctx); err != nil {
		return fmt.Errorf("destroy cluster: %w", err)
	}
	if _, err := os.Stat(c.stateDir); err == nil {
		unlock, err := c.lock(ctx)
		if err != nil {
			return fmt.Errorf("destroy cluster: %w", err)
		}
		defer unlock()
	}
	if _, err := os.Stat(c.dataDir); err == nil {
		if !c.madeByUs() {
			return fmt.Errorf("destroy cluster: %s does not look like a cluster splitschema made (no PG_VERSION, or its postgresql.conf does not include %s): left alone, remove it yourself if you are sure", c.dataDir, confFile)
		}
		c.logger.Info("removing local cluster", "data_dir", c.dataDir)
	}
	var errs []error
	for _, p := range []string{c.dataDir, c.dataDir + ".initdb", c.socketDir, c.logFile, filepath.Join(c.home, ".pwfile")} {
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, err)
		}
	}
	if c.home != c.stateDir {
		if err := os.Remove(c.home); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	for _, name := range []string{"state.json", "password", "pgpass", "server", ".gitignore", "lock"} {
		if err := os.Remove(filepath.Join(c.stateDir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := os.Remove(c.stateDir); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("destroy cluster: %w", err)
	}
	return nil
}

// madeByUs reports whether the data directory is one initdb made for
// splitschema: it has PG_VERSION, and its postgresql.conf includes the
// file splitschema writes at every start.
func (c *Cluster) madeByUs() bool {
	if _, err := os.Stat(filepath.Join(c.dataDir, "PG_VERSION")); err != nil {
		return false
	}
	conf, err := os.ReadFile(filepath.Join(c.dataDir, "postgresql.conf"))
	return err == nil && strings.Contains(string(conf), "include '"+confFile+"'")
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// readTail returns the last lines of the log written after offset.
func readTail(path string, offset int64) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	if offset > int64(len(b)) {
		offset = 0
	}
	return lastLines(string(b[offset:]), 20)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
