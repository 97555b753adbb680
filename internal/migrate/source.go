package migrate

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/pressly/goose/v3"

	"github.com/splitschema/splitschema/internal/manifest"
)

// MigrationsDir is the folder, relative to the project, that holds one
// folder of goose SQL migrations per service. Plain files directly in it
// (such as sqlc-schemas.sql) are not migrations.
const MigrationsDir = "migrations"

// ServiceDir is the migrations folder of a service, relative to the project.
func ServiceDir(service string) string { return path.Join(MigrationsDir, service) }

// LoadFiles reads and parses every migration of the service, in version
// order. A service without a migrations folder has none. Files whose names
// do not start with a version number are ignored, as goose ignores them;
// Go migrations and duplicate versions are errors.
func LoadFiles(p *manifest.Project, service string) ([]*File, error) {
	dir := p.Path(MigrationsDir, service)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("service %s: read migrations: %w", service, err)
	}
	var files []*File
	seen := map[int64]string{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") {
			continue
		}
		rel := path.Join(ServiceDir(service), name)
		version, verr := goose.NumericComponent(name)
		switch {
		case strings.HasSuffix(name, ".go") && verr == nil && !strings.HasSuffix(name, "_test.go"):
			return nil, &ParseError{Path: rel, Msg: "Go migrations are not supported: splitschema runs SQL migrations only, as the service's owner role"}
		case !strings.HasSuffix(name, ".sql") || verr != nil:
			continue
		}
		if other, dup := seen[version]; dup {
			return nil, &ParseError{Path: rel, Msg: fmt.Sprintf("version %d is also the version of %s; every migration needs its own version", version, other)}
		}
		seen[version] = name
		data, err := os.ReadFile(p.Path(MigrationsDir, service, name))
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", service, err)
		}
		f, err := ParseSQL(rel, data)
		if err != nil {
			return nil, err
		}
		f.Version = version
		files = append(files, f)
	}
	slices.SortFunc(files, func(a, b *File) int { return cmp.Compare(a.Version, b.Version) })
	return files, nil
}

// Base is the file name of the migration.
func (f *File) Base() string { return path.Base(f.Path) }
