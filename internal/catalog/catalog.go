// Package catalog reads the live PostgreSQL catalog through the sqlc queries
// of queries/pgcatalog (gen/pgcatalog) and hands back plain Go values:
// roles, memberships, schemas, privileges, default privileges and the
// toolkit's own guard. It reads; it never changes anything.
//
// Every read covers all the requested schemas or roles in one query, so a
// snapshot costs a handful of round trips however many services there are.
// Privileges come one Grant per grantee and privilege; the grantee "" is
// PUBLIC, and an object that never had a GRANT shows its built-in default
// (functions and types grant EXECUTE or USAGE to PUBLIC by default).
package catalog

import (
	"fmt"
	"time"
)

// Public is the grantee name of PUBLIC in a Grant.
const Public = ""

// Admin describes the connected role and the server.
type Admin struct {
	Name       string `json:"name"`
	Superuser  bool   `json:"superuser"`
	CreateRole bool   `json:"createrole"`
	CreateDB   bool   `json:"createdb"`
	// ServerVersion is server_version_num, e.g. 150004.
	ServerVersion int `json:"server_version"`
	// Database is the database connected to.
	Database      string `json:"database"`
	DatabaseOwner string `json:"database_owner"`
	// OwnsDatabase: the admin is a member of the database's owner.
	OwnsDatabase bool `json:"owns_database"`
	// CanCreateSchema: the admin holds CREATE on the database.
	CanCreateSchema bool `json:"can_create_schema"`
}

// Role is a role's attributes.
type Role struct {
	Name        string
	Superuser   bool
	Inherit     bool
	CreateRole  bool
	CreateDB    bool
	Login       bool
	Replication bool
	BypassRLS   bool
	// ValidUntil is the password expiry; nil when none or infinity.
	ValidUntil *time.Time
	// Comment is the role's comment (COMMENT ON ROLE); splitschema marks
	// the roles it creates with their project there.
	Comment string
}

// Membership says that Member is a member of Role, as granted by Grantor.
// From PostgreSQL 16 on, one member may hold one role from several
// grantors: one Membership each.
type Membership struct {
	Role        string
	Member      string
	Grantor     string
	AdminOption bool
}

// Kind is the kind of object a privilege is held on.
type Kind string

// The kinds of objects privileges are read for.
const (
	KindDatabase Kind = "database"
	KindSchema   Kind = "schema"
	KindTable    Kind = "table" // also views, materialized views, foreign and partitioned tables
	KindSequence Kind = "sequence"
	KindColumn   Kind = "column"
	KindRoutine  Kind = "routine" // functions, procedures, aggregates
	KindType     Kind = "type"
)

// Object names an object that carries privileges. Name is empty for a
// schema; for a routine it is its signature; Column is set for a column only.
type Object struct {
	Kind   Kind
	Schema string
	Name   string
	Column string
}

func (o Object) String() string {
	switch o.Kind {
	case KindDatabase:
		return "database " + o.Name
	case KindSchema:
		return "schema " + o.Schema
	case KindColumn:
		return fmt.Sprintf("column %s.%s.%s", o.Schema, o.Name, o.Column)
	case KindRoutine:
		return fmt.Sprintf("routine %s", o.Name)
	}
	return fmt.Sprintf("%s %s.%s", o.Kind, o.Schema, o.Name)
}

// Grant is one privilege held by one grantee ("" for PUBLIC).
type Grant struct {
	Grantee   string
	Privilege string // SELECT, INSERT, ..., as aclexplode names them
	Grantable bool
}

// ACL is the privileges held on one object, and its owner.
type ACL struct {
	Owner  string
	Grants []Grant
}

// Relation is a table, view, materialized view, foreign table or sequence.
type Relation struct {
	Schema string
	Name   string
	// RelKind is pg_class.relkind: r, p, v, m, f, or S for a sequence.
	RelKind string
	Owner   string
}

// DefaultKey names one entry of default privileges: those Role set for
// objects of Kind (r tables, S sequences, f functions, T types, n schemas)
// in Schema, or everywhere when Schema is "".
type DefaultKey struct {
	Role   string
	Schema string
	Kind   string
}

// Toolkit says what of the splitschema toolkit schema and guard exists.
type Toolkit struct {
	HasSchema   bool
	SchemaOwner string
	HasTable    bool
	// GuardSource is the body of splitschema.guard(), "" when missing.
	GuardSource string
	// RefreshSource is the body of splitschema.refresh_materialized_view,
	// "" when missing.
	RefreshSource string
	// Triggers are the event triggers named splitschema_*, by name.
	Triggers map[string]EventTrigger
}

// EventTrigger is one event trigger of the toolkit.
type EventTrigger struct {
	// Event is what it fires on (sql_drop, ddl_command_end, ...).
	Event string
	// Enabled is its evtenabled: O, D, R or A.
	Enabled string
	// CallsGuard: it runs splitschema.guard().
	CallsGuard bool
	// Tags is its WHEN TAG IN filter, empty for none.
	Tags []string
}

// Guarded is one row of splitschema.service: a schema the guard protects.
type Guarded struct {
	Schema    string
	Service   string
	OwnerRole string
	AppRole   string
}

// LargeObjectCreators are the functions that create a large object, as
// to_regprocedure reads them (the same on PostgreSQL 15 to 18). A large
// object lives in no schema: whoever may create one may hand it to any other
// role with GRANT, a channel between services no schema privilege closes.
// lo_import is a superuser's from the start; the others are PUBLIC's until
// provisioning revokes them. The client-side lo_import of libpq calls
// lo_creat or lo_create.
var LargeObjectCreators = []string{
	"pg_catalog.lo_creat(integer)",
	"pg_catalog.lo_create(oid)",
	"pg_catalog.lo_from_bytea(oid, bytea)",
	"pg_catalog.lo_import(text)",
	"pg_catalog.lo_import(text, oid)",
}

// MaintenanceDatabases are the databases every cluster has, which every
// role may connect to until someone revokes it.
var MaintenanceDatabases = []string{"postgres", "template1"}
