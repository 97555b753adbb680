package migrate

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/splitschema/splitschema/internal/pgsql"
	"github.com/splitschema/splitschema/internal/provision"
	"github.com/splitschema/splitschema/internal/secrets"
)

var shopLatest = map[string]int64{"catalog": 1, "customers": 2, "orders": 2, "payments": 2, "shipping": 2}

func TestUpDownRoundTrip(t *testing.T) {
	s := newShop(t)
	ctx := context.Background()
	res := s.up(t)
	if !res.OK || !res.Changed {
		t.Fatalf("first up: ok=%v changed=%v\n%s", res.OK, res.Changed, res.Human())
	}
	if got := s.versions(t); !maps.Equal(got, shopLatest) {
		t.Fatalf("versions = %v, want %v", got, shopLatest)
	}
	var order []string
	for _, sr := range res.Services {
		order = append(order, sr.Service)
	}
	if got := strings.Join(order, ","); got != "catalog,customers,orders,payments,shipping" {
		t.Errorf("ran in order %s", got)
	}

	again := s.up(t)
	if again.Changed || !strings.Contains(again.Human(), "nothing changed") {
		t.Errorf("second up changed something:\n%s", again.Human())
	}

	down, err := DownTo(ctx, s.p, s.srv, 0, s.opts(""))
	if err != nil {
		t.Fatalf("down to 0: %v", err)
	}
	if down.Services[0].Service != "shipping" || down.Services[4].Service != "catalog" {
		t.Errorf("down did not run in reverse order:\n%s", down.Human())
	}
	for svc, v := range s.versions(t) {
		if v != 0 {
			t.Errorf("%s at version %d after down to 0", svc, v)
		}
	}
	conn := mustConnect(t, s.srv)
	if tableExists(t, conn, "orders.customer_order") {
		t.Error("orders.customer_order survived down to 0")
	}
	if !tableExists(t, conn, "orders.goose_db_version") {
		t.Error("the version table is not in the service's schema")
	}

	s.up(t)
	if got := s.versions(t); !maps.Equal(got, shopLatest) {
		t.Fatalf("versions after up again = %v, want %v", got, shopLatest)
	}

	// One service, one step down, then up to a version.
	one, err := Down(ctx, s.p, s.srv, s.opts("shipping"))
	if err != nil {
		t.Fatal(err)
	}
	if sr := one.Service("shipping"); sr.From != 2 || sr.To != 1 || len(sr.Steps) != 1 {
		t.Errorf("down shipping = %+v", sr)
	}
	if _, err := UpTo(ctx, s.p, s.srv, 2, s.opts("shipping")); err != nil {
		t.Fatal(err)
	}
	redo, err := Redo(ctx, s.p, s.srv, s.opts("orders"))
	if err != nil {
		t.Fatal(err)
	}
	if sr := redo.Service("orders"); len(sr.Steps) != 2 || sr.Steps[0].Direction != "down" || sr.Steps[1].Direction != "up" || sr.To != 2 {
		t.Errorf("redo orders = %+v", sr)
	}
}

func TestRunsAsOwner(t *testing.T) {
	dir := copyShop(t, "lock_timeout: 1234ms")
	mustWrite(t, dir, "migrations/catalog/00002_whoami.sql", `-- +goose Up
CREATE TABLE whoami AS
SELECT current_user::text AS usr, current_setting('search_path') AS path, current_setting('lock_timeout') AS lt;

-- +goose Down
DROP TABLE whoami;
`)
	mustWrite(t, dir, "migrations/catalog/00003_whoami_notx.sql", `-- +goose NO TRANSACTION
-- +goose Up
INSERT INTO whoami SELECT current_user, current_setting('search_path'), current_setting('lock_timeout');
CREATE INDEX CONCURRENTLY whoami_usr_idx ON whoami (usr);
INSERT INTO whoami SELECT current_user, current_setting('search_path'), current_setting('lock_timeout');

-- +goose Down
DROP INDEX CONCURRENTLY whoami_usr_idx;
`)
	s := &shop{dir: dir, p: mustLoad(t, dir), srv: newServer(t)}
	provisionShop(t, s.srv, s.p)
	if res := s.up(t); !res.OK {
		t.Fatal(res.Human())
	}
	conn := mustConnect(t, s.srv)
	rows, err := conn.Query(context.Background(), "SELECT usr, path, lt FROM catalog.whoami")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	lts := map[string]int{}
	for rows.Next() {
		var usr, path, lt string
		if err := rows.Scan(&usr, &path, &lt); err != nil {
			t.Fatal(err)
		}
		n++
		if want := s.p.OwnerRole("catalog"); usr != want {
			t.Errorf("current_user = %s, want %s", usr, want)
		}
		if path != "catalog" {
			t.Errorf("search_path = %s, want catalog", path)
		}
		// A transactional file waits in attempts of 200ms (and is
		// retried up to the total); a NO TRANSACTION file in one attempt
		// of the whole lock_timeout.
		if lt != "200ms" && lt != "1234ms" {
			t.Errorf("lock_timeout = %s, want 200ms or 1234ms", lt)
		}
		lts[lt]++
	}
	if n != 3 {
		t.Errorf("%d rows, want 3", n)
	}
	if lts["200ms"] != 1 || lts["1234ms"] != 2 {
		t.Errorf("lock_timeout per row %v: want 200ms for the transactional file, 1234ms for both rows of the NO TRANSACTION one", lts)
	}
	var owner string
	if err := conn.QueryRow(context.Background(), "SELECT tableowner FROM pg_tables WHERE schemaname = 'catalog' AND tablename = 'goose_db_version'").Scan(&owner); err != nil {
		t.Fatal(err)
	}
	if want := s.p.OwnerRole("catalog"); owner != want {
		t.Errorf("version table owned by %s, want %s", owner, want)
	}
}

func TestCrossSchemaMigrationFails(t *testing.T) {
	s := newShop(t)
	s.up(t)
	mustWrite(t, s.dir, "migrations/catalog/00002_sneaky.sql", `-- +goose Up
CREATE TABLE catalog.fine (id int);

CREATE TABLE customers.sneaky (
    id int
);

-- +goose Down
DROP TABLE customers.sneaky;
DROP TABLE catalog.fine;
`)
	res, err := Up(context.Background(), s.p, s.srv, s.opts(""))
	var runErr *RunError
	if !errors.As(err, &runErr) || len(runErr.Failures) != 1 {
		t.Fatalf("err = %v, want one failed migration", err)
	}
	e := runErr.Failures[0]
	t.Logf("the error:\n%s", e)
	if e.Service != "catalog" || e.File != "migrations/catalog/00002_sneaky.sql" || e.Line != 4 || e.Code != "42501" {
		t.Errorf("failure = %+v", e)
	}
	for _, want := range []string{"service catalog", "migrations/catalog/00002_sneaky.sql:4", "permission denied for schema customers",
		"CREATE TABLE customers.sneaky", "schema customers belongs to service customers", "rolled back"} {
		if !strings.Contains(e.Error(), want) {
			t.Errorf("error lacks %q:\n%s", want, e.Error())
		}
	}
	if got := res.Service("catalog"); got.State != StateFailed || got.To != 1 {
		t.Errorf("catalog = %+v, want failed at version 1", got)
	}
	conn := mustConnect(t, s.srv)
	if tableExists(t, conn, "catalog.fine") {
		t.Error("catalog.fine was kept: the failed migration was not rolled back")
	}
	if tableExists(t, conn, "customers.sneaky") {
		t.Error("customers.sneaky exists")
	}
	// Only orders depends on catalog, and through it payments and shipping.
	for svc, want := range map[string]State{"customers": StateUnchanged, "orders": StateSkipped, "payments": StateSkipped, "shipping": StateSkipped} {
		if got := res.Service(svc).State; got != want {
			t.Errorf("%s: state %s, want %s", svc, got, want)
		}
	}
	if v := s.versions(t)["catalog"]; v != 1 {
		t.Errorf("catalog at version %d, want 1", v)
	}
}

func TestFailureStopsDependants(t *testing.T) {
	s := newShop(t)
	// Fresh database: orders' second migration fails; nothing of orders
	// after it, nor payments or shipping, may run.
	broken := `-- +goose Up
ALTER TABLE orders.customer_order ADD COLUMN note text;
SELECT no_such_function();

-- +goose Down
ALTER TABLE orders.customer_order DROP COLUMN note;
`
	mustWrite(t, s.dir, "migrations/orders/00003_broken.sql", broken)
	res, err := Up(context.Background(), s.p, s.srv, s.opts(""))
	if err == nil {
		t.Fatal("up succeeded")
	}
	want := map[string]State{"catalog": StateMigrated, "customers": StateMigrated, "orders": StateFailed, "payments": StateSkipped, "shipping": StateSkipped}
	for svc, st := range want {
		if got := res.Service(svc).State; got != st {
			t.Errorf("%s: state %s, want %s", svc, got, st)
		}
	}
	if sr := res.Service("orders"); sr.To != 2 || len(sr.Steps) != 2 {
		t.Errorf("orders = to %d with %d steps, want 2 and 2 (00001, 00002 applied, 00003 rolled back)", sr.To, len(sr.Steps))
	}
	e := res.Service("orders").Error
	if e.Line != 3 || !strings.Contains(e.Error(), "no_such_function") || !strings.Contains(e.Error(), "00003_broken.sql:3") {
		t.Errorf("error:\n%s", e)
	}
	t.Logf("the result:\n%s", res.Human())
	if !strings.Contains(res.Human(), "skipped: it depends on orders") {
		t.Errorf("human output does not say why payments was skipped:\n%s", res.Human())
	}
	conn := mustConnect(t, s.srv)
	var hasNote bool
	if err := conn.QueryRow(context.Background(), `SELECT EXISTS (SELECT FROM information_schema.columns WHERE table_schema = 'orders' AND table_name = 'customer_order' AND column_name = 'note')`).Scan(&hasNote); err != nil {
		t.Fatal(err)
	}
	if hasNote {
		t.Error("column note stayed: the failed migration was not rolled back")
	}

	// The fix: the re-run continues where it stopped.
	mustWrite(t, s.dir, "migrations/orders/00003_broken.sql", strings.Replace(broken, "SELECT no_such_function();\n", "", 1))
	res2 := s.up(t)
	if !res2.OK {
		t.Fatal(res2.Human())
	}
	if sr := res2.Service("orders"); sr.From != 2 || sr.To != 3 || len(sr.Steps) != 1 {
		t.Errorf("orders on re-run = %+v", sr)
	}
	if sr := res2.Service("customers"); sr.State != StateUnchanged {
		t.Errorf("customers re-ran: %+v", sr)
	}
	if sr := res2.Service("payments"); sr.From != 0 || sr.To != 2 {
		t.Errorf("payments on re-run = %+v", sr)
	}
}

func TestLockTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	s := newShop(t, "lock_timeout: 300ms")
	s.up(t)
	ctx := context.Background()
	// A long-running reader: ACCESS SHARE, which ALTER TABLE must wait for.
	tx := holdCustomersAndAlterThem(t, s)
	defer tx.Rollback(ctx)
	start := time.Now()
	res, err := Up(ctx, s.p, s.srv, s.opts("customers"))
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("migration succeeded while the table was locked")
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "55P03" {
		t.Fatalf("err = %v, want SQLSTATE 55P03 lock_not_available", err)
	}
	e := res.Service("customers").Error
	t.Logf("the error:\n%s", e)
	if e.Code != "55P03" || e.Line != 2 || !strings.Contains(e.Hint, "lock_timeout (300ms)") {
		t.Errorf("error = %+v", e)
	}
	t.Logf("failed after %s with lock_timeout %s", elapsed, timeout)
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if res := s.up(t); !res.OK || s.versions(t)["customers"] != 3 {
		t.Errorf("after the lock went away: %s", res.Human())
	}
}

// TestStatementTimeout checks that a migration's statement is cancelled
// after statement_timeout, with a hint naming the setting, and that a
// migration session left idle in a transaction is ended.
func TestStatementTimeout(t *testing.T) {
	s := newShop(t, "statement_timeout: 200ms\nidle_in_transaction_session_timeout: 300ms")
	s.up(t)
	ctx := context.Background()
	mustWrite(t, s.dir, "migrations/customers/00003_slow.sql", `-- +goose Up
SELECT pg_sleep(30);

-- +goose Down
SELECT 1;
`)
	res, err := Up(ctx, s.p, s.srv, s.opts("customers"))
	if err == nil {
		t.Fatal("a 30 s statement ran under statement_timeout 200ms")
	}
	e := res.Service("customers").Error
	t.Logf("the error:\n%s", e)
	if e.Code != pgsql.QueryCanceled || e.Line != 2 || !strings.Contains(e.Hint, "statement_timeout (200ms)") {
		t.Errorf("error = %+v", e)
	}
	if got := s.versions(t)["customers"]; got != 2 {
		t.Errorf("customers at version %d after the cancelled migration, want 2", got)
	}
	// The session settings a migration runs with.
	mustWrite(t, s.dir, "migrations/customers/00003_slow.sql", `-- +goose Up
CREATE TABLE customers.settings_seen AS
SELECT current_setting('statement_timeout') AS st,
       current_setting('idle_in_transaction_session_timeout') AS idle;

-- +goose Down
DROP TABLE customers.settings_seen;
`)
	if res := s.up(t); !res.OK {
		t.Fatalf("up: %s", res.Human())
	}
	var st, idle string
	if err := mustConnect(t, s.srv).QueryRow(ctx, "SELECT st, idle FROM customers.settings_seen").Scan(&st, &idle); err != nil {
		t.Fatal(err)
	}
	if st != "200ms" || idle != "300ms" {
		t.Errorf("migration session: statement_timeout %s, idle_in_transaction_session_timeout %s; want 200ms, 300ms", st, idle)
	}
}

func TestUndeclaredLinkHint(t *testing.T) {
	s := newShop(t)
	s.up(t)
	mustWrite(t, s.dir, "migrations/orders/00003_by_sku.sql", `-- +goose Up
ALTER TABLE orders.order_line ADD COLUMN sku text REFERENCES catalog.product (sku);

-- +goose Down
ALTER TABLE orders.order_line DROP COLUMN sku;
`)
	res, err := Up(context.Background(), s.p, s.srv, s.opts("orders"))
	if err == nil {
		t.Fatal("a foreign key on an undeclared link was created")
	}
	e := res.Service("orders").Error
	if e.Code != "42501" || !strings.Contains(e.Hint, `add "catalog.product(sku)" to links in schemas/orders.yaml`) {
		t.Errorf("error:\n%s", e)
	}

	// A REFERENCES without columns targets the primary key.
	mustWrite(t, s.dir, "migrations/payments/00003_customer.sql", `-- +goose Up
ALTER TABLE payments.payment ADD COLUMN customer_id bigint REFERENCES customers.customer;

-- +goose Down
ALTER TABLE payments.payment DROP COLUMN customer_id;
`)
	res, _ = Up(context.Background(), s.p, s.srv, s.opts("payments"))
	e = res.Service("payments").Error
	if e == nil || e.Code != "42501" || !strings.Contains(e.Hint, `add "customers.customer(id)" to links in schemas/payments.yaml`) {
		t.Errorf("error:\n%v", e)
	}
}

func TestNotProvisioned(t *testing.T) {
	dir := copyShop(t)
	p := mustLoad(t, dir)
	srv := newServer(t)
	_, err := Up(context.Background(), p, srv, Options{})
	if err == nil || !strings.Contains(err.Error(), "schema catalog does not exist") || !strings.Contains(err.Error(), "splitschema apply") {
		t.Errorf("err = %v", err)
	}
	st, err := Status(context.Background(), p, srv, "")
	if err != nil {
		t.Fatal(err)
	}
	if !st.HasPending() || st.Services[0].Provisioned {
		t.Errorf("status = %+v", st)
	}
	if got := st.PlanLines(); len(got) != 5 || got[2] != "migrate orders 0 -> 2: migrations/orders/00001_init.sql, migrations/orders/00002_status_index.sql" {
		t.Errorf("plan lines = %q", got)
	}
}

func TestStatusWithoutDatabase(t *testing.T) {
	dir := copyShop(t)
	p := mustLoad(t, dir)
	srv := newServer(t)
	srv.Database = "no_such_database"
	st, err := Pending(context.Background(), p, srv)
	if err != nil {
		t.Fatal(err)
	}
	if st.DatabaseExists || len(st.Services) != 5 || len(st.Services[1].Pending) != 2 {
		t.Errorf("status = %+v", st)
	}
	if !strings.Contains(st.Human(), "does not exist yet") {
		t.Error(st.Human())
	}
	if _, err := Up(context.Background(), p, srv, Options{}); err == nil || !strings.Contains(err.Error(), "database no_such_database does not exist") {
		t.Errorf("up err = %v", err)
	}
}

func TestUsage(t *testing.T) {
	s := &shop{p: mustLoad(t, copyShop(t))}
	ctx := context.Background()
	for name, call := range map[string]func() error{
		"down all":      func() error { _, err := Down(ctx, s.p, nil, Options{}); return err },
		"down to 1 all": func() error { _, err := DownTo(ctx, s.p, nil, 1, Options{}); return err },
		"up to all":     func() error { _, err := UpTo(ctx, s.p, nil, 1, Options{}); return err },
		"redo all":      func() error { _, err := Redo(ctx, s.p, nil, Options{}); return err },
		"unknown":       func() error { _, err := Up(ctx, s.p, nil, Options{Service: "billing"}); return err },
	} {
		if err := call(); !errors.Is(err, ErrUsage) {
			t.Errorf("%s: err = %v, want ErrUsage", name, err)
		}
	}
}

func TestMigrationLock(t *testing.T) {
	s := newShop(t)
	ctx := context.Background()
	unlock, err := LockService(ctx, s.srv, s.p.Service("catalog"), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	o := s.opts("catalog")
	o.Log = slog.New(slog.NewTextHandler(logs, nil))
	done := make(chan error, 1)
	go func() {
		_, err := Up(ctx, s.p, s.srv, o)
		done <- err
	}()
	// Wait until the run says it waits (a condition, not a sleep).
	for !strings.Contains(logs.String(), "waiting for its lock") {
		select {
		case err := <-done:
			t.Fatalf("up did not wait for the lock: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if !strings.Contains(logs.String(), "holder=\"pid ") {
		t.Errorf("the wait does not name the holder:\n%s", logs.String())
	}
	unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if v := s.versions(t)["catalog"]; v != 1 {
		t.Errorf("catalog at %d", v)
	}

	// A holder that outlasts the bound: the run gives up, names it, and
	// changes nothing.
	unlock, err = LockService(ctx, s.srv, s.p.Service("customers"), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	// The bound comes from toolkit_lock_wait in splitschema.yaml here.
	s.p.Settings.ToolkitLockWait = 300 * time.Millisecond
	res, _ := Up(ctx, s.p, s.srv, s.opts("customers"))
	e := res.Service("customers").Error
	var locked *LockedError
	if e == nil || !errors.As(e.Err, &locked) || !strings.Contains(e.Error(), "pid ") || !strings.Contains(e.Error(), "nothing of customers was changed") {
		t.Fatalf("error = %v, want a LockedError naming the holder", e)
	}
	if v := s.versions(t)["customers"]; v != 0 {
		t.Errorf("customers migrated to %d without the lock", v)
	}
}

// TestLockHostage: an application role takes every advisory lock key it
// can see and tries the toolkit's lock table; a migration run neither
// waits for it nor fails.
func TestLockHostage(t *testing.T) {
	s := newShop(t)
	ctx := context.Background()
	busy, err := LockService(ctx, s.srv, s.p.Service("catalog"), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	appURL, err := secrets.URL(s.dir, "orders")
	if err != nil {
		t.Fatal(err)
	}
	app, err := pgx.Connect(ctx, appURL)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(ctx)
	busy()
	// The provisioning key, and every advisory lock held now.
	if _, err := app.Exec(ctx, `SELECT pg_advisory_lock($1)`, provision.LockKey); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Exec(ctx, `SELECT pg_advisory_lock((l.classid::bigint << 32) | l.objid::bigint) FROM pg_locks l WHERE l.locktype = 'advisory' AND l.pid <> pg_backend_pid()`); err != nil {
		t.Fatal(err)
	}
	tx, err := app.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tx.Exec(ctx, "SELECT 1 FROM splitschema.service FOR UPDATE")
	if !pgsql.IsCode(err, pgsql.InsufficientPrivilege) {
		t.Errorf("an app locking the toolkit's table: err = %v, want permission denied", err)
	}
	tx.Rollback(ctx)
	for _, mode := range []string{"ROW EXCLUSIVE", "SHARE UPDATE EXCLUSIVE", "SHARE ROW EXCLUSIVE", "ACCESS EXCLUSIVE"} {
		tx, err := app.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, "LOCK TABLE splitschema.service IN "+mode+" MODE"); !pgsql.IsCode(err, pgsql.InsufficientPrivilege) {
			t.Errorf("an app's LOCK TABLE splitschema.service IN %s MODE: err = %v, want permission denied", mode, err)
		}
		tx.Rollback(ctx)
	}
	// What the app may take (it reads the table through the guard's
	// functions) conflicts with neither lock: it holds it throughout.
	held, err := app.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Rollback(ctx)
	if _, err := held.Exec(ctx, "LOCK TABLE splitschema.service IN ACCESS SHARE MODE"); err != nil {
		t.Logf("the app may not even read the table: %v", err)
	}
	o := s.opts("")
	o.LockWait = time.Second
	if res, err := Up(ctx, s.p, s.srv, o); err != nil || !res.OK {
		t.Fatalf("up while an app holds advisory locks: %v", err)
	}
	if _, err := provision.ApplyWith(ctx, s.p, s.srv, nil, provision.Options{LockWait: time.Second}); err != nil {
		t.Fatalf("provision while an app holds the old provisioning key: %v", err)
	}
	// A toolkit run holding the lock: provisioning gives up after its
	// bound, names the holder, and changes nothing.
	unlock, err := LockService(ctx, s.srv, s.p.Service("orders"), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	s.p.Settings.ToolkitLockWait = 300 * time.Millisecond // toolkit_lock_wait
	_, err = provision.Apply(ctx, s.p, s.srv, nil)
	if err == nil || !strings.Contains(err.Error(), "provisioning lock") || !strings.Contains(err.Error(), `application "splitschema migration lock"`) {
		t.Errorf("provision while a migration run holds the lock: err = %v, want a bounded wait naming the holder", err)
	}
}

// TestGuardStopsCascade: a service's migration that would drop another
// service's foreign key through CASCADE is stopped by the guard, and the
// error says it breaks the other service.
func TestGuardStopsCascade(t *testing.T) {
	s := newShop(t)
	s.up(t)
	mustWrite(t, s.dir, "migrations/customers/00003_drop_id.sql", `-- +goose Up
ALTER TABLE customers.customer DROP COLUMN id CASCADE;

-- +goose Down
SELECT 1;
`)
	res, err := Up(context.Background(), s.p, s.srv, s.opts("customers"))
	if err == nil {
		t.Fatal("the cascade went through")
	}
	e := res.Service("customers").Error
	t.Logf("the error:\n%s", e)
	if e.Code != "42501" || !strings.Contains(e.Message, "splitschema guard") || !strings.Contains(e.Hint, "it breaks orders") || !strings.Contains(e.Hint, "schemas/orders.yaml") {
		t.Errorf("error = %+v", e)
	}
	conn := mustConnect(t, s.srv)
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND confrelid = 'customers.customer'::regclass").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("%d foreign keys on customers.customer left, want orders' and shipping's", n)
	}
}

// TestLockWaitLetsQueriesThrough: a migration that waits for a lock held by
// a long reader (a backup, say) tries in short attempts, so the queries
// arriving meanwhile do not queue behind its ALTER TABLE for the whole
// lock_timeout. Other sessions read the table with a lock_timeout of 1s
// while the migration waits (20s): with one long wait they would all time
// out. Once the reader ends, the migration goes through.
func TestLockWaitLetsQueriesThrough(t *testing.T) {
	s := newShop(t, "lock_timeout: 20s")
	s.up(t)
	ctx := context.Background()
	// A long-running reader: ACCESS SHARE, which ALTER TABLE must wait for.
	tx := holdCustomersAndAlterThem(t, s)
	defer tx.Rollback(ctx)
	s.reload(t)
	done := make(chan error, 1)
	go func() {
		_, err := Up(ctx, s.p, s.srv, s.opts("customers"))
		done <- err
	}()
	watcher := mustConnect(t, s.srv)
	// Wait until the migration's ALTER TABLE waits for the lock.
	for waiting := false; !waiting; {
		if err := watcher.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_stat_activity
			WHERE application_name = 'splitschema migrate customers' AND wait_event_type = 'Lock')`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			t.Fatalf("the migration ended while the table was held: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	reader := mustConnect(t, s.srv)
	mustExec(t, reader, "SET lock_timeout = '1s'")
	for i := range 5 {
		var n int
		if err := reader.QueryRow(ctx, "SELECT count(*) FROM customers.customer").Scan(&n); err != nil {
			t.Fatalf("read %d while the migration waits: %v (queued behind its ALTER TABLE)", i, err)
		}
		time.Sleep(100 * time.Millisecond) // spread the reads over several attempts
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the migration failed once the reader was gone: %v", err)
	}
	if v := s.versions(t)["customers"]; v != 3 {
		t.Errorf("customers at %d, want 3", v)
	}
}

// holdCustomersAndAlterThem opens a transaction that has read
// customers.customer (ACCESS SHARE, which ALTER TABLE must wait for) and
// adds a migration of customers that alters that table. The caller rolls
// the transaction back to let the migration through.
func holdCustomersAndAlterThem(t *testing.T, s *shop) pgx.Tx {
	t.Helper()
	ctx := context.Background()
	tx, err := mustConnect(t, s.srv).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT count(*) FROM customers.customer"); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, s.dir, "migrations/customers/00003_loyalty.sql", `-- +goose Up
ALTER TABLE customers.customer ADD COLUMN loyalty integer;

-- +goose Down
ALTER TABLE customers.customer DROP COLUMN loyalty;
`)
	return tx
}
