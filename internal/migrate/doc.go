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
// service's migration state; each service has its own session advisory
// lock (LockID), so two runs never migrate one service at the same time.
//
// Migrations may not change their role (SET ROLE, SET SESSION
// AUTHORIZATION): the admin connection could otherwise leave the owner
// role. The check is a scan of the statements (see sqlscan.SetsRole), so it
// is a safety net against mistakes, not a sandbox for hostile SQL.
package migrate
