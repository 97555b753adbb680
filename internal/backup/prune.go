package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/splitschema/splitschema/internal/archive"
	"github.com/splitschema/splitschema/internal/manifest"
)

// PruneOptions tune Prune.
type PruneOptions struct {
	// Keep is how many verified backups to keep, at least 1.
	Keep int
	// DeleteDamaged deletes the damaged backups too; by default they are
	// kept for a person to look at.
	DeleteDamaged bool
	// DryRun checks and reports, and deletes nothing.
	DryRun bool
	// Jobs is the number of files read at once; default: the CPU count.
	Jobs int
}

// PruneResult says what Prune checked, kept and deleted.
type PruneResult struct {
	Dir    string `json:"dir"`
	Keep   int    `json:"keep"`
	DryRun bool   `json:"dry_run"`
	// Kept are the verified backups kept, newest first: every file and
	// the manifest checked by this prune.
	Kept []string `json:"kept"`
	// Deleted are the folders deleted (with DryRun: that would be), each
	// with the reason.
	Deleted []string `json:"deleted"`
	// Damaged are the backups whose check failed, each with what it found;
	// they never count toward Keep and are kept unless DeleteDamaged.
	Damaged []string `json:"damaged"`
	// Skipped are folders left alone, each with the reason.
	Skipped []string `json:"skipped"`
}

// Human renders the result for people.
func (r *PruneResult) Human() string {
	var b strings.Builder
	verb := "deleted"
	if r.DryRun {
		verb = "would delete"
		b.WriteString("dry run: nothing was deleted\n")
	}
	fmt.Fprintf(&b, "kept %d verified backup(s) of %d asked for (every file and the manifest checked now), %s %d folder(s) in %s\n",
		len(r.Kept), r.Keep, verb, len(r.Deleted), r.Dir)
	if len(r.Kept) < r.Keep {
		fmt.Fprintf(&b, "  only %d backup(s) could be verified: nothing that could restore was deleted\n", len(r.Kept))
	}
	for _, k := range r.Kept {
		fmt.Fprintf(&b, "  kept %s (verified)\n", k)
	}
	for _, d := range r.Damaged {
		fmt.Fprintf(&b, "  DAMAGED %s\n", d)
	}
	for _, d := range r.Deleted {
		fmt.Fprintf(&b, "  %s %s\n", verb, d)
	}
	for _, s := range r.Skipped {
		fmt.Fprintf(&b, "  left alone: %s\n", s)
	}
	return b.String()
}

// Prune keeps the Keep newest backups that pass a check now (every file's
// size and SHA-256, the manifest's own checksum and, with a key
// configured, its signature) and deletes the complete backups older than
// the oldest of them, unchecked, and every incomplete folder no process is
// writing. A damaged backup (found now, or known from its last check or its
// unreadable manifest) never counts toward Keep, is reported and is kept
// unless DeleteDamaged. While fewer than Keep backups pass, nothing
// complete is deleted. It never deletes a backup being written or read.
func Prune(ctx context.Context, p *manifest.Project, o PruneOptions) (*PruneResult, error) {
	if o.Keep < 1 {
		return nil, fmt.Errorf("--keep %d: at least 1 (the newest verified backup is never deleted)", o.Keep)
	}
	key, err := LoadKey(p)
	if err != nil {
		return nil, err
	}
	r, err := openRepository(p)
	if err != nil {
		return nil, err
	}
	var set backupSet = folderSet{root: Dir(p), key: key}
	if r.remote() {
		set = storeSet{r: r, key: key}
	}
	l, err := set.list(ctx)
	if err != nil {
		return nil, err
	}
	res := &PruneResult{Dir: l.Dir, Keep: o.Keep, DryRun: o.DryRun, Kept: []string{}, Deleted: []string{}, Damaged: []string{}, Skipped: []string{}}
	var errs []error
	remove := func(e Entry, why string) {
		if o.DryRun {
			if set.busy(e.ID) {
				res.Skipped = append(res.Skipped, fmt.Sprintf("%s (in use)", e.ID))
			} else {
				res.Deleted = append(res.Deleted, e.ID+" ("+why+")")
			}
			return
		}
		deleted, err := set.remove(ctx, e)
		switch {
		case errors.Is(err, errBusy):
			res.Skipped = append(res.Skipped, fmt.Sprintf("%s (in use)", e.ID))
		case err != nil:
			errs = append(errs, err)
		case deleted:
			res.Deleted = append(res.Deleted, e.ID+" ("+why+")")
		}
	}
	damaged := func(e Entry, what string) {
		if o.DeleteDamaged {
			res.Damaged = append(res.Damaged, e.ID+": "+what+" (--delete-damaged)")
			remove(e, "damaged")
			return
		}
		res.Damaged = append(res.Damaged, e.ID+": "+what+" (kept for inspection; --delete-damaged deletes it)")
	}
	for _, e := range l.Backups {
		switch {
		case e.State == InProgress:
			res.Skipped = append(res.Skipped, fmt.Sprintf("%s (being written)", e.ID))
		case e.State == Incomplete:
			remove(e, "incomplete: "+e.Reason)
		case len(res.Kept) >= o.Keep && e.State == Damaged:
			damaged(e, e.Reason)
		case len(res.Kept) >= o.Keep:
			// Older than the Keep newest verified: out of retention,
			// whole or not, so not read.
			remove(e, fmt.Sprintf("older than the %d newest verified backups; not checked", o.Keep))
		case e.State == Damaged && e.LastCheck == nil:
			damaged(e, e.Reason) // its manifest itself is unreadable
		default:
			ok, what, err := set.check(ctx, e, o.Jobs)
			switch {
			case errors.Is(err, errBusy):
				res.Skipped = append(res.Skipped, fmt.Sprintf("%s (in use; not checked, not counted)", e.ID))
			case err != nil && ctx.Err() != nil:
				return res, fmt.Errorf("prune: %w", ctx.Err())
			case err != nil:
				damaged(e, err.Error())
			case ok:
				res.Kept = append(res.Kept, e.ID)
			default:
				damaged(e, what)
			}
		}
	}
	if !o.DryRun {
		set.tidy()
	}
	if err := errors.Join(errs...); err != nil {
		return res, fmt.Errorf("prune: %w", err)
	}
	return res, nil
}

// backupSet is where Prune finds, checks and deletes backups: a folder or
// an object store.
type backupSet interface {
	list(ctx context.Context) (*Listing, error)
	// busy tells whether a process writes or reads backup id.
	busy(id string) bool
	// check checks backup e, recording the outcome; it says whether the
	// backup passed and, if not, what was found.
	check(ctx context.Context, e Entry, jobs int) (bool, string, error)
	// remove deletes backup e; errBusy when it is in use.
	remove(ctx context.Context, e Entry) (bool, error)
	// tidy removes what deleted backups left behind.
	tidy()
}

// folderSet is the backups of a folder.
type folderSet struct {
	root string
	key  *archive.Key
}

func (f folderSet) list(context.Context) (*Listing, error) { return listDir(f.root, f.key) }
func (f folderSet) busy(id string) bool                    { return busy(f.root, id) }
func (f folderSet) tidy()                                  { removeOrphanLocks(f.root) }
func (f folderSet) remove(_ context.Context, e Entry) (bool, error) {
	return deleteBackup(f.root, e)
}

// check checks backup e under its shared lock.
func (f folderSet) check(ctx context.Context, e Entry, jobs int) (bool, string, error) {
	unlock, err := lockBackup(f.root, e.ID, false, false)
	if err != nil {
		return false, "", err
	}
	defer unlock()
	_, res, err := checkDir(ctx, e.Path, jobs, nil, f.key, false)
	if err != nil {
		return false, "", err
	}
	recordCheck(f.root, res)
	return res.OK, res.problemList(), nil
}

// storeSet is the backups of an object store; this machine's locks are
// in its spool.
type storeSet struct {
	r   *repository
	key *archive.Key
}

func (s storeSet) list(ctx context.Context) (*Listing, error) { return s.r.list(ctx, s.key) }
func (s storeSet) busy(id string) bool                        { return busy(s.r.spool, id) }
func (s storeSet) tidy()                                      { removeOrphanLocks(s.r.spool) }
func (s storeSet) remove(ctx context.Context, e Entry) (bool, error) {
	return s.r.remove(ctx, e)
}

// check reads every object of backup e under its shared lock.
func (s storeSet) check(ctx context.Context, e Entry, jobs int) (bool, string, error) {
	unlock, err := lockBackup(s.r.spool, e.ID, false, false)
	if err != nil {
		return false, "", err
	}
	defer unlock()
	res, err := s.r.checkRemote(ctx, e.ID, jobs, s.key, false)
	if err != nil {
		return false, "", err
	}
	s.r.recordCheck(ctx, res)
	return res.OK, res.problemList(), nil
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
			removeCheck(root, id)
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
	if !strings.HasSuffix(dir, archive.PartialSuffix) {
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
	removeCheck(root, e.ID)
	return true, nil
}
