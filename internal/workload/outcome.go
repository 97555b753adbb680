package workload

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/splitschema/splitschema/internal/pgsql"
)

// outcome is how one business step ended.
type outcome int

const (
	committed outcome = iota // the transaction committed
	idle                     // nothing to do yet (no customer to order for...)
	refused                  // Postgres refused it: a race lost to another service
)

// maxRetries bounds the retries of a transaction that failed to serialize.
const maxRetries = 5

// classify turns a step's non-nil error into an outcome: races that a real service
// sees (a customer deleted while an order was placed, stock gone) are
// refusals; serialization failures and deadlocks are retryable.
func classify(err error) (o outcome, retry bool, fatal error) {
	if errors.Is(err, pgx.ErrNoRows) {
		return refused, false, nil
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case pgsql.SerializationFailure, pgsql.DeadlockDetected: // serialization_failure, deadlock_detected
			return refused, true, nil
		case pgsql.ForeignKeyViolation, pgsql.UniqueViolation, pgsql.CheckViolation: // foreign key, unique, check violations
			return refused, false, nil
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return idle, false, nil
	}
	return refused, false, err
}
