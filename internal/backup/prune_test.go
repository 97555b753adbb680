package backup

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
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
			os.MkdirAll(filepath.Join(dir, archive.DumpDir), 0o700)
			for name, body := range map[string]string{archive.RolesFile: `{"roles": []}`, archive.DumpDir + "/toc.dat": "toc of " + id, archive.DumpDir + "/3001.dat.lz4": "rows of " + id} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			files, err := archive.NewSealer(dir, 1).Finish(context.Background(), 1)
			if err != nil {
				t.Fatal(err)
			}
			if err := archive.Write(dir, &archive.Manifest{ID: id, Started: start, Files: files}, nil); err != nil {
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
	l, err := List(context.Background(), p)
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

	ctx := context.Background()
	if _, err := Prune(ctx, p, PruneOptions{Keep: 0}); err == nil {
		t.Error("prune --keep 0 accepted")
	}
	res, err := Prune(ctx, p, PruneOptions{Keep: 2})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{ids[6], ids[3]}; !slices.Equal(res.Kept, want) {
		t.Errorf("kept = %v, want %v", res.Kept, want)
	}
	wantDeleted := []string{ids[5], ids[2], ids[1]}
	if !slices.Equal(idsOf(res.Deleted), wantDeleted) {
		t.Errorf("deleted = %v, want %v", res.Deleted, wantDeleted)
	}
	if len(res.Skipped) != 2 || len(res.Damaged) != 1 {
		t.Errorf("skipped = %v, damaged = %v; want the in-progress and in-use ones skipped, the damaged one reported", res.Skipped, res.Damaged)
	}
	l, _ := List(context.Background(), p)
	var left []string
	for _, e := range l.Backups {
		left = append(left, e.ID)
	}
	if want := []string{ids[7], ids[6], ids[4], ids[3], ids[0]}; !slices.Equal(left, want) {
		t.Errorf("left = %v, want %v", left, want)
	}
	// Keep 1 never deletes the newest complete backup.
	unlockRead()
	res, err = Prune(ctx, p, PruneOptions{Keep: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Kept, []string{ids[6]}) || !slices.Contains(idsOf(res.Deleted), ids[0]) || !slices.Contains(idsOf(res.Deleted), ids[3]) {
		t.Errorf("prune 1: kept %v deleted %v", res.Kept, res.Deleted)
	}
	if _, err := os.Stat(lockPath(Dir(p), ids[0])); err == nil {
		t.Error("the lock file of a deleted backup is left")
	}
}

// idsOf returns the ids of "id (reason)" entries.
func idsOf(entries []string) []string {
	var out []string
	for _, e := range entries {
		id, _, _ := strings.Cut(e, " ")
		out = append(out, strings.TrimSuffix(id, ":"))
	}
	return out
}

// The case: 4 good backups, then 3 newer damaged ones (a flipped
// byte in a data file, a flipped toc.dat, a truncated file). prune --keep 3
// keeps the 3 newest good ones and the damaged ones, deletes the oldest good
// one, and says which are damaged; list then shows what it found.
func TestPruneKeepsWhatRestores(t *testing.T) {
	ctx := context.Background()
	p, ids := fakeBackups(t, Complete, Complete, Complete, Complete, Complete, Complete, Complete)
	root := Dir(p)
	flip := func(rel string) {
		path := filepath.Join(root, rel)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		data[0] ^= 0x01
		os.WriteFile(path, data, 0o600)
	}
	flip(ids[4] + "/dump/3001.dat.lz4")
	flip(ids[5] + "/dump/toc.dat")
	if err := os.Truncate(filepath.Join(root, ids[6], "dump/3001.dat.lz4"), 3); err != nil {
		t.Fatal(err)
	}

	// A dry run deletes nothing and says what it would.
	res, err := Prune(ctx, p, PruneOptions{Keep: 3, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := List(context.Background(), p); len(l.Backups) != 7 {
		t.Fatalf("dry run deleted: %d backups left", len(l.Backups))
	}
	if !slices.Equal(idsOf(res.Deleted), []string{ids[0]}) {
		t.Errorf("dry run would delete %v, want %s", res.Deleted, ids[0])
	}

	res, err = Prune(ctx, p, PruneOptions{Keep: 3})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{ids[3], ids[2], ids[1]}; !slices.Equal(res.Kept, want) {
		t.Errorf("kept = %v, want the 3 newest good ones %v", res.Kept, want)
	}
	if want := []string{ids[6], ids[5], ids[4]}; !slices.Equal(idsOf(res.Damaged), want) {
		t.Errorf("damaged = %v, want %v", res.Damaged, want)
	}
	if !slices.Equal(idsOf(res.Deleted), []string{ids[0]}) {
		t.Errorf("deleted = %v, want only the oldest good one %s", res.Deleted, ids[0])
	}
	l, err := List(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]State{}
	for _, e := range l.Backups {
		states[e.ID] = e.State
		if e.LastCheck == nil {
			t.Errorf("%s: no last check recorded", e.ID)
		}
	}
	for i, want := range map[int]State{1: Verified, 2: Verified, 3: Verified, 4: Damaged, 5: Damaged, 6: Damaged} {
		if states[ids[i]] != want {
			t.Errorf("list: %s is %q, want %q", ids[i], states[ids[i]], want)
		}
	}
	if !strings.Contains(l.Human(), "DAMAGED") {
		t.Errorf("list does not say DAMAGED:\n%s", l.Human())
	}

	// Never fewer than N verified when it could have: with keep 5 and only
	// 3 good ones, nothing good goes.
	res, err = Prune(ctx, p, PruneOptions{Keep: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Deleted) != 0 || len(res.Kept) != 3 {
		t.Errorf("keep 5 with 3 good: kept %v, deleted %v", res.Kept, res.Deleted)
	}
	res, err = Prune(ctx, p, PruneOptions{Keep: 3, DeleteDamaged: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{ids[6], ids[5], ids[4]}; !slices.Equal(idsOf(res.Deleted), want) {
		t.Errorf("--delete-damaged deleted %v, want %v", res.Deleted, want)
	}
}
