package backup

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/splitschema/splitschema/internal/archive"
	"github.com/splitschema/splitschema/internal/manifest"
)

// fakeBackups makes backup folders without a database: complete ones (a
// manifest) and incomplete ones, ids one minute apart, oldest first.
func fakeBackups(t *testing.T, states ...State) (*manifest.Project, []string) {
	t.Helper()
	p := &manifest.Project{Dir: t.TempDir(), Settings: manifest.DefaultSettings()}
	root := Dir(p)
	if err := os.MkdirAll(root, 0o700); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	var ids []string
	for i, st := range states {
		id := archive.NewID(start.Add(time.Duration(i) * time.Minute))
		ids = append(ids, id)
		switch st {
		case Complete:
			dir := filepath.Join(root, id)
			os.Mkdir(dir, 0o700)
			if err := archive.Write(dir, &archive.Manifest{ID: id, Started: start}); err != nil {
				t.Fatal(err)
			}
		case Incomplete:
			os.Mkdir(filepath.Join(root, id+archive.PartialSuffix), 0o700)
		case Damaged:
			os.Mkdir(filepath.Join(root, id), 0o700)
		}
	}
	return p, ids
}

func TestListStates(t *testing.T) {
	p, ids := fakeBackups(t, Complete, Incomplete, Complete, Damaged, Incomplete)
	// The last incomplete one is being written: a live process holds its lock.
	unlock, err := lockBackup(Dir(p), ids[4], true, false)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	l, err := List(p)
	if err != nil {
		t.Fatal(err)
	}
	var got []State
	var order []string
	for _, e := range l.Backups {
		got = append(got, e.State)
		order = append(order, e.ID)
	}
	want := []State{InProgress, Damaged, Complete, Incomplete, Complete}
	if !slices.Equal(got, want) {
		t.Errorf("states = %v, want %v", got, want)
	}
	wantOrder := slices.Clone(ids)
	slices.Reverse(wantOrder)
	if !slices.Equal(order, wantOrder) {
		t.Errorf("order = %v, want newest first %v", order, wantOrder)
	}
	if c := l.Complete(); len(c) != 2 || c[0].ID != ids[2] {
		t.Errorf("complete = %v, want %s first", c, ids[2])
	}
}

func TestPrune(t *testing.T) {
	p, ids := fakeBackups(t, Complete, Incomplete, Complete, Complete, Damaged, Incomplete, Complete, Incomplete)
	// One old complete backup is being restored, the newest partial being written.
	unlockRead, err := lockBackup(Dir(p), ids[0], false, false)
	if err != nil {
		t.Fatal(err)
	}
	defer unlockRead()
	unlockWrite, err := lockBackup(Dir(p), ids[7], true, false)
	if err != nil {
		t.Fatal(err)
	}
	defer unlockWrite()

	if _, err := Prune(p, 0); err == nil {
		t.Error("prune --keep 0 accepted")
	}
	res, err := Prune(p, 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{ids[6], ids[3]}; !slices.Equal(res.Kept, want) {
		t.Errorf("kept = %v, want %v", res.Kept, want)
	}
	wantDeleted := []string{ids[5], ids[2], ids[1]}
	if !slices.Equal(res.Deleted, wantDeleted) {
		t.Errorf("deleted = %v, want %v", res.Deleted, wantDeleted)
	}
	if len(res.Skipped) != 3 {
		t.Errorf("skipped = %v, want the in-progress, damaged and in-use ones", res.Skipped)
	}
	l, _ := List(p)
	var left []string
	for _, e := range l.Backups {
		left = append(left, e.ID)
	}
	if want := []string{ids[7], ids[6], ids[4], ids[3], ids[0]}; !slices.Equal(left, want) {
		t.Errorf("left = %v, want %v", left, want)
	}
	// Keep 1 never deletes the newest complete backup.
	unlockRead()
	res, err = Prune(p, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Kept, []string{ids[6]}) || !slices.Contains(res.Deleted, ids[0]) || !slices.Contains(res.Deleted, ids[3]) {
		t.Errorf("prune 1: kept %v deleted %v", res.Kept, res.Deleted)
	}
	if _, err := os.Stat(lockPath(Dir(p), ids[0])); err == nil {
		t.Error("the lock file of a deleted backup is left")
	}
}
