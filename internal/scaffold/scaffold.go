// Package scaffold writes the files of a new splitschema project (Init) and
// of a new service in one (AddService), from templates embedded in the
// binary. Neither ever overwrites a file: every path is checked first, and
// when one already exists nothing at all is written.
package scaffold

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/template"
)

//go:embed templates
var templateFS embed.FS

var templates = template.Must(template.New("").ParseFS(templateFS, "templates/*.tmpl", "templates/service/*.tmpl"))

// Action says what happened to a file.
type Action string

// The actions on a file.
const (
	Created Action = "created"
	// Updated: an existing file got lines appended (sqlc.yaml,
	// sqlc-schemas.sql, .gitignore); nothing in it was changed.
	Updated Action = "updated"
	// Deleted: service remove deleted it; ToDelete: it would (its plan).
	Deleted  Action = "deleted"
	ToDelete Action = "to delete"
)

// FileResult is one file written.
type FileResult struct {
	// Path is relative to the project folder, with slashes.
	Path   string `json:"path"`
	Action Action `json:"action"`
}

// Result lists what Init or AddService wrote, and what to do next.
type Result struct {
	Dir   string       `json:"dir"`
	Files []FileResult `json:"files"`
	// Notes are remarks worth reading (a check that could not be made...).
	Notes []string `json:"notes,omitempty"`
	Next  []string `json:"next"`
}

// Human renders the result for a terminal.
func (r *Result) Human() string {
	var b strings.Builder
	for _, f := range r.Files {
		fmt.Fprintf(&b, "%-7s %s\n", f.Action, filepath.ToSlash(filepath.Join(r.Dir, f.Path)))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	if len(r.Next) > 0 {
		b.WriteString("next:\n")
		for _, n := range r.Next {
			fmt.Fprintf(&b, "  %s\n", n)
		}
	}
	return b.String()
}

// ExistsError is returned when a file to be created already exists;
// nothing was written.
type ExistsError struct {
	Paths []string
}

func (e *ExistsError) Error() string {
	return fmt.Sprintf("%s already exists; nothing was written (splitschema never overwrites a file: move it away first)", strings.Join(e.Paths, ", "))
}

// change is one file to write: created (must not exist) or appended to.
type change struct {
	rel    string // slash-separated, relative to the project
	data   []byte
	action Action
}

// plan collects the changes of one command and applies them all or none.
type plan struct {
	dir     string
	changes []change
}

func (pl *plan) create(rel string, data []byte) {
	pl.changes = append(pl.changes, change{rel: rel, data: data, action: Created})
}

// replace rewrites an existing file whose new content keeps the old one
// (lines appended); it is written to a temporary name and renamed.
func (pl *plan) replace(rel string, data []byte) {
	pl.changes = append(pl.changes, change{rel: rel, data: data, action: Updated})
}

// check fails with an *ExistsError naming every file to create that exists.
func (pl *plan) check() error {
	var exists []string
	for _, c := range pl.changes {
		if c.action != Created {
			continue
		}
		if _, err := os.Lstat(filepath.Join(pl.dir, filepath.FromSlash(c.rel))); err == nil {
			exists = append(exists, filepath.ToSlash(filepath.Join(pl.dir, c.rel)))
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("check %s: %w", c.rel, err)
		}
	}
	if len(exists) > 0 {
		return &ExistsError{Paths: exists}
	}
	return nil
}

// apply writes every change. New files are created exclusively; should
// one fail, the files created so far are removed again.
func (pl *plan) apply() ([]FileResult, error) {
	if err := pl.check(); err != nil {
		return nil, err
	}
	var created []string
	var createdDirs []string
	undo := func() {
		for i := len(created) - 1; i >= 0; i-- {
			os.Remove(created[i])
		}
		for i := len(createdDirs) - 1; i >= 0; i-- {
			os.Remove(createdDirs[i]) // only when empty
		}
	}
	var out []FileResult
	for _, c := range pl.changes {
		path := filepath.Join(pl.dir, filepath.FromSlash(c.rel))
		dirs, err := mkdirAll(filepath.Dir(path))
		createdDirs = append(createdDirs, dirs...)
		if err != nil {
			undo()
			return nil, err
		}
		switch c.action {
		case Created:
			if err := writeNew(path, c.data); err != nil {
				undo()
				return nil, err
			}
			created = append(created, path)
		case Updated:
			if err := writeReplace(path, c.data); err != nil {
				undo()
				return nil, err
			}
		}
		out = append(out, FileResult{Path: c.rel, Action: c.action})
	}
	return out, nil
}

// mkdirAll creates dir and its missing parents and returns those it created.
func mkdirAll(dir string) ([]string, error) {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create folder: %w", err)
	}
	slices.Reverse(missing)
	return missing, nil
}

// writeNew creates path (mode 0644), failing when it exists.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return &ExistsError{Paths: []string{path}}
		}
		return fmt.Errorf("create %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// writeReplace replaces path's content through a temporary file and a
// rename, keeping its mode.
func writeReplace(path string, data []byte) error {
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("update %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("update %s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("update %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("update %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("update %s: %w", path, err)
	}
	return nil
}

func render(name string, data any) []byte {
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, name, data); err != nil {
		panic(fmt.Sprintf("scaffold: template %s: %v", name, err)) // the templates are part of the binary
	}
	return b.Bytes()
}
