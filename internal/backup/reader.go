package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/splitschema/splitschema/internal/archive"
	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/target"
)

// Reader is a complete backup opened to read part of it (one service's
// rows, say): held with a shared lock so that prune cannot delete it, its
// manifest read and its table of contents checked against the manifest.
// Whatever else it hands to pg_restore it checks first with Verify: nothing
// is read from a file whose checksum was not checked.
type Reader struct {
	ID       string
	Dir      string
	Manifest *archive.Manifest
	restore  tool
	unlock   func()
	jobs     int
	// Warnings say what could not be checked (an unsigned backup, a
	// signature without a configured key).
	Warnings []string
}

// OpenReader opens backup id of project p for reading with the pg_restore
// of pgBinDir (see RestoreOptions.PgBinDir), which must be at least as new
// as the pg_dump that wrote the backup. Its manifest's signature is judged
// as restore judges it: a bad one, or an unsigned backup while a key is
// configured (unless allowUnsigned), is refused. srv, when set, is the server whose
// own client programs are preferred. Close releases it.
func OpenReader(ctx context.Context, p *manifest.Project, srv *target.Server, id, pgBinDir string, jobs int, allowUnsigned bool) (*Reader, error) {
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	// A backup in an object store is downloaded whole first, every file
	// checked as it arrives; the copy goes when the reader is closed.
	p, _, done, err := fetchIfRemote(ctx, p, id, jobs, allowUnsigned)
	if err != nil {
		return nil, err
	}
	root := Dir(p)
	dir, err := find(root, id)
	if err != nil {
		done()
		return nil, err
	}
	unlockBackup, err := lockBackup(root, id, false, true)
	if err != nil {
		done()
		return nil, err
	}
	unlock := func() { unlockBackup(); done() }
	r := &Reader{ID: id, Dir: dir, unlock: unlock, jobs: jobs}
	fail := func(err error) (*Reader, error) {
		unlock()
		return nil, err
	}
	if r.Manifest, err = archive.Read(dir); err != nil {
		return fail(err)
	}
	key, err := LoadKey(p)
	if err != nil {
		return fail(err)
	}
	_, problem, warning := judgeSignature(r.Manifest, key, allowUnsigned)
	if problem != "" {
		return fail(&ProblemsError{ID: id, Problems: []archive.Problem{{Path: archive.ManifestFile, Problem: problem}}})
	}
	if warning != "" {
		r.Warnings = append(r.Warnings, warning)
	}
	if err := r.Verify(ctx, []string{archive.DumpDir + "/toc.dat"}); err != nil {
		return fail(err)
	}
	if r.restore, err = findTool(ctx, "pg_restore", pgBinDir, srv); err != nil {
		return fail(err)
	}
	if r.restore.Major < r.Manifest.PgDump.Major {
		return fail(kindErrorf(ErrToolTooOld, "pg_restore %s (%s) is older than the pg_dump %s that wrote backup %s: install postgresql-client-%d or pass --pg-bindir with a newer one",
			r.restore.Full, r.restore.Path, r.Manifest.PgDump.Full, id, r.Manifest.PgDump.Major))
	}
	return r, nil
}

// Close releases the backup.
func (r *Reader) Close() { r.unlock() }

// DumpDir is the folder of the backup's pg_dump archive.
func (r *Reader) DumpDir() string { return filepath.Join(r.Dir, archive.DumpDir) }

// Verify checks the named files (paths relative to the backup folder, with
// forward slashes) against the manifest's sizes and SHA-256: each must be
// listed there and match. A mismatch is a *ProblemsError.
func (r *Reader) Verify(ctx context.Context, paths []string) error {
	listed := map[string]archive.File{}
	for _, f := range r.Manifest.Files {
		listed[f.Path] = f
	}
	var files []archive.File
	var problems []archive.Problem
	for _, p := range paths {
		f, ok := listed[p]
		if !ok {
			problems = append(problems, archive.Problem{Path: p, Problem: "not listed in the manifest"})
			continue
		}
		files = append(files, f)
	}
	more, err := archive.CheckFiles(ctx, r.Dir, files, r.jobs, nil)
	if err != nil {
		return fmt.Errorf("check backup %s: %w", r.ID, err)
	}
	problems = append(problems, more...)
	if len(problems) > 0 {
		return &ProblemsError{ID: r.ID, Problems: problems}
	}
	return nil
}

// TOC is the archive's table of contents as `pg_restore --list` prints it.
func (r *Reader) TOC(ctx context.Context) (string, error) {
	return listTOC(ctx, r.restore.Path, r.DumpDir())
}

// DataFiles returns the files, relative to the backup folder, that hold
// the data of the archive entries whose dump ids are given: pg_dump's
// directory format names them <id>.dat, with a compression suffix.
func (r *Reader) DataFiles(dumpIDs []int) ([]string, error) {
	want := map[string]int{}
	for _, id := range dumpIDs {
		want[fmt.Sprintf("%d.dat", id)] = id
	}
	var out []string
	found := map[int]bool{}
	for _, f := range r.Manifest.Files {
		dir, base := path.Split(f.Path)
		if dir != archive.DumpDir+"/" {
			continue
		}
		stem, _, _ := strings.Cut(base, ".dat")
		if id, ok := want[stem+".dat"]; ok {
			out = append(out, f.Path)
			found[id] = true
		}
	}
	for _, id := range dumpIDs {
		if !found[id] {
			return nil, &ProblemsError{ID: r.ID, Problems: []archive.Problem{{Path: fmt.Sprintf("%s/%d.dat", archive.DumpDir, id), Problem: "the archive's table of contents names it, the manifest does not list it"}}}
		}
	}
	return out, nil
}

// PgRestore runs the backup's pg_restore with args (the archive folder is
// appended) and env (target.Server.ToolEnv), its standard output written
// to stdout. It runs in a process group of its own, killed should ctx end
// or this process die.
func (r *Reader) PgRestore(ctx context.Context, args, env []string, stdout io.Writer) error {
	if stdout == nil {
		return errors.New("pg_restore: no output given")
	}
	return runTool(ctx, r.restore, append(args, r.DumpDir()), runOptions{env: env, stdout: stdout})
}
