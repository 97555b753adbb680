// Package migrate runs each service's goose SQL migrations (migrations/<service>/)
// through one goose Provider per service, in the services' dependency order.
//
// Every migration runs as the service's owner role with search_path set to
// the service's schema and lock_timeout from splitschema.yaml: the
// Provider's *sql.DB holds one connection whose startup parameters set
// role, search_path and lock_timeout, so the settings hold in and out of
// transactions (goose runs `-- +goose NO TRANSACTION` migrations outside
// one). A migration that touches another service's schema therefore fails
// with PostgreSQL's permission denied, reported with the service, the
// file, the line and the statement.
//
// Each service's version table is <schema>.goose_db_version, inside the
// service's own schema, so every snapshot of the database carries every
// service's migration state. A run holds the migration lock (LockService),
// a lock on the toolkit's table no service role can take, so two runs never
// migrate at the same time.
//
// Migrations log in as the service's migrator role, a member of its owner
// role only, with a password set for the run, and run as the owner: what a
// migration does to its session (RESET ROLE, SET ROLE NONE, set_config)
// lands on the owner or the migrator, and Postgres refuses the rest
// (testdata/hostile). sqlscan.SetsRole is left to lint, as a hint.
package migrate
