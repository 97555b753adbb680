package pitr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Program is the pgBackRest executable splitschema runs.
const Program = "pgbackrest"

// Stanza is the name of the project's pgBackRest stanza.
const Stanza = "splitschema"

// ErrNoPgBackRest is returned when pgbackrest is not installed.
var ErrNoPgBackRest = errors.New("pgbackrest is not installed: install it (apt-get install pgbackrest; `make postgres` does) and try again")

// LookPath returns the path of pgbackrest, or ErrNoPgBackRest.
func LookPath() (string, error) {
	p, err := exec.LookPath(Program)
	if err != nil {
		return "", ErrNoPgBackRest
	}
	return p, nil
}

// Version returns what `pgbackrest version` prints, e.g. "pgBackRest 2.45".
func Version(ctx context.Context) (string, error) {
	p, err := LookPath()
	if err != nil {
		return "", err
	}
	out, err := exec.CommandContext(ctx, p, "version").Output()
	if err != nil {
		return "", fmt.Errorf("pgbackrest version: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// commander makes a command that runs a program as the server's OS user;
// *localpg.Cluster's Command is one.
type commander interface {
	Command(ctx context.Context, name string, args ...string) (*exec.Cmd, error)
}

// run runs `pgbackrest --config=... --stanza=... args...` as the server user
// with PGPASSFILE set, and returns its stdout. A failure carries the tail of
// what it printed.
func (s *Setup) run(ctx context.Context, args ...string) ([]byte, error) {
	if _, err := LookPath(); err != nil {
		return nil, err
	}
	full := append([]string{"--config=" + s.Conf, "--stanza=" + Stanza}, args...)
	cmd, err := s.cmd.Command(ctx, Program, full...)
	if err != nil {
		return nil, err
	}
	cmd.Env = append(cmd.Env, "PGPASSFILE="+s.Pgpass)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = strings.TrimSpace(stdout.String())
		}
		return stdout.Bytes(), fmt.Errorf("pgbackrest %s: %w: %s", args[len(args)-1], err, lastLines(msg, 12))
	}
	return stdout.Bytes(), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// writeOwned writes path with mode perm, owned by uid/gid when root.
func writeOwned(path string, data []byte, perm os.FileMode, uid, gid int) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if uid >= 0 && os.Geteuid() == 0 {
		if err := os.Chown(tmp.Name(), uid, gid); err != nil {
			return err
		}
	}
	return os.Rename(tmp.Name(), path)
}

// mkdirOwned creates dir (0700) owned by uid/gid when root, or checks an
// existing one.
func mkdirOwned(dir string, uid, gid int) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if uid >= 0 && os.Geteuid() == 0 {
		return os.Chown(dir, uid, gid)
	}
	return nil
}
