// Package localpg runs the embedded default PostgreSQL cluster: the local
// server splitschema starts by itself, from the installed PostgreSQL binaries,
// when the user gives no database URL.
//
// State lives in <project>/.splitschema/local/:
//
//	state.json   the TCP port (picked at first start, kept while it stays free)
//	password     the admin password, mode 0600, never passed on a command line
//	pgpass       a libpq password file for psql and pg_dump (see ClientEnv)
//	lock         flock(2) target that serialises Start, Stop and Destroy
//	data/        the data directory (owner only, 0700)
//	run/         the unix socket directory
//	server.log   the server's log
//
// The server listens on 127.0.0.1 and on a unix socket (in run/, or in
// $TMPDIR/splitschema-<uid>-<hash> when that path would be too long for a
// socket); every login, local or TCP, uses scram-sha-256 as the superuser
// "postgres". Nothing is ever passed to a program as a password argument:
// initdb reads a temporary 0600 file, clients get PGPASSFILE (ClientEnv).
//
// initdb, pg_ctl and postgres refuse to run as root. When the process runs as
// root, they run as an unprivileged system user instead (the Debian package's
// "postgres" user, else a "splitschema" system user created on first use), and
// data/, run/ and server.log move to /var/lib/splitschema/<hash of the project
// path>, owned by that user, because the project may sit under a 0700 folder
// such as /root that the user cannot traverse. The link
// .splitschema/local/server points there; the password and state files stay in
// the project, readable by root only.
package localpg
