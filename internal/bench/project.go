package bench

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/splitschema/splitschema"
	"github.com/splitschema/splitschema/internal/manifest"
)

// writeSettings writes a project's splitschema.yaml: its database, and a
// role prefix that keeps its roles apart from everyone else's.
func writeSettings(dir, database, prefix string) error {
	settings := fmt.Sprintf("# Written by the benchmark.\ndatabase: %s\nbackups: backups\nnaming:\n  prefix: %s\nlock_timeout: 5s\nretention:\n  keep: 3\n", database, prefix)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, manifest.SettingsFile), []byte(settings), 0o644)
}

// copyShop writes the example shop's service files and migrations (the
// ones embedded in the command) into a new project folder dir and loads it.
func copyShop(dir, database, prefix string) (*manifest.Project, error) {
	if err := os.CopyFS(dir, splitschema.ExampleShop); err != nil {
		return nil, fmt.Errorf("write the example shop into %s: %w", dir, err)
	}
	if err := writeSettings(dir, database, prefix); err != nil {
		return nil, fmt.Errorf("write the shop's settings: %w", err)
	}
	p, err := manifest.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("load the shop: %w", err)
	}
	return p, nil
}

// dirSize is the total size of the files under path (a file or a folder).
func dirSize(path string) (int64, error) {
	var n int64
	err := filepath.WalkDir(path, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			n += fi.Size()
		}
		return nil
	})
	return n, err
}
