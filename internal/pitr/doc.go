// Package pitr gives the project point-in-time recovery with pgBackRest as
// the engine: splitschema configures it (a stanza, a repository folder,
// archive_mode and archive_command), runs its backups and restores as the
// server's OS user, names restore points at every apply, migration and
// logical backup, and starts and verifies every restored cluster with the
// same checks as a logical restore. It writes no backup or WAL format of its
// own.
//
// pgBackRest's files live in a folder owned by the server user beside the
// embedded cluster's data (<cluster home>/pitr):
//
//	pgbackrest.conf  the stanza's configuration, rewritten by every command
//	lock/ log/ spool/ pgBackRest's lock, log and spool paths
//	pgpass           the admin password, mode 0600, for pgBackRest's logins
//	repo/            the repository, unless splitschema.yaml sets pitr.repo
//
// Restore points are listed in <project>/.splitschema/pitr-points.jsonl.
package pitr
