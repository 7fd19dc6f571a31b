#!/usr/bin/env bash
# Crash test: kills crash_driver with SIGKILL at random points, ROUNDS times, and after each kill
# checks the SQLite store with crash_check: every acknowledged send is stored, record numbers
# are contiguous, no escalation level fired twice, every open case's snapshot matches its
# journal; finally a recovery far in the future must fire every level still due, once.
# Then `escalon inspect` must list the open cases and print a timeline from the same file.
# Usage: test_crash.sh DRIVER CHECK FLOWS_DIR ROUNDS ESCALON [group]
#   group: the driver calls the engine from three threads with group commit on.
# ESCALON_CRASH_SLOWDOWN=N (default 1) waits N times longer before each kill, for slow builds
# (the sanitizer build starts about 7x slower and would otherwise always die while loading).
set -euo pipefail
driver=$1
check=$2
flows=$3
rounds=${4:-25}
escalon=${5:-}
mode=${6:-}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
db="$dir/cases.db"
RANDOM=20261123
for round in $(seq 1 "$rounds"); do
  "$driver" "$db" "$flows" "$round" $mode 2>"$dir/driver.err" &
  pid=$!
  ms=$(( (RANDOM % 40 + 5) * 10 * ${ESCALON_CRASH_SLOWDOWN:-1} ))
  sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
  kill -9 "$pid" 2>/dev/null || { echo "round $round: the driver ended by itself:"; cat "$dir/driver.err"; exit 1; }
  wait "$pid" 2>/dev/null || true
  if [ ! -e "$db" ]; then  # killed before it created the store: nothing can be acknowledged yet
    [ ! -s "$db.acks" ] || { echo "round $round: acknowledged sends but no store"; exit 1; }
    continue
  fi
  "$check" "$db" "$flows" quick || { echo "round $round: check failed"; exit 1; }
done
"$check" "$db" "$flows" final
if [ -n "$escalon" ]; then
  list=$("$escalon" inspect --db "$db")
  first=$(echo "$list" | sed -n 2p | awk '{print $1}')
  [[ "$list" == *" open cases in $db"* ]] || { echo "inspect: unexpected list: $(echo "$list" | head -3)"; exit 1; }
  timeline=$("$escalon" inspect --db "sqlite:$db" "$first")
  [[ "$timeline" == "$first ("*" records)"* && "$timeline" == *"started (version 1)"* ]] || { echo "inspect: bad timeline"; exit 1; }
  "$escalon" inspect --db "$db" no-such-case 2>/dev/null && { echo "inspect: unknown case accepted"; exit 1; }
  echo "not sqlite" > "$dir/text.db"
  out=$("$escalon" inspect --db "$dir/text.db" 2>&1 || true)
  [[ "$out" == *"is not an SQLite file"* ]] || { echo "inspect: bad file accepted: $out"; exit 1; }
fi
echo "$rounds passed, 0 failed"
