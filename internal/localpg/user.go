package localpg

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ServiceUserName is the system user created to run the server as when the
// process is root and the host has no "postgres" user.
const ServiceUserName = "splitschema"

// serverUser is the unprivileged OS user the server runs as when the process
// is root.
type serverUser struct {
	Name     string
	UID, GID uint32
}

func (u *serverUser) credential() *syscall.Credential {
	return &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: []uint32{}}
}

// runsAsRoot reports whether the server programs must run as another user.
func runsAsRoot() bool { return os.Geteuid() == 0 }

// serverUser returns the user the server runs as when the process is root, nil
// otherwise. It is the owner of an existing data directory, else the
// "postgres" user, else the "splitschema" user, created when create is true.
func (c *Cluster) serverUser(ctx context.Context, create bool) (*serverUser, error) {
	if !c.root {
		return nil, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.user != nil {
		return c.user, nil
	}
	u, err := findServerUser(ctx, c.dataDir, create)
	if err != nil {
		return nil, err
	}
	c.user = u
	return u, nil
}

func findServerUser(ctx context.Context, dataDir string, create bool) (*serverUser, error) {
	if fi, err := os.Stat(dataDir); err == nil {
		st := fi.Sys().(*syscall.Stat_t)
		if st.Uid == 0 {
			return nil, fmt.Errorf("data directory %s is owned by root; the server cannot run as root", dataDir)
		}
		u, err := user.LookupId(strconv.Itoa(int(st.Uid)))
		if err != nil {
			return nil, fmt.Errorf("owner of data directory %s: %w", dataDir, err)
		}
		return toServerUser(u)
	}
	for _, name := range []string{"postgres", ServiceUserName} {
		if u, err := user.Lookup(name); err == nil {
			return toServerUser(u)
		}
	}
	if !create {
		return nil, fmt.Errorf("no postgres or %s system user to run the server as", ServiceUserName)
	}
	if err := createSystemUser(ctx, ServiceUserName); err != nil {
		return nil, err
	}
	u, err := user.Lookup(ServiceUserName)
	if err != nil {
		return nil, fmt.Errorf("look up user %s after creating it: %w", ServiceUserName, err)
	}
	return toServerUser(u)
}

func toServerUser(u *user.User) (*serverUser, error) {
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: uid %q: %w", u.Username, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: gid %q: %w", u.Username, u.Gid, err)
	}
	if uid == 0 {
		return nil, fmt.Errorf("user %s has uid 0; the server cannot run as root", u.Username)
	}
	return &serverUser{Name: u.Username, UID: uint32(uid), GID: uint32(gid)}, nil
}

// createSystemUser adds a system user with its own group, no home and no
// login shell, with useradd (Debian, Red Hat) or BusyBox adduser (Alpine).
func createSystemUser(ctx context.Context, name string) error {
	shell := "/usr/sbin/nologin"
	if _, err := os.Stat(shell); err != nil {
		shell = "/bin/false"
	}
	var cmd *exec.Cmd
	if p, err := exec.LookPath("useradd"); err == nil {
		cmd = exec.CommandContext(ctx, p, "--system", "--user-group", "--no-create-home",
			"--home-dir", "/nonexistent", "--shell", shell,
			"--comment", "splitschema embedded PostgreSQL", name)
	} else if p, err := exec.LookPath("adduser"); err == nil {
		cmd = exec.CommandContext(ctx, p, "-S", "-D", "-H", "-s", shell, name)
	} else {
		return fmt.Errorf("create system user %s: neither useradd nor adduser found: create an unprivileged user named postgres", name)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("create system user %s: %w: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// checkReachable reports whether u can reach dir: every existing ancestor must
// grant it search (x) permission.
func checkReachable(dir string, u *serverUser) error {
	if u == nil {
		return nil
	}
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err == nil {
			st := fi.Sys().(*syscall.Stat_t)
			perm := fi.Mode().Perm()
			var ok bool
			switch {
			case st.Uid == u.UID:
				ok = perm&0o100 != 0
			case st.Gid == u.GID:
				ok = perm&0o010 != 0
			default:
				ok = perm&0o001 != 0
			}
			if !ok {
				return fmt.Errorf("%s is not reachable by server user %s: %s has mode %v; use a folder outside it", dir, u.Name, p, perm)
			}
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// chown gives path to the server user when the process is root.
func chown(path string, u *serverUser) error {
	if u == nil {
		return nil
	}
	return os.Lchown(path, int(u.UID), int(u.GID))
}

// mkdirOwned creates dir (mode 0700) owned by the server user, or checks that
// an existing one is a real folder owned by it (or by us when not root), so a
// folder planted by someone else in /tmp is refused.
func mkdirOwned(dir string, u *serverUser) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	} else if err == nil {
		if err := chown(dir, u); err != nil {
			return err
		}
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a folder", dir)
	}
	want := uint32(os.Geteuid())
	if u != nil {
		want = u.UID
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != want {
		return fmt.Errorf("%s is owned by uid %d, want %d", dir, st.Uid, want)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return err
		}
	}
	return nil
}
