package localpg

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// state is what .splitschema/local/state.json holds. Only Port is read back;
// the rest tells a person where things are.
type state struct {
	Port       int    `json:"port"`
	DataDir    string `json:"data_dir"`
	SocketDir  string `json:"socket_dir"`
	LogFile    string `json:"log_file"`
	ServerUser string `json:"server_user,omitempty"`
}

func (c *Cluster) readState() (state, error) {
	var s state
	b, err := os.ReadFile(c.statePath())
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("read %s: %w", c.statePath(), err)
	}
	return s, nil
}

func (c *Cluster) writeState(s state) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(c.statePath(), append(b, '\n'), 0o600)
}

// password returns the admin password, generating and storing it (mode 0600)
// when create is true and there is none yet.
func (c *Cluster) password(create bool) (string, error) {
	b, err := os.ReadFile(c.passwordPath())
	if err == nil {
		pw := strings.TrimSpace(string(b))
		if pw == "" {
			return "", fmt.Errorf("password file %s is empty", c.passwordPath())
		}
		return pw, nil
	}
	if !errors.Is(err, os.ErrNotExist) || !create {
		return "", err
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("generate password: %w", err)
	}
	pw := hex.EncodeToString(raw)
	if err := writeFileAtomic(c.passwordPath(), []byte(pw+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("store password: %w", err)
	}
	return pw, nil
}

// writePgpass writes the libpq password file ClientEnv points at.
func (c *Cluster) writePgpass(port int, pw string) error {
	// host:port:database:username:password; none of ours needs escaping.
	// libpq looks unix socket connections up as "localhost".
	line := fmt.Sprintf("127.0.0.1:%d:*:%s:%s\nlocalhost:%d:*:%s:%s\n",
		port, AdminUser, pw, port, AdminUser, pw)
	if b, err := os.ReadFile(c.pgpassPath()); err == nil && string(b) == line {
		return nil
	}
	return writeFileAtomic(c.pgpassPath(), []byte(line), 0o600)
}

// writeFileAtomic writes data to a temporary file beside path, syncs it and
// renames it into place, then syncs the folder.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// lock takes an exclusive flock on the state folder's lock file, waiting until
// ctx is done. The returned function releases it.
func (c *Cluster) lock(ctx context.Context) (func(), error) {
	f, err := os.OpenFile(c.lockPath(), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", c.lockPath(), err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("wait for lock %s: %w", c.lockPath(), ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
