#!/usr/bin/env bash
# Installs Debian's PostgreSQL (server, pg_dump, pg_restore, psql) when no
# server binaries are found. splitschema starts its own cluster from them;
# the package's default cluster is not created, so nothing listens on 5432.
set -euo pipefail

have_server() {
	command -v initdb >/dev/null 2>&1 && return 0
	if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then return 0; fi
	compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}

if have_server; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "PostgreSQL server binaries not found; install them with: sudo apt-get install postgresql" >&2
	exit 1
fi
echo "installing Debian's postgresql (server binaries not found)" >&2
mkdir -p /etc/postgresql-common
if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
	echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends postgresql postgresql-client >/dev/null
have_server || { echo "postgresql installed but initdb still not found" >&2; exit 1; }
