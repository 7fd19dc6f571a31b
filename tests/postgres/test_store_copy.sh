#!/usr/bin/env bash
# `escalon store copy` SQLite -> PostgreSQL -> SQLite, inside pg_virtualenv (pg_env.sh): a store
# made by running scenarios gives the same `escalon report --json` in all three, and the copy
# refuses a target that is not empty.
# Usage: pg_env.sh test_store_copy.sh PATH/TO/escalon SOURCE_DIR
set -euo pipefail
bin=$1
src=$2
: "${PGHOST:?run inside pg_virtualenv: tests/postgres/pg_env.sh test_store_copy.sh ...}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$src"
pg="postgresql://${PGUSER}@${PGHOST}:${PGPORT}/${PGDATABASE}?schema=copy_test"

# Three simulated days (generated case ids: counters) and two scenarios into one file: closed and
# open cases, escalations, flow versions.
"$bin" simulate flows/ --model examples/models/technician-visit.yaml --days 3 --db "$tmp/a.db" >/dev/null 2>&1
"$bin" run flows/ --scenario examples/scenarios/technician-visit.yaml --db "$tmp/a.db" >/dev/null 2>&1
"$bin" run flows/ --scenario examples/scenarios/warranty-repair.yaml --db "$tmp/a.db" >/dev/null 2>&1
"$bin" store copy "$tmp/a.db" "$pg"
"$bin" store copy "$pg" "$tmp/b.db"

"$bin" report --db "$tmp/a.db" --json >"$tmp/a.json"
"$bin" report --db "$pg" --json >"$tmp/pg.json"
"$bin" report --db "$tmp/b.db" --json >"$tmp/b.json"
grep -q '"opened"' "$tmp/a.json" || { echo "FAIL: the report has no cases"; cat "$tmp/a.json"; exit 1; }
diff -u "$tmp/a.json" "$tmp/pg.json" || { echo "FAIL: report of the PostgreSQL copy differs"; exit 1; }
diff -u "$tmp/a.json" "$tmp/b.json" || { echo "FAIL: report of the copy back into SQLite differs"; exit 1; }
# What the reports do not show: the stores' open cases and their counters.
"$bin" inspect --db "$tmp/a.db" >"$tmp/a.inspect"
"$bin" inspect --db "$tmp/b.db" >"$tmp/b.inspect"
diff <(sed "s#$tmp/a.db##" "$tmp/a.inspect") <(sed "s#$tmp/b.db##" "$tmp/b.inspect") || { echo "FAIL: open cases differ"; exit 1; }
for db in a b; do sqlite3 "$tmp/$db.db" "SELECT key, value FROM meta ORDER BY key" >"$tmp/$db.meta"; done
diff "$tmp/a.meta" "$tmp/b.meta" || { echo "FAIL: counters differ"; exit 1; }
[ -s "$tmp/a.meta" ] || { echo "FAIL: the scenario stored no counters"; exit 1; }

# A target that is not empty is refused, and left as it was.
if out=$("$bin" store copy "$tmp/a.db" "$pg" 2>&1); then echo "FAIL: copy into a non-empty store succeeded"; exit 1; fi
[[ "$out" == *"is not empty"* ]] || { echo "FAIL: wrong message: $out"; exit 1; }
"$bin" report --db "$pg" --json | diff -q - "$tmp/a.json" >/dev/null || { echo "FAIL: refused copy changed the target"; exit 1; }
echo "store copy: SQLite -> PostgreSQL -> SQLite, reports identical"
