#!/usr/bin/env bash
# Runs a command inside a throw-away PostgreSQL server (pg_virtualenv, from postgresql-common),
# which sets PGHOST, PGPORT, PGUSER, PGPASSWORD and PGDATABASE for it and drops the server after.
# The ctests that need PostgreSQL go through here; without the server they fail and say what to
# install, rather than pass having tested nothing.
# Usage: pg_env.sh COMMAND [ARG...]
set -euo pipefail
if ! command -v pg_virtualenv >/dev/null 2>&1; then
  echo "FAIL: pg_virtualenv is missing: install the Debian packages postgresql and postgresql-common (scripts/setup.sh installs them)" >&2
  exit 1
fi
if ! compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null; then
  echo "FAIL: no PostgreSQL server (/usr/lib/postgresql/*/bin/postgres): install the Debian package postgresql (scripts/setup.sh installs it)" >&2
  exit 1
fi
# -t: the cluster lives in a temporary folder also when run as root (CI), instead of the
# system-wide /etc/postgresql/VERSION/regress that two runs at once would both want.
exec pg_virtualenv -t "$@"
