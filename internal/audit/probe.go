package audit

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/splitschema/splitschema/internal/pgsql"
)

// probeName names whatever the probes try to create.
const probeName = "splitschema_audit_probe"

// prober tries statements as one role, each in a savepoint of one
// transaction that is rolled back at the end.
type prober struct {
	a       *auditor
	ctx     context.Context
	tx      pgx.Tx
	who     string // the role the statements run as
	service string // the service the findings are about
}

// begin opens the transaction on conn, as role (SET LOCAL ROLE) unless
// role is "". The returned func rolls it back.
func (a *auditor) begin(ctx context.Context, conn *pgx.Conn, role, who, service string) (*prober, func(), error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("audit as %s: %w", who, err)
	}
	done := func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }
	// A probe that, against expectations, gets through must not wait for
	// long behind a live workload's locks.
	setup := "SET LOCAL lock_timeout = '3s'; SET LOCAL statement_timeout = '20s'"
	if role != "" {
		setup += "; SET LOCAL ROLE " + pgx.Identifier{role}.Sanitize()
	}
	if _, err := tx.Exec(ctx, setup); err != nil {
		done()
		return nil, nil, fmt.Errorf("audit as %s: %w", who, err)
	}
	return &prober{a: a, ctx: ctx, tx: tx, who: who, service: service}, done, nil
}

// try runs stmt in a savepoint and undoes it; it returns the statement's
// error, and an error of its own when the transaction broke.
func (p *prober) try(stmt string) (stmtErr, err error) {
	p.a.report.Probes++
	if _, err := p.tx.Exec(p.ctx, "SAVEPOINT probe"); err != nil {
		return nil, fmt.Errorf("audit as %s: %w", p.who, err)
	}
	_, stmtErr = p.tx.Exec(p.ctx, stmt)
	if _, err := p.tx.Exec(p.ctx, "ROLLBACK TO SAVEPOINT probe"); err != nil {
		return nil, fmt.Errorf("audit as %s: %w", p.who, err)
	}
	return stmtErr, nil
}

func sqlState(err error) string { return pgsql.Code(err) }

// timedOut: a lock or statement timeout, the probe proved nothing.
func timedOut(err error) bool {
	c := sqlState(err)
	return c == pgsql.LockNotAvailable || c == pgsql.QueryCanceled
}

// deny tries stmt, which must fail for lack of privilege (SQLSTATE 42501).
func (p *prober) deny(check, what, stmt string) error {
	err, ierr := p.try(stmt)
	switch {
	case ierr != nil:
		return ierr
	case sqlState(err) == pgsql.InsufficientPrivilege:
	case err == nil:
		p.a.add(Error, check, p.service, "%s can %s: `%s` went through", p.who, what, stmt)
	case timedOut(err):
		p.a.add(Warning, check, p.service, "could not tell whether %s can %s: `%s` timed out waiting (%v)", p.who, what, stmt, err)
	default:
		p.a.add(Error, check, p.service, "%s got past the privilege checks trying to %s: `%s` failed only later, with: %v", p.who, what, stmt, err)
	}
	return nil
}

// allow tries stmt, which must succeed.
func (p *prober) allow(check, what, stmt string) error {
	err, ierr := p.try(stmt)
	switch {
	case ierr != nil:
		return ierr
	case err == nil:
	case sqlState(err) == pgsql.InvalidForeignKey: // no unique constraint on the columns
		p.a.add(Warning, check, p.service, "%s cannot %s: the columns carry no primary key or unique constraint (%v)", p.who, what, err)
	case timedOut(err):
		p.a.add(Warning, check, p.service, "could not tell whether %s can %s: `%s` timed out waiting (%v)", p.who, what, stmt, err)
	default:
		p.a.add(Error, check, p.service, "%s cannot %s: `%s` failed: %v", p.who, what, stmt, err)
	}
	return nil
}
