package provision

import (
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/splitschema/splitschema/internal/pgsql"
)

// GuardError is an error the guard raised, read from the structured fields
// of PostgreSQL's error rather than from its message.
type GuardError struct {
	// Kind says which rule was broken.
	Kind GuardRule
	// Schema is the schema of the object concerned: the schema a dropped
	// object belongs to, or the referencing table's schema of a foreign key.
	Schema string
	// Table and Constraint name the referencing table and the foreign key
	// (GuardFKAction only).
	Table, Constraint string
	// Err is PostgreSQL's error: its Message, Detail and Hint say why.
	Err *pgconn.PgError
}

// GuardRule is one of the guard's rules.
type GuardRule int

const (
	// GuardDrop: a service's DDL would drop another service's object.
	GuardDrop GuardRule = iota + 1
	// GuardFKAction: a foreign key between services with an action other
	// than NO ACTION or RESTRICT.
	GuardFKAction
)

func (e *GuardError) Error() string { return e.Err.Error() }

// Unwrap returns PostgreSQL's error.
func (e *GuardError) Unwrap() error { return e.Err }

// AsGuardError finds the guard's refusal in err's chain: SQLSTATE 42501
// with the guard's message prefix, which ordinary permission errors never
// carry. The rule broken is read from the CONSTRAINT field, which only the
// foreign-key rule sets.
func AsGuardError(err error) (*GuardError, bool) {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != pgsql.InsufficientPrivilege || !strings.HasPrefix(pe.Message, GuardMessagePrefix) {
		return nil, false
	}
	ge := &GuardError{Kind: GuardDrop, Schema: pe.SchemaName, Err: pe}
	if pe.ConstraintName != "" {
		ge.Kind, ge.Table, ge.Constraint = GuardFKAction, pe.TableName, pe.ConstraintName
	}
	return ge, true
}
