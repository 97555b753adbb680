package provision_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/splitschema/splitschema/internal/provision"
)

// TestGuardRefusesFKActions: a foreign key from one service to another
// whose ON DELETE or ON UPDATE action is CASCADE, SET NULL or SET DEFAULT is
// refused by the guard, however it is made (ALTER TABLE ADD CONSTRAINT,
// CREATE TABLE ... REFERENCES, a partition inheriting it), with SQLSTATE
// 42501 and the constraint, schema and table in the error's fields; NO
// ACTION, RESTRICT and actions inside one service pass. With the guard's
// ddl_command_end trigger disabled the same statements pass, which shows the
// guard, not Postgres, refuses them.
func TestGuardRefusesFKActions(t *testing.T) {
	t.Parallel()
	p := mustShop(t, "t5a_")
	srv := mustServer(t)
	mustApply(t, p, srv)
	mustMigrate(t, p, srv)
	conn := mustConnect(t, srv)
	owner := p.OwnerRole("orders")
	add := func(action string) string {
		return "ALTER TABLE orders.customer_order ADD CONSTRAINT evil_fk FOREIGN KEY (customer_id) REFERENCES customers.customer (id) " + action
	}
	refused := []struct {
		name, sql, action string
	}{
		{"on delete cascade", add("ON DELETE CASCADE"), "ON DELETE CASCADE"},
		{"on delete set null", add("ON DELETE SET NULL"), "ON DELETE SET NULL"},
		{"on delete set default", add("ON DELETE SET DEFAULT"), "ON DELETE SET DEFAULT"},
		{"on update cascade", add("ON UPDATE CASCADE"), "ON UPDATE CASCADE"},
		{"on update set null", add("ON DELETE RESTRICT ON UPDATE SET NULL"), "ON UPDATE SET NULL"},
		{"create table", "CREATE TABLE orders.evil (customer_id bigint CONSTRAINT evil_fk REFERENCES customers.customer (id) ON DELETE CASCADE)", "ON DELETE CASCADE"},
		{"partitioned table", "CREATE TABLE orders.evil (customer_id bigint, CONSTRAINT evil_fk FOREIGN KEY (customer_id) REFERENCES customers.customer (id) ON DELETE CASCADE) PARTITION BY RANGE (customer_id)", "ON DELETE CASCADE"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			err := execAs(t, conn, owner, tc.sql)
			var pe *pgconn.PgError
			if !errors.As(err, &pe) {
				t.Fatalf("%s: err = %v, want the guard's refusal", tc.sql, err)
			}
			t.Logf("refused: %s\n  detail: %s\n  hint: %s", pe.Message, pe.Detail, pe.Hint)
			if pe.Code != "42501" || !strings.HasPrefix(pe.Message, provision.GuardMessagePrefix) {
				t.Errorf("code %s, message %q; want 42501 from the guard", pe.Code, pe.Message)
			}
			if pe.ConstraintName != "evil_fk" || pe.SchemaName != "orders" || pe.TableName == "" {
				t.Errorf("fields constraint=%q schema=%q table=%q, want evil_fk, orders and the table", pe.ConstraintName, pe.SchemaName, pe.TableName)
			}
			if !strings.Contains(pe.Message, tc.action) || !strings.Contains(pe.Detail, "customers") || !strings.Contains(pe.Hint, "NO ACTION") {
				t.Errorf("the error does not say why: %q / %q / %q", pe.Message, pe.Detail, pe.Hint)
			}
			ge, ok := provision.AsGuardError(err)
			if !ok || ge.Constraint != "evil_fk" || ge.Schema != "orders" {
				t.Errorf("AsGuardError = %+v, %v", ge, ok)
			}
		})
	}
	t.Run("a partition of a table with such a key", func(t *testing.T) {
		err := inRolledBack(t, conn, "", func(tx pgx.Tx) error {
			// A superuser made the parent's key; the partition a service
			// makes inherits it and is refused.
			if _, err := tx.Exec(ctxFor(t), "CREATE TABLE orders.evil (customer_id bigint REFERENCES customers.customer (id) ON DELETE CASCADE) PARTITION BY RANGE (customer_id)"); err != nil {
				return err
			}
			if _, err := tx.Exec(ctxFor(t), "ALTER TABLE orders.evil OWNER TO "+q(owner)+"; SET LOCAL ROLE "+q(owner)); err != nil {
				return err
			}
			_, err := tx.Exec(ctxFor(t), "CREATE TABLE orders.evil_1 PARTITION OF orders.evil FOR VALUES FROM (0) TO (100)")
			return err
		})
		if ge, ok := provision.AsGuardError(err); !ok || ge.Constraint == "" {
			t.Fatalf("err = %v, want the guard's refusal", err)
		}
	})
	for _, sql := range []string{
		add(""),
		add("ON DELETE RESTRICT ON UPDATE RESTRICT"),
		add("ON DELETE NO ACTION ON UPDATE NO ACTION"),
		"CREATE TABLE orders.fine (id bigint PRIMARY KEY, order_id bigint REFERENCES orders.customer_order (id) ON DELETE CASCADE ON UPDATE SET NULL)",
	} {
		if err := execAs(t, conn, owner, sql); err != nil {
			t.Errorf("%s: %v, want it to pass", sql, err)
		}
	}

	// The check can fail: without the guard's DDL trigger, Postgres itself
	// accepts the key.
	err := inRolledBack(t, conn, "", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctxFor(t), "ALTER EVENT TRIGGER "+provision.GuardDDLTrigger+" DISABLE; SET LOCAL ROLE "+q(owner)); err != nil {
			return err
		}
		_, err := tx.Exec(ctxFor(t), add("ON DELETE CASCADE"))
		return err
	})
	if err != nil {
		t.Errorf("without the guard's DDL trigger: %v, want Postgres to accept the key", err)
	}
}

// TestGuardBlocksDDLOnTableWithBadFK: a cascading key a superuser made
// (before the guard, say) stops the service's DDL on that table until the
// key is dropped, and the error names the key; dropping it passes.
func TestGuardBlocksDDLOnTableWithBadFK(t *testing.T) {
	t.Parallel()
	p := mustShop(t, "t5b_")
	srv := mustServer(t)
	mustApply(t, p, srv)
	mustMigrate(t, p, srv)
	conn := mustConnect(t, srv)
	mustExec(t, conn, "ALTER TABLE orders.customer_order ADD CONSTRAINT admin_fk FOREIGN KEY (customer_id) REFERENCES customers.customer (id) ON DELETE CASCADE")
	owner := p.OwnerRole("orders")
	err := execAs(t, conn, owner, "ALTER TABLE orders.customer_order ADD COLUMN note text")
	if ge, ok := provision.AsGuardError(err); !ok || ge.Constraint != "admin_fk" {
		t.Fatalf("err = %v, want the guard naming admin_fk", err)
	}
	if err := execAs(t, conn, owner, "ALTER TABLE orders.customer_order DROP CONSTRAINT admin_fk"); err != nil {
		t.Errorf("dropping the key: %v", err)
	}
}
