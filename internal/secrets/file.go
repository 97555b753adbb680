package secrets

import (
	"fmt"
	"os"
	"path/filepath"
)

// Staged is a secrets file written under a temporary name, waiting for the
// transaction that sets its password to commit.
type Staged struct {
	tmp, path string
}

// Stage writes svc's secrets file, holding rawURL and, when not "", the
// password verifier the server stores for it (so that a later plan can tell
// the password is unchanged without deriving its keys again), under a
// temporary name next to its final place (folder mode 0700, file mode 0600,
// synced). Commit moves it into place; Discard removes it.
func Stage(dir, svc, rawURL, verifier string) (*Staged, error) {
	path := Path(dir, svc)
	folder := filepath.Dir(path)
	if err := os.MkdirAll(folder, 0o700); err != nil {
		return nil, fmt.Errorf("secrets folder: %w", err)
	}
	// MkdirAll keeps the mode of a folder that exists; secrets need 0700.
	if err := os.Chmod(folder, 0o700); err != nil {
		return nil, fmt.Errorf("secrets folder: %w", err)
	}
	f, err := os.CreateTemp(folder, "."+svc+".env.*")
	if err != nil {
		return nil, fmt.Errorf("write secrets of %s: %w", svc, err)
	}
	st := &Staged{tmp: f.Name(), path: path}
	// CreateTemp makes the file 0600 already; say so for the reader.
	err = f.Chmod(0o600)
	if err == nil {
		content := urlKey + "=" + rawURL + "\n"
		if verifier != "" {
			content += verifierPrefix + verifier + "\n"
		}
		_, err = f.WriteString(content)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		st.Discard()
		return nil, fmt.Errorf("write secrets of %s: %w", svc, err)
	}
	return st, nil
}

// Commit renames the staged file into place and syncs the folder.
func (s *Staged) Commit() error {
	if err := os.Rename(s.tmp, s.path); err != nil {
		return fmt.Errorf("write %s: %w", s.path, err)
	}
	d, err := os.Open(filepath.Dir(s.path))
	if err != nil {
		return fmt.Errorf("sync %s: %w", filepath.Dir(s.path), err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", filepath.Dir(s.path), err)
	}
	return nil
}

// Discard removes the staged file.
func (s *Staged) Discard() { _ = os.Remove(s.tmp) }
