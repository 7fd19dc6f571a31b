#!/usr/bin/env bash
# Inside pg_virtualenv (tests/postgres/pg_env.sh): the Python tests that need PostgreSQL.
# Usage: pg_env.sh run_pytest.sh PYTHON TEST_FILE...
set -euo pipefail
: "${PGHOST:?runs inside pg_virtualenv: tests/postgres/pg_env.sh run_pytest.sh ...}"
export ESCALON_TEST_PG="postgresql://${PGUSER}@${PGHOST}:${PGPORT}/${PGDATABASE}"
python=$1
shift
exec "$python" -m pytest -q -p no:cacheprovider "$@"
