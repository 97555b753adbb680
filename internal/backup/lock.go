package backup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Backups coordinate through flock(2) on <backups>/.locks/<id>: a backup
// being written holds it exclusively until its folder is in place; restore
// and `backup verify` hold it shared while they read; prune takes it
// exclusively, without waiting, before it deletes anything, and skips
// what it cannot lock. The lock file of a backup is removed only by prune,
// once the backup is gone, so every process locks the same file.
//
// pg_dump inherits the backup's lock (it is open on its descriptor 3), and
// so do the parallel workers it forks: flock(2) locks belong to the open
// file, not to a process, so a backup whose splitschema was killed stays
// locked, shown in progress and out of prune's reach, until the last
// pg_dump process has exited.

const locksDir = ".locks"

func lockPath(root, id string) string { return filepath.Join(root, locksDir, id) }

// lockBackup locks backup id in root: exclusively (a backup being written,
// or prune) or shared (a reader). wait says whether to wait for the lock.
// The error wraps errBusy when the lock is held and wait is false.
func lockBackup(root, id string, exclusive, wait bool) (unlock func(), err error) {
	f, err := lockBackupFile(root, id, exclusive, wait)
	if err != nil {
		return nil, err
	}
	return func() { f.Close() }, nil
}

// lockBackupFile is lockBackup, returning the open lock file: closing it
// unlocks, unless a child process inherited it (runOptions.inherit), in
// which case the lock is held until the last holder exits.
func lockBackupFile(root, id string, exclusive, wait bool) (*os.File, error) {
	if err := os.MkdirAll(filepath.Join(root, locksDir), 0o700); err != nil {
		return nil, fmt.Errorf("lock backup %s: %w", id, err)
	}
	f, err := os.OpenFile(lockPath(root, id), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock backup %s: %w", id, err)
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	if !wait {
		how |= syscall.LOCK_NB
	}
	for {
		err = syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("backup %s: %w", id, errBusy)
		}
		return nil, fmt.Errorf("lock backup %s: %w", id, err)
	}
	return f, nil
}

// errBusy: another process holds the backup's lock.
var errBusy = errors.New("in use by another splitschema process")

// removeLock removes a backup's lock file; the caller holds it exclusively
// and has deleted the backup.
func removeLock(root, id string) {
	_ = os.Remove(lockPath(root, id))
}
