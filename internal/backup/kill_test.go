package backup

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/splitschema/splitschema/internal/backup/backuptest"
	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/target"
)

// Environment of the helper process TestBackupKilled starts: this test
// binary again, running only TestKilledBackupHelper.
const (
	helperEnv    = "SPLITSCHEMA_TEST_KILL_HELPER"
	helperURL    = "SPLITSCHEMA_TEST_KILL_URL"
	helperBinDir = "SPLITSCHEMA_TEST_KILL_BINDIR"
	helperPID    = "SPLITSCHEMA_TEST_KILL_PIDFILE"
)

// TestKilledBackupHelper is not a test: it is the `splitschema backup`
// that TestBackupKilled kills. It writes pg_dump's pid and its output
// folder to a file once pg_dump runs.
func TestKilledBackupHelper(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		t.Skip("helper process of TestBackupKilled")
	}
	p, err := manifest.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := target.FromURL(os.Getenv(helperURL), "")
	if err != nil {
		t.Fatal(err)
	}
	srv.BinDir = os.Getenv(helperBinDir)
	_, err = Run(context.Background(), p, srv, Options{Jobs: 2, Compress: "9", dumpStarted: func(pid int, out string) {
		os.WriteFile(os.Getenv(helperPID), []byte(fmt.Sprintf("%d %s", pid, out)), 0o600)
	}})
	t.Fatalf("the helper backup ended instead of being killed: %v", err)
}

// killHelper is a running TestKilledBackupHelper whose pg_dump started.
type killHelper struct {
	cmd     *exec.Cmd
	exited  chan error // gets the helper's exit
	leader  int        // pg_dump's pid, the leader of its process group
	dumpDir string     // where pg_dump writes
}

// startKillHelper starts the backup of shop's project (as its settings
// file says) in a helper process and waits until pg_dump runs.
func startKillHelper(t *testing.T, shop *backuptest.Shop) *killHelper {
	t.Helper()
	pidFile := filepath.Join(t.TempDir(), "pid")
	h := &killHelper{cmd: exec.Command(os.Args[0], "-test.run=^TestKilledBackupHelper$", "-test.count=1"), exited: make(chan error, 1)}
	h.cmd.Env = append(os.Environ(), helperEnv+"="+shop.Project.Dir, helperURL+"="+shop.URL,
		helperBinDir+"="+shop.Server.BinDir, helperPID+"="+pidFile)
	h.cmd.Stdout, h.cmd.Stderr = os.Stderr, os.Stderr
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { h.exited <- h.cmd.Wait() }()
	// A loaded machine may take long to get there: wait up to 3 minutes,
	// unless the helper ends first.
	for start := time.Now(); h.leader == 0 && time.Since(start) < 3*time.Minute; {
		select {
		case err := <-h.exited:
			t.Fatalf("the helper backup ended before pg_dump started: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
		if data, err := os.ReadFile(pidFile); err == nil {
			fmt.Sscanf(string(data), "%d %s", &h.leader, &h.dumpDir)
		}
	}
	if h.leader == 0 {
		h.cmd.Process.Kill()
		<-h.exited
		t.Fatal("pg_dump did not start within 3 minutes")
	}
	return h
}

// processesInGroup lists the live (not zombie) processes of group pgid.
func processesInGroup(pgid int) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		f := strings.Fields(s[i+1:])
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" && f[0] != "X" {
			out = append(out, e.Name())
		}
	}
	return out
}

// A `splitschema backup` killed with SIGKILL, the real way: pg_dump dies
// with it (its death signal), and its parallel workers, which the kernel
// does not kill with their parent, keep the backup locked until the last
// one exits. Until then list shows the backup in progress and prune leaves
// it alone; after, it is incomplete and prune removes it.
func TestBackupKilled(t *testing.T) {
	t.Parallel()
	shop := backuptest.New(t)
	// A table big enough that the workers are still copying it when the
	// command dies.
	shop.Exec(t, `CREATE TABLE public.big AS SELECT i, md5(i::text) || repeat(md5(random()::text), 12) AS pad FROM generate_series(1, 400000) i`)
	h := startKillHelper(t, shop)
	cmd, exited, leader, dumpDir := h.cmd, h.exited, h.leader, h.dumpDir
	t.Cleanup(func() { syscall.Kill(-leader, syscall.SIGKILL) })
	// Kill the command once pg_dump's workers are copying rows.
	for range 3000 {
		if _, err := os.Stat(filepath.Join(dumpDir, "toc.dat")); err == nil && len(processesInGroup(leader)) > 1 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	before := processesInGroup(leader)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited
	id := strings.TrimSuffix(filepath.Base(filepath.Dir(dumpDir)), ".partial")
	t.Logf("killed the backup %s with pg_dump's group %v", id, before)

	// While any pg_dump process lives, the backup is in progress and
	// prune does not touch it.
	sawAlive := 0
	prunedEarly := false // by a prune that ran once the last process was gone
	deadline := time.Now().Add(2 * time.Minute)
	for {
		// Processes only ever exit: one alive after a List or Prune was
		// alive all through it. Checking before would race with its exit.
		l, err := List(context.Background(), shop.Project)
		if err != nil {
			t.Fatal(err)
		}
		alive := processesInGroup(leader)
		if len(alive) == 0 {
			break
		}
		sawAlive++
		if len(l.Backups) != 1 || l.Backups[0].State != InProgress {
			t.Fatalf("pg_dump processes %v still run and write into the backup, but list says %+v", alive, l.Backups)
		}
		res, err := Prune(context.Background(), shop.Project, PruneOptions{Keep: 1})
		if err != nil {
			t.Fatal(err)
		}
		if alive := processesInGroup(leader); len(alive) > 0 {
			if _, err := os.Stat(filepath.Dir(dumpDir)); err != nil {
				t.Fatalf("prune deleted the folder pg_dump processes %v write into: %v", alive, err)
			}
		} else if len(res.Deleted) > 0 {
			// The last process exited between list and prune: the
			// prune rightly removed the incomplete folder.
			prunedEarly = true
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pg_dump processes %v still run after 2 minutes", alive)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("pg_dump processes outlived the command for %d checks", sawAlive)
	if prunedEarly {
		if l, err := List(context.Background(), shop.Project); err != nil || len(l.Backups) != 0 {
			t.Errorf("after the prune that removed the incomplete folder: %+v, %v; want no backup", l, err)
		}
		return
	}
	l, err := List(context.Background(), shop.Project)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Backups) != 1 || l.Backups[0].State != Incomplete {
		t.Fatalf("after pg_dump's last process exited: %+v, want incomplete", l.Backups)
	}
	res, err := Prune(context.Background(), shop.Project, PruneOptions{Keep: 1})
	if err != nil || len(res.Deleted) != 1 {
		t.Errorf("prune after: %+v, %v; want the incomplete folder deleted", res, err)
	}
}
