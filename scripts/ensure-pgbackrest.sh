#!/usr/bin/env bash
# Installs Debian's pgBackRest, the engine of point-in-time recovery
# (`splitschema pitr`), when it is missing. Its tests run in CI and need it.
set -euo pipefail

if command -v pgbackrest >/dev/null 2>&1; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "pgbackrest not found; install it with: sudo apt-get install pgbackrest (the point-in-time recovery tests skip without it, except in CI)" >&2
	exit 0
fi
echo "installing Debian's pgbackrest (not found)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends pgbackrest >/dev/null
command -v pgbackrest >/dev/null 2>&1 || { echo "pgbackrest installed but still not found" >&2; exit 1; }
