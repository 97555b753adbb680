package backup

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/splitschema/splitschema/internal/archive"
	"github.com/splitschema/splitschema/internal/manifest"
)

// Where the key that signs backups comes from, first found wins. Never
// from the command line, where ps shows it.
const (
	// KeyEnv holds the key itself (at least archive.MinKeyLen bytes).
	KeyEnv = "SPLITSCHEMA_BACKUP_KEY"
	// KeyFileEnv names a file that holds it.
	KeyFileEnv = "SPLITSCHEMA_BACKUP_KEY_FILE"
)

// LoadKey returns the project's backup key: $SPLITSCHEMA_BACKUP_KEY, else
// the file $SPLITSCHEMA_BACKUP_KEY_FILE names, else backup_key_file of
// splitschema.yaml; nil when none is configured. A key file must be
// readable by its owner only.
func LoadKey(p *manifest.Project) (*archive.Key, error) {
	if v := os.Getenv(KeyEnv); v != "" {
		return archive.NewKey([]byte(v), "$"+KeyEnv)
	}
	path, source := os.Getenv(KeyFileEnv), "$"+KeyFileEnv
	if path == "" && p.Settings.BackupKeyFile != "" {
		path, source = p.Settings.BackupKeyFile, "backup_key_file in "+manifest.SettingsFile
		if !filepath.IsAbs(path) {
			path = p.Path(path)
		}
	}
	if path == "" {
		return nil, nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("backup key (%s): %w", source, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("backup key file %s (%s) is readable by others (mode %v): chmod 600 it", path, source, fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("backup key (%s): %w", source, err)
	}
	return archive.NewKey(bytes.TrimRight(data, "\r\n"), path)
}
