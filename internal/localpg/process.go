package localpg

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// pidFile is what the data directory's postmaster.pid says.
type pidFile struct {
	exists  bool
	pid     int
	port    int
	running bool   // the pid is a live postgres process
	why     string // when not running: "gone", "zombie" or "foreign"
}

// postmaster reads postmaster.pid and checks the process it names.
func (c *Cluster) postmaster() pidFile {
	b, err := os.ReadFile(filepath.Join(c.dataDir, "postmaster.pid"))
	if err != nil {
		return pidFile{}
	}
	lines := strings.Split(string(b), "\n")
	pf := pidFile{exists: true}
	pf.pid, _ = strconv.Atoi(strings.TrimSpace(lines[0]))
	if pf.pid < 0 { // single-user mode writes -pid
		pf.pid = -pf.pid
	}
	if len(lines) > 3 {
		pf.port, _ = strconv.Atoi(strings.TrimSpace(lines[3]))
	}
	if pf.pid == 0 {
		pf.why = "gone"
		return pf
	}
	pf.why = processState(pf.pid)
	pf.running = pf.why == "running"
	return pf
}

// processState says whether pid is a live postgres ("running"), no longer
// exists ("gone"), is a zombie nobody reaped ("zombie"), or is another program
// that got the same pid ("foreign").
func processState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		if _, perr := os.Stat("/proc/self/stat"); perr == nil {
			return "gone"
		}
		// No /proc: all we can ask is whether the pid exists.
		if err := syscall.Kill(pid, 0); err == nil || errors.Is(err, syscall.EPERM) {
			return "running"
		}
		return "gone"
	}
	// "pid (comm) S ...": comm may hold spaces and parentheses.
	s := string(b)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open || end+2 >= len(s) {
		return "gone"
	}
	comm, st := s[open+1:end], s[end+2]
	if st == 'Z' || st == 'X' {
		return "zombie"
	}
	if comm != "postgres" && comm != "postmaster" {
		return "foreign"
	}
	return "running"
}

// clearStale handles a postmaster.pid left by a server that died without
// shutting down. It waits for that server's children to exit. A pid that now
// names another program or an unreaped zombie would make postgres refuse to
// start, so that file is removed; for a pid that is simply gone, postgres
// itself removes the file after its own checks.
func (c *Cluster) clearStale(ctx context.Context, pm pidFile) error {
	c.logger.Info("previous server did not shut down cleanly", "pid", pm.pid, "state", pm.why)
	deadline := time.Now().Add(15 * time.Second)
	for {
		left := processesIn(c.dataDir)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v of a previous server still run in %s: stop them first", left, c.dataDir)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	if pm.why != "zombie" && pm.why != "foreign" {
		return nil
	}
	// The socket lock files name the same pid, so postgres would refuse
	// them too.
	locks, _ := filepath.Glob(filepath.Join(c.socketDir, ".s.PGSQL.*.lock"))
	for _, lock := range locks {
		b, err := os.ReadFile(lock)
		if err != nil {
			continue
		}
		if pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])); pid == pm.pid {
			if err := os.Remove(lock); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("remove stale socket lock: %w", err)
			}
		}
	}
	if err := os.Remove(filepath.Join(c.dataDir, "postmaster.pid")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale postmaster.pid: %w", err)
	}
	return nil
}

// processesIn lists the live postgres processes whose working folder is dir
// (postgres processes work in their data directory). Without /proc it finds
// none.
func processesIn(dir string) []int {
	if r, err := filepath.EvalSymlinks(dir); err == nil {
		dir = r
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if err != nil || cwd != dir {
			continue
		}
		if processState(pid) != "running" {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}
