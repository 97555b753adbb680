package backup

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/splitschema/splitschema/internal/archive"
	"github.com/splitschema/splitschema/internal/repo"
)

// remoteBackup is what the store holds of one backup.
type remoteBackup struct {
	id       string
	objects  []repo.Object
	manifest bool
	failed   bool
	newest   time.Time
}

// scan lists the backups in the store whose objects start with prefix
// ("" for all, "<id>/" for one), by id.
func (r *repository) scan(ctx context.Context, prefix string) (map[string]*remoteBackup, error) {
	objs, err := r.store.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	out := map[string]*remoteBackup{}
	for _, o := range objs {
		id, rest, ok := strings.Cut(o.Name, "/")
		if !ok || !archive.ValidID(id) {
			continue // .checks/, .probe/, anything not ours
		}
		b := out[id]
		if b == nil {
			b = &remoteBackup{id: id}
			out[id] = b
		}
		b.objects = append(b.objects, o)
		b.manifest = b.manifest || rest == archive.ManifestFile
		b.failed = b.failed || rest == archive.FailureFile
		if o.Modified.After(b.newest) {
			b.newest = o.Modified
		}
	}
	return out, nil
}

// list reads the store's backups as listDir reads a folder's: each
// manifest (its checksum and, with a key, its signature) and last check;
// no other object is read.
func (r *repository) list(ctx context.Context, key *archive.Key) (*Listing, error) {
	l := &Listing{Dir: r.String(), Backups: []Entry{}}
	found, err := r.scan(ctx, "")
	if err != nil {
		return nil, err
	}
	for id, b := range found {
		e := Entry{ID: id, Path: r.objectPath(id)}
		e.Started, _ = archive.IDTime(id)
		if b.manifest {
			e.LastCheck = r.readCheck(ctx, id)
			m, _, err := r.readManifest(ctx, id)
			if err != nil && ctx.Err() != nil {
				return nil, ctx.Err()
			}
			judge(&e, m, err, key)
		} else {
			e.State, e.Reason = r.unfinished(ctx, b)
		}
		e.Complete = e.State.Restorable()
		l.Backups = append(l.Backups, e)
	}
	slices.SortFunc(l.Backups, func(a, b Entry) int { return strings.Compare(b.ID, a.ID) })
	return l, nil
}

// unfinished judges a backup without manifest: being written, or left
// behind by one that failed or was killed.
func (r *repository) unfinished(ctx context.Context, b *remoteBackup) (State, string) {
	local := filepath.Join(r.spool, b.id+archive.PartialSuffix)
	switch {
	case busy(r.spool, b.id):
		return InProgress, "being written by a backup on this machine"
	case b.failed:
		return Incomplete, r.failureNote(ctx, b.id)
	}
	if _, err := os.Stat(local); err == nil {
		return Incomplete, failureReason(local) + " (noted on this machine; the repository holds what it uploaded)"
	}
	if age := time.Since(b.newest); age < staleAfter {
		return InProgress, fmt.Sprintf("no manifest yet, and no backup on this machine writes it; its newest object is %s old, so another machine may be writing it (treated as abandoned once %s old)", age.Round(time.Second), staleAfter)
	}
	return Incomplete, fmt.Sprintf("no manifest, and nothing written for %s: abandoned", time.Since(b.newest).Round(time.Minute))
}

// failureNote reads the first line of the note a failed backup stored.
func (r *repository) failureNote(ctx context.Context, id string) string {
	rc, err := r.store.Get(ctx, id+"/"+archive.FailureFile)
	if err != nil {
		return "failed (its note cannot be read: " + err.Error() + ")"
	}
	defer rc.Close()
	note, _ := io.ReadAll(io.LimitReader(rc, 4096))
	return noteLine(note)
}

// storedBackup is a complete backup as the store holds it.
type storedBackup struct {
	m       *archive.Manifest
	raw     []byte        // manifest.json as stored
	objects []repo.Object // every object under <id>/
}

// find reads complete backup id (one listing of its objects, its
// manifest), or says why there is none.
func (r *repository) find(ctx context.Context, id string) (*storedBackup, error) {
	if err := archive.CheckID(id); err != nil {
		return nil, err
	}
	found, err := r.scan(ctx, id+"/")
	if err != nil {
		return nil, err
	}
	b := found[id]
	switch {
	case b == nil:
		return nil, fmt.Errorf("no backup %s in %s (`splitschema backup list` shows the backups)", id, r)
	case !b.manifest:
		state, why := r.unfinished(ctx, b)
		if state == InProgress {
			return nil, fmt.Errorf("backup %s is still being written (%s): %s", id, r.objectPath(id), why)
		}
		return nil, fmt.Errorf("backup %s is incomplete and cannot be used: %s (%s)", id, why, r.objectPath(id))
	}
	m, raw, err := r.readManifest(ctx, id)
	if err != nil {
		return nil, err
	}
	return &storedBackup{m: m, raw: raw, objects: b.objects}, nil
}

// remove deletes backup e from the store under its lock in the spool, and
// this machine's record of it.
func (r *repository) remove(ctx context.Context, e Entry) (bool, error) {
	unlock, err := lockBackup(r.spool, e.ID, true, false)
	if err != nil {
		return false, err
	}
	defer unlock()
	if err := r.deleteAll(ctx, e.ID); err != nil {
		return false, fmt.Errorf("delete backup %s: %w", e.ID, err)
	}
	if err := os.RemoveAll(filepath.Join(r.spool, e.ID+archive.PartialSuffix)); err != nil {
		return false, fmt.Errorf("delete backup %s: %w", e.ID, err)
	}
	removeLock(r.spool, e.ID)
	return true, nil
}
