#!/usr/bin/env bash
# The unit tests that run against PostgreSQL, inside pg_virtualenv (pg_env.sh): they find the
# server in ESCALON_TEST_PG (tests/unit/store_locations.hpp).
# Usage: pg_env.sh run.sh PATH/TO/escalon_tests
set -euo pipefail
tests=$1
# The Catch2 tags whose tests take ESCALON_TEST_PG; add a tag here to run more of them.
tags=(
  "[store-contract]"
  "[shared]"
  "[sql]"
  "[erasure]"
  "[verify]"
)
: "${PGHOST:?run.sh runs inside pg_virtualenv: tests/postgres/pg_env.sh run.sh ...}"
# libpq takes the password from PGPASSWORD, so it stays out of the URI and of messages.
export ESCALON_TEST_PG="postgresql://${PGUSER}@${PGHOST}:${PGPORT}/${PGDATABASE}"
echo "ESCALON_TEST_PG=$ESCALON_TEST_PG"
spec=$(IFS=,; echo "${tags[*]}")
exec "$tests" "$spec"
