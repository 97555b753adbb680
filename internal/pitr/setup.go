package pitr

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/splitschema/splitschema/internal/localpg"
	"github.com/splitschema/splitschema/internal/manifest"
)

// Setup is where pgBackRest's files of one project's embedded cluster are,
// and how to reach the cluster.
type Setup struct {
	Project *manifest.Project
	Cluster *localpg.Cluster
	cmd     commander

	// Work holds pgbackrest.conf, lock/, log/, spool/ and pgpass, owned by
	// the server user.
	Work     string `json:"work"`
	Conf     string `json:"conf"`
	Pgpass   string `json:"-"`
	Repo     string `json:"repo"`
	LockDir  string `json:"lock_path"`
	LogDir   string `json:"log_path"`
	SpoolDir string `json:"spool_path"`

	DataDir   string `json:"data_dir"`
	SocketDir string `json:"socket_dir"`
	Port      int    `json:"port"`

	// uid and gid own the server's files; -1 when not root.
	uid, gid int
}

// ErrNotEmbedded is returned by the commands that manage pgBackRest
// themselves when the project works on a server of its own.
var ErrNotEmbedded = errors.New("point-in-time recovery is managed by splitschema on the embedded cluster only; " +
	"for a server of your own, configure pgBackRest yourself (README: Point-in-time recovery) and run `splitschema pitr check`")

// Open describes the pgBackRest setup of project p on its embedded cluster
// cl, which need not be running (a restore after a crash). It changes
// nothing.
func Open(ctx context.Context, p *manifest.Project, cl *localpg.Cluster) (*Setup, error) {
	st, err := cl.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("pitr: %w", err)
	}
	if !st.Initialized {
		return nil, fmt.Errorf("pitr: the embedded cluster does not exist yet (splitschema local start)")
	}
	s := &Setup{Project: p, Cluster: cl, cmd: cl, DataDir: st.DataDir, SocketDir: st.SocketDir, Port: st.Port, uid: -1, gid: -1}
	s.Work = filepath.Join(cl.Home(), "pitr")
	s.Conf = filepath.Join(s.Work, "pgbackrest.conf")
	s.Pgpass = filepath.Join(s.Work, "pgpass")
	s.LockDir = filepath.Join(s.Work, "lock")
	s.LogDir = filepath.Join(s.Work, "log")
	s.SpoolDir = filepath.Join(s.Work, "spool")
	s.Repo = filepath.Join(s.Work, "repo")
	if r := p.Settings.PITR.Repo; r != "" {
		if filepath.IsAbs(r) {
			s.Repo = filepath.Clean(r)
		} else {
			s.Repo = filepath.Join(p.Dir, r)
		}
		if abs, err := filepath.Abs(s.Repo); err == nil {
			s.Repo = abs
		}
	}
	if os.Geteuid() == 0 {
		fi, err := os.Stat(st.DataDir)
		if err != nil {
			return nil, fmt.Errorf("pitr: data directory: %w", err)
		}
		sys := fi.Sys().(*syscall.Stat_t)
		s.uid, s.gid = int(sys.Uid), int(sys.Gid)
	}
	return s, nil
}

// Enabled reports whether `pitr enable` completed for this cluster.
func (s *Setup) Enabled() bool {
	_, err := os.Stat(s.marker())
	return err == nil
}

func (s *Setup) marker() string { return filepath.Join(s.Work, "enabled") }

// ArchiveCommand is the archive_command that pushes WAL to the repository.
func (s *Setup) ArchiveCommand() string {
	bin, err := LookPath()
	if err != nil {
		bin = Program
	}
	return shellQuote(bin) + " --config=" + shellQuote(s.Conf) + " --stanza=" + Stanza + " archive-push %p"
}

// prepare creates the work folders, the password file and the
// configuration; it is run by every command, as the cluster's port may
// change between starts.
func (s *Setup) prepare() error {
	for _, d := range []string{s.Work, s.LockDir, s.LogDir, s.SpoolDir} {
		if err := mkdirOwned(d, s.uid, s.gid); err != nil {
			return fmt.Errorf("pitr: folder %s: %w", d, err)
		}
	}
	admin, err := s.Cluster.AdminURL()
	if err != nil {
		return fmt.Errorf("pitr: %w", err)
	}
	u, err := url.Parse(admin)
	if err != nil {
		return errors.New("pitr: the embedded cluster's admin url does not parse")
	}
	pw, _ := u.User.Password()
	// host:port:database:user:password. libpq matches a socket outside its
	// default folder by the folder's path, the TCP address by itself.
	esc := strings.NewReplacer(`\`, `\\`, ":", `\:`)
	var line string
	for _, host := range []string{s.SocketDir, "localhost", "127.0.0.1"} {
		line += fmt.Sprintf("%s:%d:*:%s:%s\n", esc.Replace(host), s.Port, localpg.AdminUser, esc.Replace(pw))
	}
	if err := writeOwned(s.Pgpass, []byte(line), 0o600, s.uid, s.gid); err != nil {
		return fmt.Errorf("pitr: password file: %w", err)
	}
	if err := writeOwned(s.Conf, []byte(s.config()), 0o600, s.uid, s.gid); err != nil {
		return fmt.Errorf("pitr: write %s: %w", s.Conf, err)
	}
	return nil
}

// config is pgbackrest.conf.
func (s *Setup) config() string {
	var b strings.Builder
	b.WriteString("# Written by splitschema at every pitr command: edits are lost.\n")
	b.WriteString("[global]\n")
	fmt.Fprintf(&b, "repo1-path=%s\n", s.Repo)
	fmt.Fprintf(&b, "lock-path=%s\nlog-path=%s\nspool-path=%s\n", s.LockDir, s.LogDir, s.SpoolDir)
	b.WriteString("log-level-console=warn\nlog-level-file=info\nstart-fast=y\ncompress-type=lz4\nprocess-max=2\n")
	// Retention is splitschema's (backup prune); pgBackRest expires only
	// what prune tells it to.
	b.WriteString("\n[" + Stanza + "]\n")
	fmt.Fprintf(&b, "pg1-path=%s\npg1-port=%d\npg1-socket-path=%s\npg1-user=%s\n", s.DataDir, s.Port, s.SocketDir, localpg.AdminUser)
	return b.String()
}

// shellQuote quotes s for /bin/sh.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-=") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
