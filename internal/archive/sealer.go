package archive

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Sealer hashes and seals (fsync, mode 0600) the files of a backup folder
// while they are still being written, as each is reported finished, so that
// little is left to do once the writer is done. It is only a head start:
// Finish walks the folder and hashes again every file that is new or
// changed since, so a missed or early report costs time, never
// correctness.
type Sealer struct {
	dir  string
	jobs chan struct{}
	wg   sync.WaitGroup
	ship Shipper
	ctx  context.Context
	keep []string // shipped, but kept in the folder
	// goneFiles and goneBytes count the files shipped and removed.
	goneFiles, goneBytes atomic.Int64

	mu     sync.Mutex
	done   map[string]sealed
	queued map[string]bool
	err    error
}

// sealed is a file hashed ahead, with what it looked like then.
type sealed struct {
	file  File
	mtime time.Time
	// shipped: the file was stored elsewhere and removed from the folder.
	shipped bool
}

// Shipper stores a sealed file somewhere else (a repository) and returns it
// as stored: f itself, or f with Stored set when what was stored differs
// from the file (encrypted). It must check that what it read is f (size and
// SHA-256).
type Shipper func(ctx context.Context, f File) (File, error)

// Ship makes the sealer hand every file to ship once it is hashed, and
// remove it from the folder once ship returned, but those named in keep:
// the folder then holds only the files on their way, not the whole
// backup. ctx bounds the shipping. Call it before Add.
func (s *Sealer) Ship(ctx context.Context, ship Shipper, keep ...string) {
	s.ctx, s.ship, s.keep = ctx, ship, keep
}

// seal hashes and seals rel and, with a shipper, ships and removes it.
func (s *Sealer) seal(rel string) (File, bool, error) {
	f, err := hashFile(s.dir, rel, s.ship == nil)
	if err != nil || s.ship == nil {
		return f, false, err
	}
	if f, err = s.ship(s.ctx, f); err != nil {
		return f, false, err
	}
	if slices.Contains(s.keep, rel) {
		return f, true, nil
	}
	if err := os.Remove(filepath.Join(s.dir, filepath.FromSlash(rel))); err != nil {
		return f, false, fmt.Errorf("remove %s once stored: %w", rel, err)
	}
	s.goneFiles.Add(1)
	s.goneBytes.Add(f.Size)
	return f, true, nil
}

// NewSealer returns a Sealer of dir that reads at most jobs files at once.
func NewSealer(dir string, jobs int) *Sealer {
	return &Sealer{dir: dir, jobs: make(chan struct{}, max(1, jobs)), done: map[string]sealed{}, queued: map[string]bool{}}
}

// Add reports that the file rel (relative to the folder) is complete; it
// is hashed and sealed in the background. Reports of the same file again
// are ignored until Finish.
func (s *Sealer) Add(rel string) {
	rel = filepath.ToSlash(rel)
	s.mu.Lock()
	if s.queued[rel] || s.err != nil {
		s.mu.Unlock()
		return
	}
	s.queued[rel] = true
	s.mu.Unlock()
	s.wg.Go(func() {
		s.jobs <- struct{}{}
		defer func() { <-s.jobs }()
		if s.Err() != nil {
			return // Finish reports it; no more work
		}
		fi, err := os.Stat(filepath.Join(s.dir, filepath.FromSlash(rel)))
		if err != nil || !fi.Mode().IsRegular() {
			return // gone or odd: Finish decides
		}
		f, shipped, err := s.seal(rel)
		s.mu.Lock()
		defer s.mu.Unlock()
		if err != nil {
			if s.err == nil {
				s.err = err
			}
			return
		}
		s.done[rel] = sealed{file: f, mtime: fi.ModTime(), shipped: shipped}
	})
}

// Gone returns how many files, and bytes, were shipped and removed from
// the folder so far.
func (s *Sealer) Gone() (files int, bytes int64) {
	return int(s.goneFiles.Load()), s.goneBytes.Load()
}

// Err returns the first error hashing, sealing or shipping a file met, or
// nil.
func (s *Sealer) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Wait waits for the files added so far.
func (s *Sealer) Wait() { s.wg.Wait() }

// Finish waits for the files added, then lists every file of the folder
// (manifest.json aside) with its size and SHA-256: those hashed ahead and
// unchanged since (same size and modification time) as they were, the
// others hashed and sealed now. It fsyncs every folder and returns the
// files sorted by path. With a shipper, the files shipped ahead are listed
// too, and those left are shipped now.
func (s *Sealer) Finish(ctx context.Context, jobs int) ([]File, error) {
	s.wg.Wait()
	if s.err != nil {
		return nil, fmt.Errorf("seal: %w", s.err)
	}
	var todo, dirs []string
	var files []File
	err := filepath.WalkDir(s.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(s.dir, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			dirs = append(dirs, path)
			return os.Chmod(path, DirMode)
		case rel == ManifestFile:
			return nil
		case !d.Type().IsRegular():
			return fmt.Errorf("%s: not a regular file", rel)
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if ahead, ok := s.done[rel]; ok && ahead.file.Size == fi.Size() && ahead.mtime.Equal(fi.ModTime()) {
			if !ahead.shipped {
				files = append(files, ahead.file)
			}
			return nil // a shipped one is listed below
		}
		todo = append(todo, rel)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list backup files: %w", err)
	}
	again := map[string]bool{} // shipped, then written again: shipped again
	for _, rel := range todo {
		again[rel] = true
	}
	for rel, ahead := range s.done {
		if ahead.shipped && !again[rel] {
			files = append(files, ahead.file)
		}
	}
	late := make([]File, len(todo))
	err = forEach(ctx, len(todo), jobs, func(i int) error {
		f, _, err := s.seal(todo[i])
		late[i] = f
		return err
	})
	if err != nil {
		return nil, err
	}
	files = append(files, late...)
	slices.Reverse(dirs) // deepest first
	for _, d := range dirs {
		if err := SyncDir(d); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return files, nil
}
