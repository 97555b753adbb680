package scaffold

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/migrate"
)

// RemoveService deletes the files of service name from the project in
// dir: its service file, its migrations, queries and generated code, and
// its secrets file; or, with dryRun, only lists them (Action ToDelete).
// sqlc.yaml and the sqlc schema list are left for a person to edit, as the
// Next steps say. A service another one links to is refused.
func RemoveService(dir, name string, secretsFile string, dryRun bool) (*Result, error) {
	p, err := manifest.Load(dir)
	if err != nil {
		return nil, err
	}
	svc := p.Service(name)
	if svc == nil {
		return nil, fmt.Errorf("no service %q in %s/", name, manifest.SchemasDir)
	}
	if deps := p.Dependants(name); len(deps) > 0 {
		return nil, fmt.Errorf("service %s is linked to by %s: remove those links first, then %s", name, strings.Join(deps, ", "), name)
	}
	var files []FileResult
	var remove []string
	for _, rel := range []string{svc.File, migrate.ServiceDir(name), path.Join("queries", name), path.Join("gen", name), secretsFile} {
		if rel == "" {
			continue
		}
		full := filepath.Join(dir, filepath.FromSlash(rel))
		if filepath.IsAbs(rel) {
			full = rel
		}
		if _, err := os.Lstat(full); errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return nil, err
		}
		action := Deleted
		if dryRun {
			action = ToDelete
		}
		files = append(files, FileResult{Path: rel, Action: action})
		remove = append(remove, full)
	}
	if !dryRun {
		for _, f := range remove {
			if err := os.RemoveAll(f); err != nil {
				return nil, fmt.Errorf("service remove %s: %w", name, err)
			}
		}
	}
	return &Result{Dir: dir, Files: files, Next: []string{
		"remove the package of " + name + " (queries: queries/" + name + ") from " + SqlcFile + ", and its CREATE SCHEMA " + svc.Schema + " line from " + SqlcSchemasSQL,
	}}, nil
}
