package manifest

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SettingsFile is the name of the project settings file at the project root.
const SettingsFile = "splitschema.yaml"

// Settings are the project-wide settings from splitschema.yaml.
type Settings struct {
	// Database is the shared database every service lives in.
	Database string `json:"database"`
	// Backups is where backups are written: a folder, relative to the
	// project, or an object store address s3://bucket[/prefix].
	Backups string `json:"backups"`
	// S3 configures the object store when Backups is an s3:// address.
	S3 S3Settings `json:"s3"`
	// Encryption configures client-side encryption of backups stored in an
	// object store.
	Encryption EncryptionSettings `json:"encryption"`
	// Naming decides the role names of each service.
	Naming Naming `json:"naming"`
	// LockTimeout bounds how long a migration waits for a lock.
	LockTimeout time.Duration `json:"lock_timeout"`
	// ToolkitLockWait, when set, bounds how long provision and a service's
	// migrations wait for another run's lock (toolkit_lock_wait); 0 keeps
	// their own defaults.
	ToolkitLockWait time.Duration `json:"toolkit_lock_wait,omitempty"`
	// StatementTimeout bounds each statement of a migration
	// (statement_timeout of migration sessions).
	StatementTimeout time.Duration `json:"statement_timeout"`
	// IdleInTransactionTimeout ends a migration session left idle inside a
	// transaction (idle_in_transaction_session_timeout), so a stuck run
	// never keeps its locks.
	IdleInTransactionTimeout time.Duration `json:"idle_in_transaction_session_timeout"`
	// Keep is how many complete backups `backup prune` keeps by default.
	Keep int `json:"keep"`
	// BackupKeyFile is the file holding the key that signs backups'
	// manifests (backup_key_file:, relative to the project), or "".
	BackupKeyFile string `json:"backup_key_file,omitempty"`
	// Window, when set, is the recovery window: prune also keeps every
	// backup a restore to any time within it needs.
	Window time.Duration `json:"window,omitempty"`
	// PITR holds the point-in-time recovery settings.
	PITR PITRSettings `json:"pitr"`
	// Extensions are created by provisioning, in ExtensionsSchema.
	Extensions []string `json:"extensions,omitempty"`
}

// PITRSettings configure point-in-time recovery (`splitschema pitr`).
type PITRSettings struct {
	// Repo is the pgBackRest repository folder, relative to the project or
	// absolute; empty puts it beside the embedded cluster's data.
	Repo string `json:"repo,omitempty"`
	// ArchiveTimeout is the archive_timeout `pitr enable` sets: a
	// segment is archived at least that often while anything is written,
	// which bounds what losing the server and its disk can lose.
	ArchiveTimeout time.Duration `json:"archive_timeout"`
}

// S3Settings configure an object store repository (backups: s3://...).
// Credentials are never settings: they come from the AWS environment
// variables or shared credentials file.
type S3Settings struct {
	// Endpoint is host[:port] of an S3-compatible server; empty: AWS S3.
	Endpoint string `json:"endpoint,omitempty"`
	// Region to sign requests for; empty lets the client find it.
	Region string `json:"region,omitempty"`
	// PathStyle addresses the bucket in the path (endpoint/bucket), as
	// most S3-compatible servers need.
	PathStyle bool `json:"path_style,omitempty"`
	// AllowHTTP talks plain HTTP to the endpoint: for a server on
	// loopback or a trusted network only.
	AllowHTTP bool `json:"allow_http,omitempty"`
	// Spool is the local folder files pass through on their way to and
	// from the store, relative to the project; empty: .splitschema/spool.
	Spool string `json:"spool,omitempty"`
}

// EncryptionSettings configure age encryption of backups at rest.
type EncryptionSettings struct {
	// Recipients are age public keys (age1...); files are encrypted so
	// that any one of their identities decrypts them. Empty: no
	// encryption.
	Recipients []string `json:"recipients,omitempty"`
	// IdentityFile is the file of the identity that decrypts them, for
	// restore and verify --restore-test, relative to the project; the
	// environment may give it instead.
	IdentityFile string `json:"identity_file,omitempty"`
}

// ExtensionsSchema is the schema the project's extensions are created in:
// every service role has USAGE on it and finds it on its search_path.
const ExtensionsSchema = "extensions"

// extensionPattern is what an extension name may be: CREATE EXTENSION takes
// an identifier, and names such as uuid-ossp hold a hyphen.
var extensionPattern = regexp.MustCompile(`^[a-z0-9_][a-z0-9_-]*$`)

// Naming is the pattern of role names: Prefix + service + suffix.
// Role names are cluster-wide; a prefix keeps projects sharing a cluster apart.
type Naming struct {
	Prefix      string `json:"prefix"`
	OwnerSuffix string `json:"owner_suffix"`
	AppSuffix   string `json:"app_suffix"`
}

// DefaultSettings are used for every key splitschema.yaml leaves out.
func DefaultSettings() Settings {
	return Settings{
		Database:    "splitschema",
		Backups:     "backups",
		Naming:      Naming{OwnerSuffix: "_owner", AppSuffix: "_app"},
		LockTimeout: 5 * time.Second,
		// A migration's statement may rewrite a big table; an hour bounds a
		// runaway one without refusing honest work.
		StatementTimeout:         time.Hour,
		IdleInTransactionTimeout: time.Minute,
		Keep:                     7,
		PITR:                     PITRSettings{ArchiveTimeout: time.Minute},
	}
}

type settingsDoc struct {
	Database    *string      `yaml:"database"`
	Backups     *string      `yaml:"backups"`
	Naming      *namingDoc   `yaml:"naming"`
	LockTimeout *lineString  `yaml:"lock_timeout"`
	StmtTimeout *lineString  `yaml:"statement_timeout"`
	IdleTimeout *lineString  `yaml:"idle_in_transaction_session_timeout"`
	LockWait    *lineString  `yaml:"toolkit_lock_wait"`
	KeyFile     *string      `yaml:"backup_key_file"`
	Extensions  []lineString `yaml:"extensions"`
	Retention   *struct {
		Keep   *int        `yaml:"keep"`
		Window *lineString `yaml:"window"`
	} `yaml:"retention"`
	S3 *struct {
		Endpoint  *string `yaml:"endpoint"`
		Region    *string `yaml:"region"`
		PathStyle *bool   `yaml:"path_style"`
		AllowHTTP *bool   `yaml:"allow_http"`
		Spool     *string `yaml:"spool"`
	} `yaml:"s3"`
	Encryption *struct {
		Recipients   []lineString `yaml:"recipients"`
		IdentityFile *string      `yaml:"identity_file"`
	} `yaml:"encryption"`
	PITR *struct {
		Repo           *string     `yaml:"repo"`
		ArchiveTimeout *lineString `yaml:"archive_timeout"`
	} `yaml:"pitr"`
}

type namingDoc struct {
	Prefix      *string `yaml:"prefix"`
	OwnerSuffix *string `yaml:"owner_suffix"`
	AppSuffix   *string `yaml:"app_suffix"`
}

const settingsKeys = "database, backups, s3, encryption, backup_key_file, naming, lock_timeout, statement_timeout, idle_in_transaction_session_timeout, toolkit_lock_wait, retention, pitr, extensions"

// ParseSettings reads splitschema.yaml; file names it in errors.
func ParseSettings(file string, data []byte) (Settings, error) {
	s := DefaultSettings()
	var doc settingsDoc
	ps := decodeStrict(file, data, &doc, settingsKeys)
	if len(ps) > 0 {
		return s, ps.err()
	}
	if doc.Database != nil {
		s.Database = *doc.Database
	}
	if doc.Backups != nil {
		s.Backups = *doc.Backups
	}
	if doc.S3 != nil {
		set := func(dst *string, v *string) {
			if v != nil {
				*dst = *v
			}
		}
		set(&s.S3.Endpoint, doc.S3.Endpoint)
		set(&s.S3.Region, doc.S3.Region)
		set(&s.S3.Spool, doc.S3.Spool)
		s.S3.PathStyle = doc.S3.PathStyle != nil && *doc.S3.PathStyle
		s.S3.AllowHTTP = doc.S3.AllowHTTP != nil && *doc.S3.AllowHTTP
		if strings.Contains(s.S3.Endpoint, "://") || strings.Contains(s.S3.Endpoint, "/") || strings.Contains(s.S3.Endpoint, "@") {
			ps.add(file, 0, "s3.endpoint %q must be host[:port] only (no scheme, path or credentials; allow_http: true for plain HTTP)", s.S3.Endpoint)
		}
	}
	if doc.Encryption != nil {
		for _, r := range doc.Encryption.Recipients {
			switch {
			case strings.HasPrefix(r.Value, "AGE-SECRET-KEY-"):
				ps.add(file, r.Line, "encryption.recipients holds an AGE-SECRET-KEY: that is a private identity, which must never be in %s; name its public key (age-keygen -y) and treat the identity as exposed", SettingsFile)
			case !strings.HasPrefix(r.Value, "age1"):
				ps.add(file, r.Line, "encryption.recipients: %q is not an age public key (age1...)", r.Value)
			default:
				s.Encryption.Recipients = append(s.Encryption.Recipients, r.Value)
			}
		}
		if doc.Encryption.IdentityFile != nil {
			if s.Encryption.IdentityFile = *doc.Encryption.IdentityFile; s.Encryption.IdentityFile == "" {
				ps.add(file, 0, "encryption.identity_file must name a file (or be left out)")
			}
		}
	}
	if doc.KeyFile != nil {
		if *doc.KeyFile == "" {
			ps.add(file, 0, "backup_key_file must name a file (or be left out)")
		}
		s.BackupKeyFile = *doc.KeyFile
	}
	if doc.Naming != nil {
		if doc.Naming.Prefix != nil {
			s.Naming.Prefix = *doc.Naming.Prefix
		}
		if doc.Naming.OwnerSuffix != nil {
			s.Naming.OwnerSuffix = *doc.Naming.OwnerSuffix
		}
		if doc.Naming.AppSuffix != nil {
			s.Naming.AppSuffix = *doc.Naming.AppSuffix
		}
	}
	parseTimeout(&ps, file, "lock_timeout", doc.LockTimeout, &s.LockTimeout)
	parseTimeout(&ps, file, "statement_timeout", doc.StmtTimeout, &s.StatementTimeout)
	parseTimeout(&ps, file, "idle_in_transaction_session_timeout", doc.IdleTimeout, &s.IdleInTransactionTimeout)
	parseTimeout(&ps, file, "toolkit_lock_wait", doc.LockWait, &s.ToolkitLockWait)
	if doc.Retention != nil && doc.Retention.Keep != nil {
		s.Keep = *doc.Retention.Keep
		if s.Keep < 1 {
			ps.add(file, 0, "retention.keep must be at least 1, got %d", s.Keep)
		}
	}
	if doc.Retention != nil && doc.Retention.Window != nil {
		d, err := parseWindow(doc.Retention.Window.Value)
		if err != nil || d <= 0 {
			ps.add(file, doc.Retention.Window.Line, "retention.window %q is not a positive duration such as 7d or 36h", doc.Retention.Window.Value)
		} else {
			s.Window = d
		}
	}
	if doc.PITR != nil && doc.PITR.Repo != nil {
		if s.PITR.Repo = *doc.PITR.Repo; s.PITR.Repo == "" {
			ps.add(file, 0, "pitr.repo must name a folder (or be left out)")
		}
	}
	if doc.PITR != nil && doc.PITR.ArchiveTimeout != nil {
		d, err := time.ParseDuration(doc.PITR.ArchiveTimeout.Value)
		if err != nil || d < time.Second || d%time.Second != 0 {
			ps.add(file, doc.PITR.ArchiveTimeout.Line, "pitr.archive_timeout %q is not a whole number of seconds such as 15s or 1m", doc.PITR.ArchiveTimeout.Value)
		} else {
			s.PITR.ArchiveTimeout = d
		}
	}
	for _, e := range doc.Extensions {
		switch {
		case len(e.Value) > MaxIdentifierLen || !extensionPattern.MatchString(e.Value):
			ps.add(file, e.Line, "extension %q is not an extension name (lower-case letters, digits, _ and -)", e.Value)
		case slices.Contains(s.Extensions, e.Value):
			ps.add(file, e.Line, "extension %s is listed twice", e.Value)
		case e.Value == "plpgsql":
			ps.add(file, e.Line, "extension plpgsql is always there; leave it out")
		default:
			s.Extensions = append(s.Extensions, e.Value)
		}
	}
	if err := CheckIdentifier("database", s.Database, MaxIdentifierLen); err != nil {
		ps.add(file, 0, "%v", err)
	}
	if s.Backups == "" {
		ps.add(file, 0, "backups must name a folder")
	}
	ps = append(ps, checkNaming(file, s.Naming)...)
	return s, ps.err()
}

// parseTimeout reads the duration of key, when given, into d: at least 1ms,
// as PostgreSQL's timeouts count milliseconds.
func parseTimeout(ps *problems, file, key string, v *lineString, d *time.Duration) {
	if v == nil {
		return
	}
	got, err := time.ParseDuration(v.Value)
	switch {
	case err != nil:
		ps.add(file, v.Line, "%s %q is not a duration such as 5s or 500ms", key, v.Value)
	case got < time.Millisecond:
		ps.add(file, v.Line, "%s must be at least 1ms, got %s", key, got)
	default:
		*d = got
	}
}

func checkNaming(file string, n Naming) problems {
	var ps problems
	if n.OwnerSuffix == n.AppSuffix {
		ps.add(file, 0, "naming: owner_suffix and app_suffix must differ, both are %q", n.OwnerSuffix)
	}
	if n.OwnerSuffix == "" || n.AppSuffix == "" {
		ps.add(file, 0, "naming: owner_suffix and app_suffix must not be empty")
	}
	// Each part must keep <prefix><service><suffix> a valid identifier.
	for _, part := range []struct{ key, v string }{{"prefix", n.Prefix}, {"owner_suffix", n.OwnerSuffix}, {"app_suffix", n.AppSuffix}} {
		if !namingPart.MatchString(part.v) {
			ps.add(file, 0, "naming: %s %q may only hold lower-case letters, digits and _", part.key, part.v)
		}
	}
	if n.Prefix != "" && n.Prefix[0] >= '0' && n.Prefix[0] <= '9' {
		ps.add(file, 0, "naming: prefix %q must not start with a digit", n.Prefix)
	}
	if len(n.Prefix) > 20 || len(n.OwnerSuffix) > 20 || len(n.AppSuffix) > 20 {
		ps.add(file, 0, "naming: prefix and suffixes are at most 20 bytes each")
	}
	return ps
}

// maxServiceNameLen is the longest service name whose role names still fit.
func (n Naming) maxServiceNameLen() int {
	return MaxIdentifierLen - len(n.Prefix) - max(len(n.OwnerSuffix), len(n.AppSuffix), len(MigratorSuffix))
}

// MigratorSuffix ends the name of a service's migrator role.
const MigratorSuffix = "_migrator"

// MigratorRole is the login role the service's migrations run in: a member
// of the owner role only, NOINHERIT, with a password only while a run of
// splitschema uses it. A migration that leaves the owner role (RESET ROLE,
// SET ROLE NONE) lands on it, never on the admin who started the run.
func (n Naming) MigratorRole(service string) string { return n.Prefix + service + MigratorSuffix }

// OwnerRole is the role that owns the service's schema and runs its migrations.
func (n Naming) OwnerRole(service string) string { return n.Prefix + service + n.OwnerSuffix }

// AppRole is the login role the service's application uses.
func (n Naming) AppRole(service string) string { return n.Prefix + service + n.AppSuffix }

var namingPart = regexp.MustCompile(`^[a-z0-9_]*$`)

// parseWindow reads a duration such as 36h, or whole days such as 7d.
func parseWindow(v string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, err
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(v)
}

// String summarises the settings for logs.
func (s Settings) String() string {
	return fmt.Sprintf("database=%s backups=%s lock_timeout=%s", s.Database, s.Backups, s.LockTimeout)
}
