#!/usr/bin/env bash
# Builds the SeaweedFS server (`weed`), the S3-compatible object store the
# backup repository tests run against (internal/s3test), once per version,
# into a cache outside the repository, then prints the binary's path.
#
# Usage: scripts/ensure-seaweedfs.sh
#
# `go install` refuses SeaweedFS (its go.mod has replace directives), so the
# module is downloaded with `go mod download`, its read-only folder copied,
# and `go build -o weed ./weed` run inside the copy (about 3 minutes on 2
# cores, a binary of about 230 MB).
#
# Idempotent: a binary already in place that answers `weed version` is not
# built again. It is built in a temporary folder and only then renamed into
# place, so an interrupted run leaves nothing half-made behind.
#
# The cache is SPLITSCHEMA_SEAWEEDFS_CACHE, else /var/cache/splitschema/seaweedfs
# when run as root, else ${XDG_CACHE_HOME:-~/.cache}/splitschema/seaweedfs
# (the same layout as scripts/fetch-postgres.sh). SEAWEEDFS_VERSION picks
# another module version.
set -euo pipefail

MODULE=github.com/seaweedfs/seaweedfs
SEAWEEDFS_VERSION=${SEAWEEDFS_VERSION:-v0.0.0-20261109003541-7506e5f91cd6}
GO=${GO:-$(command -v go 2>/dev/null || echo /usr/local/go/bin/go)}

die() {
	echo "ensure-seaweedfs: $*" >&2
	exit 1
}

if [ -n "${SPLITSCHEMA_SEAWEEDFS_CACHE:-}" ]; then
	cache=$SPLITSCHEMA_SEAWEEDFS_CACHE
elif [ "$(id -u)" -eq 0 ]; then
	cache=/var/cache/splitschema/seaweedfs
else
	cache=${XDG_CACHE_HOME:-$HOME/.cache}/splitschema/seaweedfs
fi
mkdir -p "$cache"
cache=$(cd "$cache" && pwd -P)

case "$SEAWEEDFS_VERSION" in
*/* | *..* | "") die "SEAWEEDFS_VERSION=$SEAWEEDFS_VERSION is not a module version" ;;
esac
dir=$cache/$SEAWEEDFS_VERSION
bin=$dir/weed

check() {
	"$1" version >/dev/null 2>&1
}

if [ -x "$bin" ]; then
	if check "$bin"; then
		echo "$bin"
		exit 0
	fi
	echo "ensure-seaweedfs: $bin does not run; building it again" >&2
	rm -rf "$dir"
fi

[ -x "$GO" ] || die "go not found (set GO=/path/to/go)"
src=$("$GO" mod download -json "$MODULE@$SEAWEEDFS_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
[ -n "$src" ] && [ -d "$src" ] || die "go mod download $MODULE@$SEAWEEDFS_VERSION gave no folder; check GOPROXY and the network"

tmp=$(mktemp -d "$cache/.build-$SEAWEEDFS_VERSION.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "ensure-seaweedfs: building $MODULE@$SEAWEEDFS_VERSION into $dir (about 3 minutes, once)" >&2
cp -R "$src" "$tmp/src"
chmod -R u+w "$tmp/src"
mkdir "$tmp/out"
(cd "$tmp/src" && nice -n 10 "$GO" build -o "$tmp/out/weed" ./weed) ||
	die "go build ./weed of $MODULE@$SEAWEEDFS_VERSION failed (its output is above)"
check "$tmp/out/weed" || die "the weed built from $MODULE@$SEAWEEDFS_VERSION does not run"
chmod 755 "$tmp/out"
# Another run may have won the race: keep the first one in place.
if ! mv -T "$tmp/out" "$dir" 2>/dev/null; then
	check "$bin" || die "could not put the weed binary in place at $dir"
fi
rm -rf "$tmp"
trap - EXIT
echo "$bin"
