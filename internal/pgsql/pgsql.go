// Package pgsql is the one home of the small PostgreSQL helpers every part
// of splitschema needs: quoting identifiers and literals, the SQLSTATE codes
// it reacts to, dropping a database, the maintenance database, the server's
// version and the name of the migration version table. It knows nothing of
// projects or services.
package pgsql

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// MaintenanceDB is the database an admin connects to when the one it works
// on may not exist (to create or drop it).
const MaintenanceDB = "postgres"

// VersionTable is the goose version table each service keeps in its own
// schema, so that every backup carries its migration state.
const VersionTable = "goose_db_version"

// SQLSTATE codes splitschema tells apart.
const (
	InsufficientPrivilege      = "42501" // insufficient_privilege
	UndefinedTable             = "42P01" // undefined_table
	InvalidForeignKey          = "42830" // invalid_foreign_key
	InvalidSchemaName          = "3F000" // invalid_schema_name
	InvalidCatalogName         = "3D000" // invalid_catalog_name: no such database
	DuplicateDatabase          = "42P04" // duplicate_database
	UniqueViolation            = "23505" // unique_violation
	ForeignKeyViolation        = "23503" // foreign_key_violation
	CheckViolation             = "23514" // check_violation
	LockNotAvailable           = "55P03" // lock_not_available
	ObjectInUse                = "55006" // object_in_use
	QueryCanceled              = "57014" // query_canceled
	DependentObjectsStillExist = "2BP01" // dependent_objects_still_exist
	ActiveSQLTransaction       = "25001" // active_sql_transaction
	SerializationFailure       = "40001" // serialization_failure
	DeadlockDetected           = "40P01" // deadlock_detected
)

// Code returns err's SQLSTATE, or "" when it is no PostgreSQL error.
func Code(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// IsCode reports whether err is a PostgreSQL error with one of the codes.
func IsCode(err error, codes ...string) bool {
	c := Code(err)
	for _, code := range codes {
		if c != "" && c == code {
			return true
		}
	}
	return false
}

// Ident quotes an identifier, or a dotted path of them (schema, table).
func Ident(parts ...string) string { return pgx.Identifier(parts).Sanitize() }

// Literal renders s as an SQL string literal for statements that take no
// parameters (COMMENT, ALTER ROLE ... PASSWORD, a displayed plan). Quotes
// are doubled; a backslash makes it an E” literal with backslashes doubled,
// so the result means s whatever standard_conforming_strings says.
func Literal(s string) string {
	q := strings.ReplaceAll(s, "'", "''")
	if strings.Contains(s, `\`) {
		return `E'` + strings.ReplaceAll(q, `\`, `\\`) + `'`
	}
	return "'" + q + "'"
}

// DropDatabase is the statement that drops database name if it exists, on a
// server of major version major: from PostgreSQL 13 on WITH (FORCE) ends
// the sessions still connected to it; before, they make it fail.
func DropDatabase(name string, major int) string {
	sql := "DROP DATABASE IF EXISTS " + Ident(name)
	if major >= 13 {
		sql += " WITH (FORCE)"
	}
	return sql
}

// Version is the server's version.
type Version struct {
	// Full is server_version, e.g. "15.4 (Debian 15.4-1)".
	Full string `json:"full"`
	// Num is server_version_num, e.g. 150004.
	Num int `json:"num"`
}

// Major is the major version, e.g. 15.
func (v Version) Major() int { return v.Num / 10000 }

// Querier is what ServerVersion needs: a connection or a transaction.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// ServerVersion reads the server's version.
func ServerVersion(ctx context.Context, q Querier) (Version, error) {
	var v Version
	err := q.QueryRow(ctx, "SELECT current_setting('server_version'), current_setting('server_version_num')::int").Scan(&v.Full, &v.Num)
	if err != nil {
		return v, fmt.Errorf("read the server version: %w", err)
	}
	return v, nil
}
