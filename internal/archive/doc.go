// Package archive is the on-disk form of a splitschema backup: the folder
// layout, manifest.json, the saved roles, backup ids and the SHA-256 of every
// file. It knows no database and runs no program.
//
// A complete backup is a folder <backups>/<id>/ (mode 0700) holding, each
// file mode 0600:
//
//	manifest.json   written last: what was saved, and every other file's size and SHA-256
//	roles.json      the service roles, their memberships and settings, the database's grants
//	roles.sql       the same as a psql script, for people
//	dump/           pg_dump's directory-format archive (toc.dat and one file per table)
//
// A backup being written lives in <backups>/<id>.partial/ and is renamed
// into place only once manifest.json is on disk, so a folder without the
// .partial suffix and with a readable manifest is a complete backup. A
// failed backup leaves its .partial folder with a FAILED note saying why.
// <backups>/.locks/<id> are the flock(2) files that keep prune away from
// backups being written or read.
package archive
