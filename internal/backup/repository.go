package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/splitschema/splitschema/internal/archive"
	"github.com/splitschema/splitschema/internal/crypt"
	"github.com/splitschema/splitschema/internal/manifest"
	"github.com/splitschema/splitschema/internal/repo"
)

// An object store repository holds each backup under <id>/, with the same
// paths as a backup folder: manifest.json, roles.json, roles.sql, dump/...
// The manifest is stored last and never encrypted, so that list and prune
// work without the identity; with encryption configured every other file
// is encrypted on its own, and the manifest records each one's stored size
// and SHA-256 beside the file's own. A backup without a manifest is not
// complete. A failed backup leaves <id>/FAILED, saying why, when the store
// can still be reached. The outcome of each backup's last check is kept in
// .checks/<id>.json, as a folder keeps it in .checks/.
//
// Files pass through a local spool folder: a backup writes there and each
// file is uploaded and removed as soon as pg_dump closed it and it is
// hashed; a restore downloads there. The spool also holds the locks and
// failure notes of the backups this machine ran.

// staleAfter is how old the newest object of a backup without manifest
// must be before a machine that did not write it treats it as abandoned:
// another machine may be writing it.
const staleAfter = 24 * time.Hour

// repository is where a project's backups are kept.
type repository struct {
	loc repo.Location
	// store is the object store; nil for a local folder.
	store repo.Store
	// spool is the local folder files pass through (object store only).
	spool string
	// recipients encrypt what is stored; nil: not encrypted.
	recipients []age.Recipient
	// recipientKeys are the recipients as written in the settings.
	recipientKeys []string
	// identityFile is the identity file of the settings, absolute, or "".
	identityFile string
}

// openRepository reads where p's backups are kept and checks the settings
// that go with it, contacting nothing.
func openRepository(p *manifest.Project) (*repository, error) {
	loc, err := repo.Parse(p.Settings.Backups)
	if err != nil {
		return nil, fmt.Errorf("backups: %w", err)
	}
	r := &repository{loc: loc}
	enc := p.Settings.Encryption
	if !loc.IsS3() {
		if len(enc.Recipients) > 0 {
			return nil, fmt.Errorf("encryption: recipients are set, but the backups go to the local folder %s, whose files are not encrypted; encryption is for object store repositories (backups: s3://...). Remove encryption: from %s to back up to a folder unencrypted", Dir(p), manifest.SettingsFile)
		}
		return r, nil
	}
	if len(enc.Recipients) > 0 {
		if r.recipients, err = crypt.ParseRecipients(enc.Recipients); err != nil {
			return nil, err
		}
		r.recipientKeys = enc.Recipients
	}
	if enc.IdentityFile != "" {
		r.identityFile = projectPath(p, enc.IdentityFile)
	}
	s3 := p.Settings.S3
	r.store, err = repo.NewS3(loc, repo.S3Options{Endpoint: s3.Endpoint, Region: s3.Region, PathStyle: s3.PathStyle, Insecure: s3.AllowHTTP}, repo.Credentials())
	if err != nil {
		return nil, err
	}
	spool := s3.Spool
	if spool == "" {
		spool = filepath.Join(".splitschema", "spool")
	}
	r.spool = filepath.Join(projectPath(p, spool), loc.Bucket, filepath.FromSlash(loc.Prefix))
	return r, nil
}

// remote tells whether the backups are in an object store.
func (r *repository) remote() bool { return r.store != nil }

// String names the repository.
func (r *repository) String() string { return r.store.String() }

// objectPath is the address of backup id in the store.
func (r *repository) objectPath(id string) string {
	return fmt.Sprintf("s3://%s/%s%s/", r.loc.Bucket, r.loc.Prefix, id)
}

// check proves, before a backup starts, that the store can be reached with
// the credentials given, the bucket exists and an object can be written
// and deleted there.
func (r *repository) check(ctx context.Context, id string) error {
	if err := r.store.Check(ctx); err != nil {
		return err
	}
	probe := probeDir + "/" + id
	if err := r.store.Put(ctx, probe, strings.NewReader("splitschema write probe\n"), -1); err != nil {
		return fmt.Errorf("the repository cannot be written to: %w", err)
	}
	if err := r.store.Delete(ctx, probe); err != nil {
		return fmt.Errorf("the repository lets objects be written but not deleted (prune needs that): %w", err)
	}
	return nil
}

// Names in an object store repository besides the backups' own.
const (
	probeDir     = ".probe"
	remoteChecks = ".checks"
	// noteTimeout bounds the attempt to mark a failed backup in the store,
	// which may be what failed; cleanupTimeout bounds deleting what it
	// uploaded, once the store answered.
	noteTimeout    = 10 * time.Second
	cleanupTimeout = 2 * time.Minute
)

// identities loads the identities that decrypt m's files, and proves one
// of them opens the backup by decrypting the header of its smallest file,
// so that a wrong identity is refused before anything is downloaded or
// created.
func (r *repository) identities(ctx context.Context, m *archive.Manifest) ([]age.Identity, error) {
	if m.Encryption == nil {
		return nil, nil
	}
	ids, err := crypt.LoadIdentities(r.identityFile)
	if err != nil {
		return nil, fmt.Errorf("backup %s is encrypted (to %s): %w", m.ID, strings.Join(m.Encryption.Recipients, ", "), err)
	}
	var small *archive.File
	for i, f := range m.Files {
		if small == nil || f.Size < small.Size {
			small = &m.Files[i]
		}
	}
	if small == nil {
		return ids, nil
	}
	rc, err := r.store.Get(ctx, m.ID+"/"+small.Path)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if _, err := crypt.Decrypt(rc, ids); err != nil {
		return nil, fmt.Errorf("backup %s, %s: %w", m.ID, small.Path, err)
	}
	return ids, nil
}

// readManifest downloads backup id's manifest and parses it; it returns
// its bytes too.
func (r *repository) readManifest(ctx context.Context, id string) (*archive.Manifest, []byte, error) {
	rc, err := r.store.Get(ctx, id+"/"+archive.ManifestFile)
	if errors.Is(err, repo.ErrNotExist) {
		return nil, nil, fmt.Errorf("%s%s: %w", r.objectPath(id), archive.ManifestFile, archive.ErrNoManifest)
	}
	if err != nil {
		return nil, nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxManifest))
	if err != nil {
		return nil, nil, fmt.Errorf("download %s%s: %w", r.objectPath(id), archive.ManifestFile, err)
	}
	m, err := archive.Parse(r.objectPath(id), data)
	return m, data, err
}

// maxManifest bounds what is read of a manifest.
const maxManifest = 256 << 20

// recordCheck stores a check's outcome for list; failing to is not worth
// failing the check for.
func (r *repository) recordCheck(ctx context.Context, res *CheckResult) {
	data, err := json.Marshal(lastCheckOf(res, "manifest checksum, signature, and the stored size and SHA-256 of every object"))
	if err != nil {
		return
	}
	_ = r.store.Put(ctx, remoteChecks+"/"+res.ID+".json", bytes.NewReader(data), int64(len(data)))
}

// readCheck returns the record of backup id's last check, or nil.
func (r *repository) readCheck(ctx context.Context, id string) *LastCheck {
	rc, err := r.store.Get(ctx, remoteChecks+"/"+id+".json")
	if err != nil {
		return nil
	}
	defer rc.Close()
	var lc LastCheck
	if err := json.NewDecoder(io.LimitReader(rc, 1<<20)).Decode(&lc); err != nil {
		return nil
	}
	return &lc
}

// deleteAll deletes every object of backup id and the record of its last
// check.
func (r *repository) deleteAll(ctx context.Context, id string) error {
	if err := r.deleteObjects(ctx, id, ""); err != nil {
		return err
	}
	return r.store.Delete(ctx, remoteChecks+"/"+id+".json")
}

// deleteObjects deletes every object of backup id but <id>/keep (keep ""
// keeps none), the manifest first so that what is left never looks
// complete.
func (r *repository) deleteObjects(ctx context.Context, id, keep string) error {
	objs, err := r.store.List(ctx, id+"/")
	if err != nil {
		return err
	}
	if err := r.store.Delete(ctx, id+"/"+archive.ManifestFile); err != nil {
		return err
	}
	for _, o := range objs {
		if o.Name == id+"/"+archive.ManifestFile || keep != "" && o.Name == id+"/"+keep {
			continue
		}
		if err := r.store.Delete(ctx, o.Name); err != nil {
			return err
		}
	}
	return nil
}

// WithFolder returns a copy of p whose backups are in the folder dir,
// unencrypted (a backup fetched from a store, a scratch backup).
func WithFolder(p *manifest.Project, dir string) *manifest.Project {
	cp := *p
	cp.Settings.Backups = dir
	cp.Settings.Encryption = manifest.EncryptionSettings{}
	return &cp
}

// spoolDir makes a new folder in the spool for one operation.
func (r *repository) spoolDir(what string) (string, error) {
	if err := os.MkdirAll(r.spool, archive.DirMode); err != nil {
		return "", fmt.Errorf("spool folder: %w", err)
	}
	dir, err := os.MkdirTemp(r.spool, "."+what+"-")
	if err != nil {
		return "", fmt.Errorf("spool folder: %w", err)
	}
	return dir, nil
}
