#!/usr/bin/env bash
# Figures of shared stores (bench/README.md, "Shared store (PostgreSQL)"): shared_bench with 1, 2
# and 4 engine processes on PostgreSQL, with and without sync=off, inside one throw-away cluster
# (tests/postgres/pg_env.sh), and the single-process runs on SQLite beside them.
#
# Usage: bench/run_shared.sh [RUNS] [LABEL=BINARY...]
#   RUNS (default 1) runs of every line. Several binaries (a build before a change and one
#   after) take turns line by line, so that a compile beside the benchmark hurts both alike.
#   Default binary: build-release/bench/shared_bench.
# Each run gets a new schema (or SQLite file): no run finds another's cases.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [[ -z "${PGHOST:-}" ]]; then
  exec "$root/tests/postgres/pg_env.sh" "$root/bench/run_shared.sh" "$@"
fi
runs=${1:-1}
shift || true
bins=("$@")
[[ ${#bins[@]} -gt 0 ]] || bins=("new=$root/build-release/bench/shared_bench")
PG="postgresql://${PGUSER}@${PGHOST}:${PGPORT}/${PGDATABASE}"
tmp=$(mktemp -d /tmp/escalon-shared-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
n=0

# line MODE PROCS COUNT KIND: every binary RUNS times, alternating; KIND picks the store.
line() {
  local mode=$1 procs=$2 count=$3 kind=$4 run spec label bin db
  for ((run = 1; run <= runs; run++)); do
    for spec in "${bins[@]}"; do
      label=${spec%%=*} bin=${spec#*=} n=$((n + 1))
      case $kind in
        pg) db="$PG?schema=${mode:0:2}$n" ;;
        pg-off) db="$PG?schema=${mode:0:2}$n&sync=off" ;;
        sqlite) db="sqlite:$tmp/x$n.db" ;;
        sqlite-normal) db="sqlite:$tmp/x$n.db?sync=normal" ;;
      esac
      printf '%-5s %-14s ' "$label" "$kind"
      "$bin" "$mode" "$db" "$procs" "$count"
    done
  done
}

for kind in pg pg-off; do
  for procs in 1 2 4; do
    line events "$procs" 8000 "$kind"
    line timers "$procs" 16000 "$kind"
  done
done
for kind in sqlite sqlite-normal; do
  line events 1 8000 "$kind"
  line timers 1 16000 "$kind"
done
