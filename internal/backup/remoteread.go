package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"filippo.io/age"
	"golang.org/x/sync/errgroup"

	"github.com/splitschema/splitschema/internal/archive"
	"github.com/splitschema/splitschema/internal/crypt"
	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/repo"
)

// download is where readBackup writes what it reads.
type download struct {
	// dir receives the files, decrypted; "" reads them only to check.
	dir string
	ids []age.Identity
}

// readBackup reads every file of backup sb from the store, jobs at once,
// and checks each object's size and SHA-256 as stored against the
// manifest. With d.dir set it also writes each file there, decrypted, and
// checks the file's own size and SHA-256. It also finds the objects the
// manifest does not list. It returns the problems, in path order; an error
// means the check itself could not be made (the store could not be read).
func (r *repository) readBackup(ctx context.Context, sb *storedBackup, jobs int, d download) ([]archive.Problem, error) {
	m := sb.m
	var (
		mu       sync.Mutex
		problems []archive.Problem
	)
	add := func(path, format string, args ...any) {
		mu.Lock()
		problems = append(problems, archive.Problem{Path: path, Problem: fmt.Sprintf(format, args...)})
		mu.Unlock()
	}
	listed := map[string]bool{archive.ManifestFile: true}
	for _, f := range m.Files {
		listed[f.Path] = true
	}
	for _, o := range sb.objects {
		if rel := strings.TrimPrefix(o.Name, m.ID+"/"); !listed[rel] {
			add(rel, "in the repository, not in the manifest")
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, jobs))
	for _, f := range m.Files {
		g.Go(func() error {
			problem, err := r.readFile(gctx, m, f, d)
			if problem != "" {
				add(f.Path, "%s", problem)
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	slices.SortFunc(problems, func(a, b archive.Problem) int { return strings.Compare(a.Path, b.Path) })
	return problems, nil
}

// readFile reads one file of backup m from the store; see readBackup. It
// returns what is wrong with the file, or an error when it cannot be read.
func (r *repository) readFile(ctx context.Context, m *archive.Manifest, f archive.File, d download) (problem string, err error) {
	rc, err := r.store.Get(ctx, m.ID+"/"+f.Path)
	if errors.Is(err, repo.ErrNotExist) {
		return "missing from the repository", nil
	}
	if err != nil {
		return "", err
	}
	defer rc.Close()
	stored := newCounter()
	src := io.TeeReader(rc, stored)
	var opened string // what went wrong decrypting or writing, if anything
	if d.dir != "" {
		if opened, err = writeFile(filepath.Join(d.dir, filepath.FromSlash(f.Path)), src, f, m.Encryption != nil, d.ids); err != nil {
			return "", err
		}
	}
	if _, err := io.Copy(io.Discard, src); err != nil {
		return "", fmt.Errorf("download %s of backup %s: %w", f.Path, m.ID, err)
	}
	want := f.StoredAs()
	switch got := stored.sum(); {
	case stored.n != want.Size:
		return fmt.Sprintf("stored size %d bytes, the manifest says %d: changed in the repository", stored.n, want.Size), nil
	case got != want.SHA256:
		return fmt.Sprintf("stored SHA-256 %s, the manifest says %s: changed in the repository", got[:16], want.SHA256[:16]), nil
	}
	return opened, nil
}

// writeFile writes the file src holds (encrypted or not) to path and checks
// it against f. It returns what is wrong with it, or an error when the
// local file cannot be written.
func writeFile(path string, src io.Reader, f archive.File, encrypted bool, ids []age.Identity) (string, error) {
	if err := os.MkdirAll(filepath.Dir(path), archive.DirMode); err != nil {
		return "", err
	}
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, archive.FileMode)
	if err != nil {
		return "", err
	}
	defer out.Close()
	plain := newCounter()
	w := io.MultiWriter(out, plain)
	if encrypted {
		dr, err := crypt.Decrypt(src, ids)
		if err != nil {
			return "cannot be decrypted: " + err.Error(), nil
		}
		if _, err := io.Copy(w, dr); err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				return "", fmt.Errorf("write %s: %w", path, err)
			}
			return "cannot be decrypted (changed in the repository?): " + err.Error(), nil
		}
	} else if _, err := io.Copy(w, src); err != nil {
		return "", fmt.Errorf("download into %s: %w", path, err)
	}
	if err := out.Close(); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	if err := plain.same(f, "downloaded"); err != nil {
		return "its content differs from the manifest's size and SHA-256 once decrypted", nil
	}
	return "", nil
}

// checkRemote checks backup id in the store as checkDir checks a folder:
// the manifest's checksum and signature, then every object's size and
// SHA-256 as stored. It needs no identity: what is stored is checked, not
// decrypted.
func (r *repository) checkRemote(ctx context.Context, id string, jobs int, key *archive.Key, allowUnsigned bool) (*CheckResult, error) {
	sb, err := r.find(ctx, id)
	if err != nil {
		return nil, err
	}
	res := newCheckResult(sb.m, r.objectPath(id), key, allowUnsigned)
	if sb.m.Encryption != nil {
		res.Warnings = append(res.Warnings, "encrypted: the stored bytes were checked, not decrypted; `backup verify --restore-test` decrypts and restores them (it needs the identity)")
	}
	problems, err := r.readBackup(ctx, sb, jobs, download{})
	if err != nil {
		return nil, err
	}
	res.addProblems(problems)
	return res, nil
}

// fetch downloads complete backup id into a new folder of the spool,
// checking every object as it arrives and decrypting it, and returns p as
// it reads that copy, the check made, and a function that removes the
// copy. A wrong or missing identity is refused before anything is
// downloaded. A damaged backup gives the check and a *ProblemsError.
func (r *repository) fetch(ctx context.Context, p *manifest.Project, id string, jobs int, allowUnsigned bool) (*manifest.Project, *CheckResult, func(), error) {
	key, err := LoadKey(p)
	if err != nil {
		return nil, nil, nil, err
	}
	sb, err := r.find(ctx, id)
	if err != nil {
		return nil, nil, nil, err
	}
	res := newCheckResult(sb.m, r.objectPath(id), key, allowUnsigned)
	if !res.OK {
		r.recordCheck(ctx, res)
		return nil, res, nil, &ProblemsError{ID: id, Problems: res.Problems}
	}
	ids, err := r.identities(ctx, sb.m)
	if err != nil {
		return nil, nil, nil, err
	}
	// A prune on this machine leaves it alone while it downloads.
	unlock, err := lockBackup(r.spool, id, false, true)
	if err != nil {
		return nil, nil, nil, err
	}
	defer unlock()
	dir, err := r.spoolDir("fetch-" + id)
	if err != nil {
		return nil, nil, nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	problems, err := r.readBackup(ctx, sb, jobs, download{dir: filepath.Join(dir, id), ids: ids})
	if err != nil {
		cleanup()
		return nil, nil, nil, fmt.Errorf("download backup %s from %s: %w", id, r, err)
	}
	res.addProblems(problems)
	r.recordCheck(ctx, res)
	if !res.OK {
		cleanup()
		return nil, res, nil, &ProblemsError{ID: id, Problems: res.Problems}
	}
	// The manifest goes in as it is stored: its seal and signature are
	// checked again when the copy is read.
	if err := archive.WriteFileSync(filepath.Join(dir, id, archive.ManifestFile), sb.raw); err != nil {
		cleanup()
		return nil, nil, nil, fmt.Errorf("backup %s: write its manifest into %s: %w", id, dir, err)
	}
	return WithFolder(p, dir), res, cleanup, nil
}
