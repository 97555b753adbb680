package archive

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Globals are what a restore needs beyond pg_dump's archive to rebuild the
// services' roles and the database's own settings on any cluster: the
// service roles with their attributes, memberships and settings, and the
// database-level grants and settings. pg_dump saves neither: roles are
// cluster-wide and the database's properties go with --create only.
type Globals struct {
	Roles       []Role       `json:"roles"`
	Memberships []Membership `json:"memberships"`
	// Settings are ALTER ROLE ... [IN DATABASE] SET and ALTER DATABASE SET
	// values of the backed-up database and its service roles.
	Settings []Setting `json:"settings"`
	// DatabaseACL holds the database's grants to PUBLIC and to service
	// roles; nil when the database had the default privileges.
	DatabaseACL []Grant `json:"database_acl"`
	// DefaultACL is true when the database had the default privileges (no
	// datacl); DatabaseACL is then empty.
	DefaultACL bool `json:"default_acl"`
}

// Role is one cluster-wide role with its attributes.
type Role struct {
	Name        string     `json:"name"`
	Superuser   bool       `json:"superuser"`
	Inherit     bool       `json:"inherit"`
	CreateRole  bool       `json:"createrole"`
	CreateDB    bool       `json:"createdb"`
	Login       bool       `json:"login"`
	Replication bool       `json:"replication"`
	BypassRLS   bool       `json:"bypassrls"`
	ConnLimit   int        `json:"connection_limit"`
	ValidUntil  *time.Time `json:"valid_until,omitempty"`
	// Password is the role's password verifier (SCRAM-SHA-256$... or
	// md5...), only with --with-role-passwords. It is never the password.
	Password string `json:"password,omitempty"`
}

// Membership is GRANT Role TO Member.
type Membership struct {
	Role        string `json:"role"`
	Member      string `json:"member"`
	AdminOption bool   `json:"admin_option"`
	// InheritOption and SetOption exist from PostgreSQL 16 on.
	InheritOption *bool `json:"inherit_option,omitempty"`
	SetOption     *bool `json:"set_option,omitempty"`
}

// Setting is one configuration value tied to a role and/or the database.
type Setting struct {
	// Role is empty for ALTER DATABASE ... SET.
	Role string `json:"role,omitempty"`
	// InDatabase is true for a setting of the backed-up database (ALTER
	// ROLE ... IN DATABASE, ALTER DATABASE), false for a role's
	// cluster-wide setting.
	InDatabase bool `json:"in_database"`
	// Name and Value as pg_db_role_setting holds them (name=value).
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Grant is one privilege on the database; an empty Grantee is PUBLIC.
type Grant struct {
	Grantee   string `json:"grantee"`
	Privilege string `json:"privilege"`
	Grantable bool   `json:"grantable"`
}

// WriteGlobals writes roles.json (mode 0600, synced).
func WriteGlobals(dir string, g *Globals) error {
	data, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return fmt.Errorf("encode roles: %w", err)
	}
	if err := WriteFileSync(filepath.Join(dir, RolesFile), append(data, '\n')); err != nil {
		return fmt.Errorf("write %s: %w", RolesFile, err)
	}
	return nil
}

// ReadGlobals reads roles.json of a backup.
func ReadGlobals(dir string) (*Globals, error) {
	data, err := os.ReadFile(filepath.Join(dir, RolesFile))
	if err != nil {
		return nil, fmt.Errorf("read roles: %w", err)
	}
	var g Globals
	if err := json.Unmarshal(data, &g); err != nil {
		return nil, fmt.Errorf("%s is damaged: %w", RolesFile, err)
	}
	return &g, nil
}
