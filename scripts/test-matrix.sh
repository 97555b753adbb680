#!/usr/bin/env bash
# Runs the tests of what depends on the server's major version against each
# given PostgreSQL major (default: 15 16 17 18): provisioning (roles,
# memberships, grants), the guard and the isolation tests, migrations, the
# apply pipeline, audit, lint and the commands that drive them; verify (it
# checks restored backups) where the server's folder has a pg_dump.
#
#   scripts/test-matrix.sh [MAJOR...]
#
# A major with server binaries installed here (Debian's 15) runs with those;
# 16 and newer run with the ones scripts/fetch-postgres.sh unpacks, named
# to the tests in SPLITSCHEMA_SERVER_BINDIR. Those packages hold no pg_dump
# or pg_restore and only 15's are installable here, so on 16+ the tests that
# dump and restore are skipped (pgtest.ServerInfo.ClientProgram says so, and
# every skip is listed below), and backup is run only to show that it
# refuses the older pg_dump.
#
# GO picks the go binary; each major's full test log goes to
# ${TMPDIR:-/tmp}/splitschema-matrix-<major>.log.
set -uo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}

# The packages whose behaviour depends on the server.
PKGS=(./internal/provision/... ./internal/migrate/... ./internal/pipeline ./internal/audit ./internal/lint
	./internal/catalog ./internal/localpg ./internal/pgtest ./internal/target ./cli)
# verify's tests check restored backups: they need a pg_dump of the server's
# version, so they run only where there is one.
VERIFY=./internal/verify
# Tests of ./cli that need a pg_dump of the server's version: skipped when
# the server's folder has none. Of ./internal/backup (make test runs it all
# on 15) only the refusal of an older pg_dump runs.
CLI_DUMPS='TestBackupRestoreCommands|TestBackupToObjectStore|TestDemo|TestPitrCommands|TestRealshopEndToEnd'
BACKUP_REFUSAL='TestPgDumpOlderThanServer'

majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=(15 16 17 18)

# installed_major prints the major of the server binaries found without
# SPLITSCHEMA_SERVER_BINDIR (Debian's), or nothing.
installed_major() {
	local d
	for d in /usr/lib/postgresql/*/bin; do
		[ -x "$d/postgres" ] && "$d/postgres" --version
	done 2>/dev/null | sed -n 's/.*(PostgreSQL) \([0-9]*\).*/\1/p' | sort -n | tail -n 1
}

# summary LOG: every failed or skipped test with its message.
summary() {
	awk '/^ *--- (FAIL|SKIP)/ { show = 1; print; next }
	     show && /^    / { print; next }
	     { show = 0 }
	     /^(FAIL|ok|panic:)/ { print }' "$1"
}

local_major=$(installed_major)
failed=()
for m in "${majors[@]}"; do
	log=${TMPDIR:-/tmp}/splitschema-matrix-$m.log
	if [ "$m" = "$local_major" ]; then
		bindir=/usr/lib/postgresql/$m/bin
	else
		line=$(scripts/fetch-postgres.sh "$m") || {
			failed+=("$m (fetch)")
			continue
		}
		bindir=${line#* }
	fi
	version=$("$bindir/postgres" --version)
	echo "== $version ($bindir)"
	export SPLITSCHEMA_SERVER_BINDIR=$bindir
	dumps=$([ -x "$bindir/pg_dump" ] && echo yes || echo no)
	if [ "$dumps" = no ]; then
		echo "-- not run: no pg_dump $m here for ${CLI_DUMPS//|/, } (./cli), $VERIFY, and ./internal/backup but $BACKUP_REFUSAL"
	fi
	(
		status=0
		skip=()
		pkgs=("${PKGS[@]}" "$VERIFY")
		if [ "$dumps" = no ]; then
			skip=(-skip "$CLI_DUMPS")
			pkgs=("${PKGS[@]}")
		fi
		"$GO" test -count=1 -v -timeout 20m "${skip[@]}" "${pkgs[@]}" || status=1
		"$GO" test -count=1 -v -timeout 10m -run "$BACKUP_REFUSAL" ./internal/backup || status=1
		exit $status
	) >"$log" 2>&1
	status=$?
	summary "$log"
	if [ $status -ne 0 ]; then
		failed+=("$m")
		echo "== PostgreSQL $m: FAIL (full log: $log)"
	else
		echo "== PostgreSQL $m: ok"
	fi
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "test-matrix: failed on PostgreSQL ${failed[*]}" >&2
	exit 1
fi
echo "test-matrix: passed on PostgreSQL ${majors[*]}"
