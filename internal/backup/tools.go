package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/splitschema/splitschema/internal/localpg"
	"github.com/splitschema/splitschema/internal/target"
)

// tool is a located PostgreSQL client program and its version.
type tool struct {
	Name  string
	Path  string
	Full  string
	Major int
}

// findTool locates program name (see toolPath) and runs `name --version`.
func findTool(ctx context.Context, name, binDir string, srv *target.Server) (tool, error) {
	path, err := toolPath(name, binDir, srv)
	if err != nil {
		return tool{}, err
	}
	full, major, err := localpg.ProgramVersion(ctx, path)
	if err != nil {
		return tool{}, fmt.Errorf("%s: %w", name, err)
	}
	return tool{Name: name, Path: path, Full: full, Major: major}, nil
}

// toolPath locates program name (pg_dump, pg_restore): in binDir when given
// (an explicit choice: it must be there), else in the server's own BinDir
// (the embedded cluster's), else the newest installed PostgreSQL's, else
// PATH.
func toolPath(name, binDir string, srv *target.Server) (string, error) {
	switch {
	case binDir != "":
		path := filepath.Join(binDir, name)
		if !isExecutable(path) {
			return "", fmt.Errorf("%s: no %s there (--pg-bindir)", binDir, name)
		}
		return path, nil
	case srv != nil && srv.BinDir != "" && isExecutable(filepath.Join(srv.BinDir, name)):
		return filepath.Join(srv.BinDir, name), nil
	}
	if b, err := localpg.FindBinaries(); err == nil && isExecutable(filepath.Join(b.Dir, name)) {
		return filepath.Join(b.Dir, name), nil
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s not found: install the PostgreSQL client programs (apt-get install postgresql-client) or pass --pg-bindir DIR", name)
}

// listTOC returns the table of contents of the directory-format dump in
// dumpDir, as `pg_restore --list` prints it.
func listTOC(ctx context.Context, pgRestore, dumpDir string) (string, error) {
	out, err := exec.CommandContext(ctx, pgRestore, "--list", dumpDir).Output()
	if err == nil {
		return string(out), nil
	}
	if ctx.Err() != nil {
		return "", fmt.Errorf("%s --list stopped: %w", pgRestore, ctx.Err())
	}
	// The message, not the *exec.ExitError: its ExitCode must not become
	// splitschema's exit status.
	msg := err.Error()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		msg = fmt.Sprintf("exited with status %d", ee.ExitCode())
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			msg = "was killed by signal " + signalName(ws.Signal())
		}
		if tail := strings.TrimSpace(target.Redact(string(ee.Stderr))); tail != "" {
			msg += ": " + tail
		}
	}
	return "", fmt.Errorf("%s --list %s", pgRestore, msg)
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// ErrToolTooOld is wrapped by the error Run and Restore return when pg_dump
// or pg_restore is older than it must be.
var ErrToolTooOld = errors.New("PostgreSQL client program too old")

// kindError is an error with its own message that errors.Is matches
// against a sentinel.
type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

func kindErrorf(kind error, format string, args ...any) error {
	return &kindError{msg: fmt.Sprintf(format, args...), kind: kind}
}

// checkDumpVersion refuses a pg_dump older than the server it dumps.
func checkDumpVersion(t tool, serverFull string, serverMajor int) error {
	if t.Major >= serverMajor {
		return nil
	}
	return kindErrorf(ErrToolTooOld, "pg_dump %s (%s) is older than the server, PostgreSQL %s: pg_dump must be at least the server's major version %d; "+
		"install postgresql-client-%d or pass --pg-bindir with the folder of a newer pg_dump",
		t.Full, t.Path, serverFull, serverMajor, serverMajor)
}

// runOptions tune runTool.
type runOptions struct {
	// env is the program's whole environment (target.Server.ToolEnv).
	env []string
	// started, when set, is called with the process id once it runs.
	started func(pid int)
	// stdout, when set, gets the program's standard output; else it is
	// kept with its standard error for the error message.
	stdout io.Writer
	// inherit are open files the program (and every process it forks)
	// gets from descriptor 3 on: a lock it must hold as long as any of
	// them lives.
	inherit []*os.File
}

// runTool runs a client program in its own process group, so that on failure
// or cancellation its parallel workers die with it. The error holds the
// end of its standard error and says how it ended.
func runTool(ctx context.Context, t tool, args []string, o runOptions) error {
	cmd := exec.Command(t.Path, args...)
	cmd.Env = o.env
	cmd.ExtraFiles = o.inherit
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Should this process die, the program dies with it (on Linux).
	setDeathSignal(cmd.SysProcAttr)
	stderr := &tailBuffer{max: 16 << 10}
	cmd.Stderr = stderr
	cmd.Stdout = stderr
	if o.stdout != nil {
		cmd.Stdout = o.stdout
	}
	started := make(chan error, 1)
	done := make(chan error, 1)
	go func() {
		// The death signal is tied to the thread that started the
		// program: keep that thread alive until the program ends.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		done <- cmd.Wait()
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("start %s: %w", t.Name, err)
	}
	pid := cmd.Process.Pid
	if o.started != nil {
		o.started(pid)
	}
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		killGroup(pid)
		<-done
		return fmt.Errorf("%s stopped: %w", t.Name, ctx.Err())
	}
	if err == nil {
		return nil
	}
	// A leader that failed may leave parallel workers behind: they must
	// not go on writing.
	killGroup(pid)
	out := strings.TrimSpace(target.Redact(stderr.String()))
	var ee *exec.ExitError
	how := err.Error()
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			how = fmt.Sprintf("was killed by signal %s", signalName(ws.Signal()))
		} else {
			how = fmt.Sprintf("exited with status %d", ee.ExitCode())
		}
	}
	if out == "" {
		return fmt.Errorf("%s %s", t.Name, how)
	}
	return fmt.Errorf("%s %s: %s", t.Name, how, out)
}

// killGroup kills the process group pgid and waits, a few seconds at
// most, until none of its processes runs any more.
func killGroup(pgid int) {
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	for range 500 {
		if !groupRunning(pgid) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// signalName names the signals that end programs, e.g. "SIGKILL (9)".
func signalName(sig syscall.Signal) string {
	names := map[syscall.Signal]string{
		syscall.SIGKILL: "SIGKILL", syscall.SIGTERM: "SIGTERM", syscall.SIGINT: "SIGINT",
		syscall.SIGSEGV: "SIGSEGV", syscall.SIGABRT: "SIGABRT", syscall.SIGHUP: "SIGHUP",
		syscall.SIGPIPE: "SIGPIPE", syscall.SIGBUS: "SIGBUS", syscall.SIGQUIT: "SIGQUIT",
	}
	if n, ok := names[sig]; ok {
		return fmt.Sprintf("%s (%d)", n, int(sig))
	}
	return fmt.Sprintf("%d (%s)", int(sig), sig)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - b.max; over > 0 {
		b.buf.Next(over)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// sinceSeconds rounds a duration to milliseconds, in seconds.
func sinceSeconds(t time.Time) float64 {
	return float64(time.Since(t).Milliseconds()) / 1000
}
