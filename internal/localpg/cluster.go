package localpg

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// AdminUser is the superuser initdb creates in the embedded cluster.
const AdminUser = "postgres"

// RootBaseDir holds the data, socket and log folders of every project's
// cluster when the process runs as root (see the package documentation).
const RootBaseDir = "/var/lib/splitschema"

// ErrNotInitialized is returned by AdminURL and ClientEnv before the first
// Start has created the cluster.
var ErrNotInitialized = errors.New("local cluster is not set up yet: start it first")

// maxSocketPath is the longest unix socket path we hand postgres (the kernel
// allows 107 bytes).
const maxSocketPath = 100

// Cluster is the embedded PostgreSQL cluster of one project folder. Its
// methods are safe for concurrent use, also from several processes: Start,
// Stop and Destroy take a file lock.
type Cluster struct {
	bins       Binaries
	opts       options
	logger     *slog.Logger
	root       bool   // the process is root: programs run as a server user
	projectDir string // absolute, symlinks resolved
	stateDir   string // <project>/.splitschema/local
	home       string // holds data/, run/ and server.log
	dataDir    string
	socketDir  string
	logFile    string

	mu   sync.Mutex
	user *serverUser // resolved lazily when root
}

// Option configures New.
type Option func(*options) error

type options struct {
	runtimeDir string
	stateDir   string
	port       int
	ephemeral  bool
	binDir     string
}

// WithBinDir runs the server programs (initdb, pg_ctl, postgres) in dir
// instead of those FindBinaries locates; they must be there.
func WithBinDir(dir string) Option {
	return func(o *options) error {
		if dir == "" {
			return errors.New("server bin dir is empty")
		}
		o.binDir = dir
		return nil
	}
}

// WithRuntimeDir keeps the data directory, socket directory and log in dir
// (absolute; created mode 0700, owned by the server user) instead of the
// default (the state folder, or RootBaseDir/<hash> when root). When root,
// every parent of dir must be searchable by the server user.
func WithRuntimeDir(dir string) Option {
	return func(o *options) error {
		if !filepath.IsAbs(dir) {
			return fmt.Errorf("runtime dir %q is not an absolute path", dir)
		}
		o.runtimeDir = filepath.Clean(dir)
		return nil
	}
}

// WithStateDir keeps the state files (port, password, lock) in dir
// (absolute) instead of <project>/.splitschema/local. With WithRuntimeDir it
// makes a second cluster of the same project, such as a point-in-time
// restore beside the project's own.
func WithStateDir(dir string) Option {
	return func(o *options) error {
		if !filepath.IsAbs(dir) {
			return fmt.Errorf("state dir %q is not an absolute path", dir)
		}
		o.stateDir = filepath.Clean(dir)
		return nil
	}
}

// WithPort makes the server listen on port and nowhere else: Start fails
// when it is taken, instead of picking another.
func WithPort(port int) Option {
	return func(o *options) error {
		if port < 1 || port > 65535 {
			return fmt.Errorf("port %d is not between 1 and 65535", port)
		}
		o.port = port
		return nil
	}
}

// Ephemeral trades durability for speed: initdb --no-sync and fsync,
// synchronous_commit and full_page_writes off. For throwaway test clusters
// only: an OS crash can corrupt such a cluster.
func Ephemeral() Option {
	return func(o *options) error {
		o.ephemeral = true
		return nil
	}
}

// New returns the cluster of the project in projectDir, which must exist. It
// locates the PostgreSQL binaries (ErrNoBinaries when there are none) and has
// no other side effect. A nil logger discards logs.
func New(projectDir string, logger *slog.Logger, opts ...Option) (*Cluster, error) {
	var o options
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("local cluster: %w", err)
		}
	}
	abs, err := filepath.Abs(projectDir)
	if err != nil {
		return nil, fmt.Errorf("local cluster: %w", err)
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		abs = r
	}
	if fi, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("local cluster: project folder: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("local cluster: project folder %s is not a folder", abs)
	}
	var bins Binaries
	if o.binDir != "" {
		bins, err = BinariesIn(o.binDir)
	} else {
		bins, err = FindBinaries()
	}
	if err != nil {
		return nil, fmt.Errorf("local cluster: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Cluster{
		bins:       bins,
		opts:       o,
		logger:     logger,
		root:       runsAsRoot(),
		projectDir: abs,
		stateDir:   filepath.Join(abs, ".splitschema", "local"),
	}
	if o.stateDir != "" {
		c.stateDir = o.stateDir
	}
	sum := sha256.Sum256([]byte(abs))
	hash := hex.EncodeToString(sum[:8])
	switch {
	case o.runtimeDir != "":
		c.home = o.runtimeDir
	case c.root:
		c.home = rootHome(abs, filepath.Join(RootBaseDir, hash))
	default:
		c.home = c.stateDir
	}
	c.dataDir = filepath.Join(c.home, "data")
	c.logFile = filepath.Join(c.home, "server.log")
	c.socketDir = filepath.Join(c.home, "run")
	if len(c.socketDir)+len("/.s.PGSQL.65535") > maxSocketPath {
		c.socketDir = filepath.Join(os.TempDir(), fmt.Sprintf("splitschema-%d-%s", os.Geteuid(), hash))
	}
	return c, nil
}

// rootHome is where, as root, the server's folders live: in the project
// (.splitschema/server, owned by the server user) when that user can enter
// the project folder, else outside (legacy: RootBaseDir/<hash>). A cluster
// that exists keeps its place; New has no side effect, so the server user
// is only looked up, not created (without one, the legacy place is used).
func rootHome(project, legacy string) string {
	inProject := filepath.Join(project, ".splitschema", "server")
	if _, err := os.Stat(filepath.Join(legacy, "data")); err == nil {
		return legacy
	}
	if _, err := os.Stat(inProject); err == nil {
		return inProject
	}
	for _, name := range []string{"postgres", ServiceUserName} {
		if u, err := user.Lookup(name); err == nil {
			if su, err := toServerUser(u); err == nil && checkReachable(inProject, su) == nil {
				return inProject
			}
			break
		}
	}
	return legacy
}

func (c *Cluster) statePath() string    { return filepath.Join(c.stateDir, "state.json") }
func (c *Cluster) passwordPath() string { return filepath.Join(c.stateDir, "password") }
func (c *Cluster) pgpassPath() string   { return filepath.Join(c.stateDir, "pgpass") }
func (c *Cluster) lockPath() string     { return filepath.Join(c.stateDir, "lock") }

// Home returns the folder that holds data/, run/ and server.log.
func (c *Cluster) Home() string { return c.home }

// AdoptPassword gives c the admin password of src, whose data directory c's
// was restored from (a physical copy keeps its roles and their passwords).
// It does nothing when c has a password already.
func (c *Cluster) AdoptPassword(src *Cluster) error {
	if _, err := os.Stat(c.passwordPath()); err == nil {
		return nil
	}
	pw, err := src.password(false)
	if err != nil {
		return fmt.Errorf("adopt password: %w", err)
	}
	if err := c.prepareState(); err != nil {
		return fmt.Errorf("adopt password: %w", err)
	}
	if err := writeFileAtomic(c.passwordPath(), []byte(pw+"\n"), 0o600); err != nil {
		return fmt.Errorf("adopt password: %w", err)
	}
	return nil
}

// Binaries returns the PostgreSQL programs the cluster runs.
func (c *Cluster) Binaries() Binaries { return c.bins }

// StateDir returns <project>/.splitschema/local.
func (c *Cluster) StateDir() string { return c.stateDir }

// Status describes the cluster.
type Status struct {
	Initialized bool   `json:"initialized"`           // initdb has run
	Running     bool   `json:"running"`               // a live postmaster owns the data directory
	PID         int    `json:"pid,omitempty"`         // of the postmaster, when running
	Port        int    `json:"port,omitempty"`        // TCP port on 127.0.0.1 (the recorded one when stopped)
	DataDir     string `json:"data_dir"`              // the data directory
	SocketDir   string `json:"socket_dir"`            // folder of the unix socket
	LogFile     string `json:"log_file"`              // the server log
	Version     int    `json:"version"`               // major version of the binaries
	BinDir      string `json:"bin_dir"`               // folder of the binaries
	ServerUser  string `json:"server_user,omitempty"` // OS user the server runs as, when root
}

// Status reports whether the cluster exists and runs, and where it lives. It
// changes nothing.
func (c *Cluster) Status(ctx context.Context) (Status, error) {
	s := Status{
		Initialized: c.initialized(),
		DataDir:     c.dataDir,
		SocketDir:   c.socketDir,
		LogFile:     c.logFile,
		Version:     c.bins.Version,
		BinDir:      c.bins.Dir,
	}
	if u, err := c.serverUser(ctx, false); err == nil && u != nil {
		s.ServerUser = u.Name
	}
	st, err := c.readState()
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return s, fmt.Errorf("cluster status: %w", err)
	}
	s.Port = st.Port
	if pm := c.postmaster(); pm.running {
		s.Running, s.PID = true, pm.pid
		if pm.port != 0 {
			s.Port = pm.port
		}
	}
	return s, nil
}

func (c *Cluster) initialized() bool {
	_, err := os.Stat(filepath.Join(c.dataDir, "PG_VERSION"))
	return err == nil
}

// AdminURL returns the superuser's URL of the maintenance database over TCP:
// postgres://postgres:PASSWORD@127.0.0.1:PORT/postgres?sslmode=disable. It
// holds the password: never log or print it. ErrNotInitialized before the
// first Start.
func (c *Cluster) AdminURL() (string, error) {
	st, pw, err := c.credentials()
	if err != nil {
		return "", fmt.Errorf("admin url: %w", err)
	}
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(AdminUser, pw),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(st.Port)),
		Path:     "/postgres",
		RawQuery: "sslmode=disable",
	}
	return u.String(), nil
}

// ClientEnv returns base (e.g. os.Environ()) without its PG* variables, plus
// the libpq variables that point psql, pg_dump or pg_restore at the cluster as
// the superuser: PGHOST, PGPORT, PGUSER, PGDATABASE, PGSSLMODE and PGPASSFILE
// (a 0600 file in the state folder), so no password goes on a command line.
// ErrNotInitialized before the first Start.
func (c *Cluster) ClientEnv(base []string) ([]string, error) {
	st, pw, err := c.credentials()
	if err != nil {
		return nil, fmt.Errorf("client env: %w", err)
	}
	if err := c.writePgpass(st.Port, pw); err != nil {
		return nil, fmt.Errorf("client env: %w", err)
	}
	env := withoutPG(base)
	return append(env,
		"PGHOST=127.0.0.1",
		"PGPORT="+strconv.Itoa(st.Port),
		"PGUSER="+AdminUser,
		"PGDATABASE=postgres",
		"PGSSLMODE=disable",
		"PGPASSFILE="+c.pgpassPath(),
	), nil
}

func (c *Cluster) credentials() (state, string, error) {
	st, err := c.readState()
	if errors.Is(err, os.ErrNotExist) || (err == nil && st.Port == 0) {
		return st, "", ErrNotInitialized
	}
	if err != nil {
		return st, "", err
	}
	pw, err := c.password(false)
	if errors.Is(err, os.ErrNotExist) {
		return st, "", ErrNotInitialized
	}
	return st, pw, err
}

// withoutPG drops the PG* variables (PGHOST, PGPASSWORD...) from env.
func withoutPG(env []string) []string {
	out := make([]string, 0, len(env)+6)
	for _, kv := range env {
		if !strings.HasPrefix(kv, "PG") {
			out = append(out, kv)
		}
	}
	return out
}

// Command returns a command that runs the named PostgreSQL program of the
// cluster's binaries (pg_controldata, postgres --single...) as the server's
// OS user when the process is root, in a folder that user can reach, with no
// PG* variables in its environment. Before the first Start, as root, it fails
// when no server user exists yet. Clients (psql, pg_dump) need none of this:
// run them as yourself with ClientEnv.
func (c *Cluster) Command(ctx context.Context, name string, args ...string) (*exec.Cmd, error) {
	u, err := c.serverUser(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("command %s: %w", name, err)
	}
	return c.command(ctx, u, name, args...), nil
}

func (c *Cluster) command(ctx context.Context, u *serverUser, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, c.bins.Path(name), args...)
	cmd.Env = withoutPG(os.Environ())
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	if u != nil {
		cmd.SysProcAttr.Credential = u.credential()
		cmd.Env = append(cmd.Env, "HOME="+c.home, "USER="+u.Name, "LOGNAME="+u.Name)
	}
	if fi, err := os.Stat(c.home); err == nil && fi.IsDir() {
		cmd.Dir = c.home
	} else if u != nil {
		cmd.Dir = "/"
	}
	return cmd
}
