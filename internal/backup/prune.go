package backup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/splitschema/splitschema/internal/archive"
	"github.com/splitschema/splitschema/internal/manifest"
)

// PruneResult says what Prune deleted and kept.
type PruneResult struct {
	Dir     string   `json:"dir"`
	Keep    int      `json:"keep"`
	Kept    []string `json:"kept"`
	Deleted []string `json:"deleted"`
	// Skipped are folders left alone, each with the reason.
	Skipped []string `json:"skipped"`
}

// Human renders the result for people.
func (r *PruneResult) Human() string {
	var b strings.Builder
	fmt.Fprintf(&b, "kept %d complete backup(s), deleted %d folder(s) in %s\n", len(r.Kept), len(r.Deleted), r.Dir)
	for _, d := range r.Deleted {
		fmt.Fprintf(&b, "  deleted %s\n", d)
	}
	for _, s := range r.Skipped {
		fmt.Fprintf(&b, "  left alone: %s\n", s)
	}
	return b.String()
}

// Prune keeps the keep newest complete backups and deletes the older
// complete ones and every incomplete folder no process is writing. It never
// deletes the newest complete backup, nor a backup being written or read,
// nor a damaged one (that is for a person to look at).
func Prune(p *manifest.Project, keep int) (*PruneResult, error) {
	if keep < 1 {
		return nil, fmt.Errorf("--keep %d: at least 1 (the newest complete backup is never deleted)", keep)
	}
	root := Dir(p)
	l, err := listDir(root)
	if err != nil {
		return nil, err
	}
	res := &PruneResult{Dir: root, Keep: keep, Kept: []string{}, Deleted: []string{}, Skipped: []string{}}
	complete := 0
	var errs []error
	for _, e := range l.Backups {
		switch e.State {
		case Complete:
			complete++
			if complete <= keep {
				res.Kept = append(res.Kept, e.ID)
				continue
			}
		case Damaged:
			res.Skipped = append(res.Skipped, fmt.Sprintf("%s (damaged: %s)", e.ID, e.Reason))
			continue
		case InProgress:
			res.Skipped = append(res.Skipped, fmt.Sprintf("%s (being written)", e.ID))
			continue
		}
		deleted, err := deleteBackup(root, e)
		switch {
		case errors.Is(err, errBusy):
			res.Skipped = append(res.Skipped, fmt.Sprintf("%s (in use)", e.ID))
		case err != nil:
			errs = append(errs, err)
		case deleted:
			res.Deleted = append(res.Deleted, e.ID)
		}
	}
	removeOrphanLocks(root)
	if err := errors.Join(errs...); err != nil {
		return res, fmt.Errorf("prune: %w", err)
	}
	return res, nil
}

// removeOrphanLocks removes the lock files of backups whose folder is gone
// (deleted by hand), when no process holds them.
func removeOrphanLocks(root string) {
	entries, err := os.ReadDir(filepath.Join(root, locksDir))
	if err != nil {
		return
	}
	for _, de := range entries {
		id := de.Name()
		if !archive.ValidID(id) {
			continue
		}
		_, err1 := os.Stat(filepath.Join(root, id))
		_, err2 := os.Stat(filepath.Join(root, id+archive.PartialSuffix))
		if err1 == nil || err2 == nil {
			continue
		}
		if unlock, err := lockBackup(root, id, true, false); err == nil {
			removeLock(root, id)
			unlock()
		}
	}
}

// deleteBackup deletes one backup folder under its exclusive lock. A
// complete backup is first renamed to .partial, so that a crash midway
// leaves a folder marked incomplete, never one that looks whole.
func deleteBackup(root string, e Entry) (bool, error) {
	unlock, err := lockBackup(root, e.ID, true, false)
	if err != nil {
		return false, err
	}
	defer unlock()
	dir := e.Path
	if e.State == Complete {
		partial := filepath.Join(root, e.ID+archive.PartialSuffix)
		if err := os.Rename(dir, partial); err != nil {
			return false, fmt.Errorf("delete backup %s: %w", e.ID, err)
		}
		dir = partial
	}
	if err := os.RemoveAll(dir); err != nil {
		return false, fmt.Errorf("delete backup %s: %w", e.ID, err)
	}
	removeLock(root, e.ID)
	return true, nil
}
