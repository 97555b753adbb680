package demo

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/splitschema/splitschema"
	"github.com/splitschema/splitschema/internal/manifest"
)

// Names of what the demo creates on the server. The roles carry RolePrefix
// so that they never meet a real project's roles.
const (
	Database            = "splitschema_demo"
	IndependentDatabase = "splitschema_demo_independent"
	RolePrefix          = "demo_"
)

// writeProject writes the example shop into dir as a project of its own:
// the embedded schemas and migrations, settings that name the demo's
// database and role prefix, and a fresh backups folder. The services'
// secrets under dir/.splitschema are left in place between runs.
func writeProject(dir string) (*manifest.Project, error) {
	for _, sub := range []string{"schemas", "migrations", "backups", manifest.SettingsFile} {
		if err := os.RemoveAll(filepath.Join(dir, sub)); err != nil {
			return nil, fmt.Errorf("demo: clear the previous run: %w", err)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	if err := os.CopyFS(dir, splitschema.ExampleShop); err != nil {
		return nil, fmt.Errorf("demo: write the example shop into %s: %w", dir, err)
	}
	settings := fmt.Sprintf("# Written by `splitschema demo`; rewritten on every run.\n"+
		"database: %s\nbackups: backups\nnaming:\n  prefix: %s\nlock_timeout: 5s\n", Database, RolePrefix)
	if err := os.WriteFile(filepath.Join(dir, manifest.SettingsFile), []byte(settings), 0o600); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	p, err := manifest.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("demo: the embedded example shop does not load: %w", err)
	}
	return p, nil
}

// shopServices lists the example shop's services, from its embedded files.
func shopServices() ([]string, error) {
	entries, err := fs.ReadDir(splitschema.ExampleShop, "schemas")
	if err != nil {
		return nil, fmt.Errorf("demo: the embedded example shop: %w", err)
	}
	var out []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			out = append(out, name)
		}
	}
	return out, nil
}
