#!/usr/bin/env bash
# Inside pg_virtualenv (tests/postgres/pg_env.sh): 4 engine processes, 2,000 cases, SIGKILLs.
# Usage: pg_env.sh test_sigkill.sh PYTHON DRIVER CHECK
set -euo pipefail
: "${PGHOST:?runs inside pg_virtualenv: tests/postgres/pg_env.sh test_sigkill.sh ...}"
here=$(cd "$(dirname "$0")" && pwd)
exec "$1" "$here/run_sigkill.py" "$2" "$3" "$here/ladder.yaml" \
  "postgresql://${PGUSER}@${PGHOST}:${PGPORT}/${PGDATABASE}" --procs 4 --cases 2000 --kills 6 --seconds 40
