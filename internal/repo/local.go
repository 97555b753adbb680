package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Local is a repository in a local folder.
type Local struct {
	root string
}

// NewLocal opens the folder root as a repository. It does not create it.
func NewLocal(root string) *Local { return &Local{root: root} }

// String names the folder.
func (l *Local) String() string { return l.root }

// Check proves the folder exists and is a folder.
func (l *Local) Check(ctx context.Context) error {
	st, err := os.Stat(l.root)
	if err != nil {
		return fmt.Errorf("repository %s: %w", l.root, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("repository %s: not a folder", l.root)
	}
	return nil
}

// Put writes r into a temporary file beside name, syncs it and renames it
// into place, so a failed Put leaves nothing under name.
func (l *Local) Put(ctx context.Context, name string, r io.Reader, size int64) (err error) {
	if err := checkName(name); err != nil {
		return err
	}
	path := filepath.Join(l.root, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("repository %s: %w", l.root, err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".put-*")
	if err != nil {
		return fmt.Errorf("repository %s: %w", l.root, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	n, err := io.Copy(f, readerCtx{ctx, r})
	if err != nil {
		return fmt.Errorf("repository %s: write %s: %w", l.root, name, err)
	}
	if size >= 0 && n != size {
		return fmt.Errorf("repository %s: write %s: got %d bytes, want %d", l.root, name, n, size)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("repository %s: sync %s: %w", l.root, name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("repository %s: close %s: %w", l.root, name, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("repository %s: %w", l.root, err)
	}
	return nil
}

type readerCtx struct {
	ctx context.Context
	r   io.Reader
}

func (r readerCtx) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

// Get opens a file for reading.
func (l *Local) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(l.root, filepath.FromSlash(name)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("repository %s: %s: %w", l.root, name, ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("repository %s: %w", l.root, err)
	}
	return f, nil
}

// List returns the regular files under prefix, in name order, leaving out
// Put's temporary files.
func (l *Local) List(ctx context.Context, prefix string) ([]Object, error) {
	var out []Object
	err := filepath.WalkDir(l.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() || strings.HasPrefix(d.Name(), ".put-") {
			return nil
		}
		rel, err := filepath.Rel(l.root, path)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if !strings.HasPrefix(name, prefix) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, Object{Name: name, Size: info.Size(), Modified: info.ModTime()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("repository %s: list %s: %w", l.root, prefix, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Delete removes a file; a missing one is no error.
func (l *Local) Delete(ctx context.Context, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	err := os.Remove(filepath.Join(l.root, filepath.FromSlash(name)))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("repository %s: %w", l.root, err)
	}
	return nil
}
