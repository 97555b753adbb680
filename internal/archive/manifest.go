package archive

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Names of the files and folders inside a backup folder.
const (
	ManifestFile  = "manifest.json"
	RolesFile     = "roles.json"
	RolesScript   = "roles.sql"
	DumpDir       = "dump"
	PartialSuffix = ".partial"
	// FailureFile is left in a .partial folder by a backup that failed; it
	// says why.
	FailureFile = "FAILED"
)

// FormatVersion is the version of the manifest format this package writes.
// Read refuses manifests of a newer format. Format 2 adds the seal (the
// manifest's own checksum and signature), fingerprints, and foreign keys
// inside a schema; format 1 manifests are read, reported unsealed.
const FormatVersion = 2

// Manifest describes one complete backup. It holds nothing secret: role
// passwords, when saved at all, are in roles.json only.
type Manifest struct {
	Format int    `json:"format"`
	ID     string `json:"id"`
	// Tool is the splitschema version that wrote the backup.
	Tool     string       `json:"tool,omitempty"`
	Database DatabaseInfo `json:"database"`
	Server   Version      `json:"server"`
	PgDump   Version      `json:"pg_dump"`
	// Snapshot is the id pg_export_snapshot() returned; every count,
	// version and the dump itself were read in that snapshot.
	Snapshot    string    `json:"snapshot"`
	Started     time.Time `json:"started"`
	Finished    time.Time `json:"finished"`
	Jobs        int       `json:"jobs"`
	Compression string    `json:"compression"`
	Services    []Service `json:"services"`
	// OtherTables are the tables outside the service schemas, such as the
	// guard's splitschema.service, with their row counts.
	OtherTables []SchemaTable `json:"other_tables"`
	// Links are the links the project declared, each with the foreign keys
	// that back it in the database.
	Links []Link `json:"links"`
	// ForeignKeys are every foreign key of which at least one table is in
	// a service's schema, inside a schema too (format 2 on; format 1
	// recorded only those between two schemas).
	ForeignKeys []ForeignKey `json:"foreign_keys"`
	// SoftLinks are the soft links the project declared: references no
	// foreign key enforces, whose broken rows verify counts like a link's.
	SoftLinks []SoftLink `json:"soft_links,omitempty"`
	// Roles names the roles saved in roles.json.
	Roles []string `json:"roles"`
	// RolePasswords tells whether roles.json holds the roles' password
	// verifiers (backup --with-role-passwords).
	RolePasswords bool `json:"role_passwords"`
	// Files lists every file of the backup but manifest.json itself.
	Files []File `json:"files"`
	// Encryption says how the files were encrypted before they were
	// stored, or is nil when they are stored as written. The manifest itself
	// is never encrypted.
	Encryption *Encryption `json:"encryption,omitempty"`
	Totals     Totals      `json:"totals"`
	// Seal is the manifest's own checksum and signature (format 2 on);
	// Write sets it, Read checks the checksum.
	Seal *Seal `json:"seal,omitempty"`

	// body is the manifest as sealed, for checking its signature.
	body []byte
}

// DatabaseInfo is the backed-up database and what CREATE DATABASE needs to
// make its twin.
type DatabaseInfo struct {
	Name     string `json:"name"`
	Encoding string `json:"encoding"`
	Collate  string `json:"collate"`
	Ctype    string `json:"ctype"`
	// LocaleProvider is "libc", "icu" or "builtin"; empty on servers older
	// than 15.
	LocaleProvider string `json:"locale_provider,omitempty"`
	// Locale is the ICU or builtin locale, when the provider is not libc.
	Locale string `json:"locale,omitempty"`
}

// Version is a program's or server's version.
type Version struct {
	// Full is the version as printed, e.g. "15.18 (Debian 15.18-0+deb12u1)".
	Full string `json:"version"`
	// Major is 15 for 15.18.
	Major int `json:"major"`
	// Num is server_version_num, for the server only.
	Num int `json:"num,omitempty"`
}

// Service is one service as the snapshot saw it.
type Service struct {
	Name   string `json:"name"`
	Schema string `json:"schema"`
	// Schemas are all the service's schemas, Schema first, when it has
	// more than one; the tables of the others are among OtherTables.
	Schemas []string `json:"schemas,omitempty"`
	// SchemaExists is false when the database had no such schema.
	SchemaExists bool `json:"schema_exists"`
	// Version is the highest applied goose migration; nil when the schema
	// has no goose_db_version table.
	Version *int64  `json:"version"`
	Tables  []Table `json:"tables"`
}

// AllSchemas returns the service's schemas: Schemas, or Schema alone.
func (s Service) AllSchemas() []string {
	if len(s.Schemas) > 0 {
		return s.Schemas
	}
	return []string{s.Schema}
}

// Table is one table and its exact row count in the snapshot.
type Table struct {
	Name string `json:"name"`
	Rows int64  `json:"rows"`
	// Fingerprint is the content fingerprint of its rows in the snapshot
	// (backup --fingerprint), or "".
	Fingerprint string `json:"fingerprint,omitempty"`
}

// SchemaTable is a table of a schema that belongs to no service.
type SchemaTable struct {
	Schema      string `json:"schema"`
	Name        string `json:"name"`
	Rows        int64  `json:"rows"`
	Fingerprint string `json:"fingerprint,omitempty"`
}

// Link is a declared link and the foreign keys that back it.
type Link struct {
	From    string   `json:"from"`
	Service string   `json:"service"`
	Table   string   `json:"table"`
	Columns []string `json:"columns"`
	// ForeignKeys names, as schema.table.constraint, the foreign keys from
	// the From service's schema to these columns.
	ForeignKeys []string `json:"foreign_keys"`
}

// SoftLink is a declared soft link: From's columns reference To's.
type SoftLink struct {
	// Service is the service that declares it, Declared the declaration.
	Service  string   `json:"service"`
	Declared string   `json:"declared"`
	From     TableRef `json:"from"`
	To       TableRef `json:"to"`
}

// ForeignKey is one foreign key between two schemas.
type ForeignKey struct {
	Name string   `json:"name"`
	From TableRef `json:"from"`
	To   TableRef `json:"to"`
	// Match is "simple", "full" or "partial".
	Match     string `json:"match"`
	Validated bool   `json:"validated"`
}

// TableRef names columns of a table.
type TableRef struct {
	Schema  string   `json:"schema"`
	Table   string   `json:"table"`
	Columns []string `json:"columns"`
}

// String renders schema.table(col, ...).
func (r TableRef) String() string {
	s := r.Schema + "." + r.Table + "("
	for i, c := range r.Columns {
		if i > 0 {
			s += ", "
		}
		s += c
	}
	return s + ")"
}

// QualifiedName is schema.table.constraint, for messages.
func (fk ForeignKey) QualifiedName() string {
	return fk.From.Schema + "." + fk.From.Table + "." + fk.Name
}

// File is one file of the backup, its path relative to the backup folder
// with forward slashes.
type File struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Stored is the size and SHA-256 of the object as stored, when that
	// differs from the file as written (encrypted); nil when they are the
	// same.
	Stored *Stored `json:"stored,omitempty"`
}

// Stored is what a repository holds for a file.
type Stored struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// StoredAs returns the size and SHA-256 the repository's copy of f must
// have.
func (f File) StoredAs() Stored {
	if f.Stored != nil {
		return *f.Stored
	}
	return Stored{Size: f.Size, SHA256: f.SHA256}
}

// Encryption is how a backup's files are encrypted at rest.
type Encryption struct {
	// Method is "age" (filippo.io/age, X25519 recipients).
	Method string `json:"method"`
	// Recipients are the public keys the files were encrypted to; any one
	// of their identities decrypts them.
	Recipients []string `json:"recipients"`
}

// Totals sum up the backup.
type Totals struct {
	Tables int   `json:"tables"`
	Rows   int64 `json:"rows"`
	// Bytes is the size of every file, manifest.json aside.
	Bytes int64 `json:"bytes"`
}

// ErrNoManifest is returned by Read for a folder without manifest.json: it
// is not a complete backup.
var ErrNoManifest = errors.New("no " + ManifestFile + ": not a complete backup")

// Read loads dir/manifest.json and checks that it is one this version reads.
func Read(dir string) (*Manifest, error) {
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", dir, ErrNoManifest)
	}
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	return Parse(dir, data)
}

// Parse reads a manifest's bytes as Read does; where names their source in
// errors.
func Parse(where string, data []byte) (*Manifest, error) {
	dir := where
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %s is damaged: %w", dir, ManifestFile, err)
	}
	switch {
	case m.Format == 0 || m.ID == "":
		return nil, fmt.Errorf("%s: %s is not a splitschema backup manifest", dir, ManifestFile)
	case m.Format > FormatVersion:
		return nil, fmt.Errorf("%s: manifest format %d is newer than this splitschema reads (%d): upgrade splitschema", dir, m.Format, FormatVersion)
	}
	if m.Format >= 2 {
		if err := checkSeal(data, &m); err != nil {
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
	}
	for _, f := range m.Files {
		if err := checkRelPath(f.Path); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", dir, ManifestFile, err)
		}
	}
	if m.Encryption != nil && m.Encryption.Method != "age" {
		return nil, fmt.Errorf("%s: %s: encryption method %q is not one this splitschema reads (age)", dir, ManifestFile, m.Encryption.Method)
	}
	return &m, nil
}

// Encode returns m as manifest.json's bytes, sealed and, when key is not
// nil, signed, as Write would write them.
func Encode(m *Manifest, key *Key) ([]byte, error) {
	m.Format = FormatVersion
	data, err := encode(m, key)
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return data, nil
}

// Write writes m as dir/manifest.json, mode 0600, synced to disk, sealed
// with its own checksum and, when key is not nil, signed. The caller syncs
// dir.
func Write(dir string, m *Manifest, key *Key) error {
	data, err := Encode(m, key)
	if err != nil {
		return err
	}
	if err := WriteFileSync(filepath.Join(dir, ManifestFile), data); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	return nil
}

// checkRelPath refuses paths that would leave the backup folder.
func checkRelPath(p string) error {
	if p == "" || filepath.IsAbs(p) || !filepath.IsLocal(filepath.FromSlash(p)) || p == ManifestFile {
		return fmt.Errorf("file path %q is not a file inside the backup", p)
	}
	return nil
}
