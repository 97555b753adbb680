package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// FileMode and DirMode are the permissions of everything in a backup.
const (
	FileMode os.FileMode = 0o600
	DirMode  os.FileMode = 0o700
)

func hashFile(dir, rel string, seal bool) (File, error) {
	path := filepath.Join(dir, filepath.FromSlash(rel))
	f, err := os.Open(path)
	if err != nil {
		return File{}, fmt.Errorf("hash %s: %w", rel, err)
	}
	defer f.Close()
	h := sha256.New()
	buf := make([]byte, 1<<20)
	n, err := io.CopyBuffer(h, f, buf)
	if err != nil {
		return File{}, fmt.Errorf("hash %s: %w", rel, err)
	}
	if seal {
		if err := f.Chmod(FileMode); err != nil {
			return File{}, fmt.Errorf("seal %s: %w", rel, err)
		}
		if err := f.Sync(); err != nil {
			return File{}, fmt.Errorf("sync %s: %w", rel, err)
		}
	}
	return File{Path: rel, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// Problem is one file of a backup that does not match its manifest.
type Problem struct {
	Path    string `json:"file"`
	Problem string `json:"problem"`
}

// String renders "file: problem".
func (p Problem) String() string { return p.Path + ": " + p.Problem }

// Check compares the files in dir with m.Files: every listed file must be
// there with its size and SHA-256, and no other file may be. It returns the
// problems found, in path order; an error means the check itself could not
// run. done, when set, is called after each file read with its size.
func Check(ctx context.Context, dir string, m *Manifest, jobs int, done func(int64)) ([]Problem, error) {
	want := map[string]File{}
	for _, f := range m.Files {
		want[f.Path] = f
	}
	var problems []Problem
	var mu sync.Mutex
	add := func(p Problem) {
		mu.Lock()
		problems = append(problems, p)
		mu.Unlock()
	}
	// Files on disk the manifest does not list.
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() || rel == ManifestFile {
			return nil
		}
		if _, ok := want[rel]; !ok {
			add(Problem{rel, "not listed in the manifest"})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list backup files: %w", err)
	}
	more, err := CheckFiles(ctx, dir, m.Files, jobs, done)
	if err != nil {
		return nil, err
	}
	problems = append(problems, more...)
	slices.SortFunc(problems, func(a, b Problem) int { return strings.Compare(a.Path, b.Path) })
	return problems, nil
}

// CheckFiles compares the files of dir named in files, and only those,
// with their size and SHA-256: a reader of part of a backup checks what
// it reads. It returns the problems found, in path order.
func CheckFiles(ctx context.Context, dir string, files []File, jobs int, done func(int64)) ([]Problem, error) {
	var problems []Problem
	var mu sync.Mutex
	add := func(p Problem) {
		mu.Lock()
		problems = append(problems, p)
		mu.Unlock()
	}
	err := forEach(ctx, len(files), jobs, func(i int) error {
		w := files[i]
		got, err := hashFile(dir, w.Path, false)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			add(Problem{w.Path, "missing"})
			return nil
		case err != nil:
			add(Problem{w.Path, fmt.Sprintf("unreadable: %v", errors.Unwrap(err))})
			return nil
		}
		if done != nil {
			done(got.Size)
		}
		switch {
		case got.Size != w.Size:
			add(Problem{w.Path, fmt.Sprintf("size %d bytes, the manifest says %d", got.Size, w.Size)})
		case got.SHA256 != w.SHA256:
			add(Problem{w.Path, fmt.Sprintf("SHA-256 %s, the manifest says %s: the file was changed or damaged", short(got.SHA256), short(w.SHA256))})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(problems, func(a, b Problem) int { return strings.Compare(a.Path, b.Path) })
	return problems, nil
}

func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12] + "…"
	}
	return sum
}

// forEach runs fn(0..n-1) on at most jobs goroutines and returns the first
// error; after an error or ctx's end no new call starts.
func forEach(ctx context.Context, n, jobs int, fn func(i int) error) error {
	if jobs < 1 {
		jobs = 1
	}
	jobs = min(jobs, n)
	var (
		next     int
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	take := func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr != nil || next >= n {
			return 0, false
		}
		if err := ctx.Err(); err != nil {
			firstErr = err
			return 0, false
		}
		i := next
		next++
		return i, true
	}
	for range jobs {
		wg.Go(func() {
			for {
				i, ok := take()
				if !ok {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}
